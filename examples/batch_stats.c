/*
 * batch_stats: count, mean, standard deviation, min and max of every data
 * file in a directory (one number per line), one task per file.
 *
 *   batch_stats [OPTIONS] DIR   every file in DIR whose name does not start with '.'
 *   batch_stats [OPTIONS]       demo: 200 generated files
 *   --inject-error              demo only: make two of the files malformed
 *   --keep-going                process every file; report every bad one
 *
 * By default the first bad file stops the run. The group is in lowest-index
 * mode, so the file reported is the first bad one in input (name) order,
 * whatever the thread count and schedule. With --keep-going every file is
 * read, every bad one is reported (sorted), and the good ones are summarized.
 *
 * Exit status: 0 all files summarized, 1 a file failed, 2 usage or setup error.
 */
#define _POSIX_C_SOURCE 200809L
#include <errgroup.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { DEMO_FILES = 200, DEMO_LINES = 2000 };
/* --inject-error: (file, line) pairs made malformed. */
static const int bad[2][2] = {{137, 1234}, {61, 17}};

struct stats { long count; double mean, m2, min, max; };
struct job { struct stats *out; int index; char path[]; }; /* one per task */

static int summarize(errgroup *g, void *arg)
{
    struct job *job = arg;
    FILE *f = fopen(job->path, "r");
    if (f == NULL)
        return errgroup_fail(g, errno, job->index, "%s: cannot open", job->path);
    struct stats s = {0, 0.0, 0.0, INFINITY, -INFINITY};
    char *line = NULL, *end;
    size_t cap = 0;
    int rc = 0;
    for (int lineno = 1; getline(&line, &cap, f) != -1; lineno++) {
        if (errgroup_canceled_at(g, job->index)) { /* an earlier file failed: stop */
            rc = ERRGROUP_ECANCELED;
            break;
        }
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0')
            continue;
        double x = strtod(line, &end);
        if (end == line || end[strspn(end, " \t")] != '\0' || !isfinite(x)) {
            rc = errgroup_fail(g, EINVAL, job->index, "%s:%d: cannot parse '%.40s'",
                               job->path, lineno, line);
            break;
        }
        s.count++; /* Welford's update: stable for long files */
        double delta = x - s.mean;
        s.mean += delta / (double)s.count;
        s.m2 += delta * (x - s.mean);
        s.min = x < s.min ? x : s.min;
        s.max = x > s.max ? x : s.max;
    }
    if (rc == 0 && ferror(f))
        rc = errgroup_fail(g, EIO, job->index, "%s: read error", job->path);
    if (rc == 0 && s.count == 0)
        rc = errgroup_fail(g, EINVAL, job->index, "%s: no values", job->path);
    free(line);
    if (fclose(f) != 0 && rc == 0)
        rc = errgroup_fail(g, errno, job->index, "%s: cannot close", job->path);
    if (rc == 0)
        *job->out = s;
    return rc;
}

/* One go per file from this thread, then wait. Runs on one thread of a team. */
static int submit_all(errgroup *g, const char *dir, struct dirent **names, int n,
                      struct stats *stats)
{
    for (int i = 0; i < n; i++) {
        struct job *job = malloc(sizeof *job + strlen(dir) + strlen(names[i]->d_name) + 2);
        if (job == NULL) {
            (void)errgroup_fail(g, ENOMEM, i, "out of memory");
            break;
        }
        job->out = &stats[i];
        job->index = i;
        sprintf(job->path, "%s/%s", dir, names[i]->d_name);
        int rc = errgroup_go(g, summarize, job);
        if (rc != 0) { /* not accepted: the job is still ours */
            free(job);
            if (rc != ERRGROUP_ECANCELED) /* ECANCELED: a file failed already */
                (void)errgroup_fail(g, rc, i, "cannot start a task");
            break;
        }
    }
    return errgroup_wait(g);
}

static int run(const char *dir, struct dirent **names, int n, int keep_going)
{
    struct stats *stats = calloc((size_t)n + 1, sizeof *stats);
    errgroup_error *bad_files = calloc((size_t)n + 1, sizeof *bad_files);
    errgroup g;
    int rc = stats == NULL || bad_files == NULL ? ERRGROUP_ENOMEM : errgroup_init(&g);
    if (rc == 0 && ((rc = errgroup_set_release(&g, free)) != 0 || /* frees every job */
                    (rc = errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX)) != 0 ||
                    (rc = errgroup_set_keep_going(&g, keep_going)) != 0 ||
                    (rc = errgroup_set_error_log(&g, keep_going ? n : 0)) != 0))
        (void)errgroup_destroy(&g);
    if (rc != 0) {
        fprintf(stderr, "batch_stats: %s\n", errgroup_strerror(rc));
        free(stats);
        free(bad_files);
        return 2;
    }
    errgroup_progress progress;
    int monitored = errgroup_progress_start(&progress, &g, stderr, n, 0) == 0;
#pragma omp parallel
#pragma omp single
    rc = submit_all(&g, dir, names, n, stats);
    if (monitored)
        (void)errgroup_progress_stop(&progress); /* only fails if never started */
    errgroup_error e;
    int nbad = keep_going ? errgroup_get_errors(&g, bad_files, n) : 0;
    for (int i = 0; i < nbad; i++)
        fprintf(stderr, "batch_stats: %s (%s)\n", bad_files[i].message,
                errgroup_strerror(bad_files[i].code));
    if (!keep_going && rc != 0 && errgroup_first_error(&g, &e) == 0)
        fprintf(stderr, "batch_stats: %s (%s)\n", e.message, errgroup_strerror(e.code));
    if (rc == 0 || keep_going) {
        printf("%-20s %6s %10s %10s %10s %10s\n", "file", "count", "mean", "stddev", "min", "max");
        int good = 0;
        for (int i = 0; i < n; i++) {
            const struct stats *s = &stats[i];
            if (s->count == 0)
                continue; /* failed */
            good++;
            printf("%-20s %6ld %10.4f %10.4f %10.4f %10.4f\n", names[i]->d_name, s->count, s->mean,
                   s->count > 1 ? sqrt(s->m2 / (double)(s->count - 1)) : 0.0, s->min, s->max);
        }
        printf("%d/%d files summarized, %d failed\n", good, n, n - good);
    }
    free(stats);
    free(bad_files);
    if (errgroup_destroy(&g) != 0)
        return 2;
    return rc == 0 ? 0 : 1;
}

/* The demo data set: DEMO_FILES files of DEMO_LINES values, maybe the two bad lines. */
static int generate(const char *dir, int with_bad_line)
{
    unsigned long long seed = 42;
    char path[4096];
    for (int i = 0; i < DEMO_FILES; i++) {
        snprintf(path, sizeof path, "%s/sample-%03d.dat", dir, i);
        FILE *f = fopen(path, "w");
        if (f == NULL)
            return -1;
        for (int k = 1; k <= DEMO_LINES; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            if (with_bad_line && ((i == bad[0][0] && k == bad[0][1]) ||
                                  (i == bad[1][0] && k == bad[1][1])))
                fputs("n/a\n", f);
            else
                fprintf(f, "%.6f\n", 20.0 + i / 10.0 + (double)(seed >> 11) / 9007199254740992.0);
        }
        int bad = ferror(f);
        if (fclose(f) != 0 || bad)
            return -1;
    }
    return 0;
}

static int visible(const struct dirent *d) { return d->d_name[0] != '.'; }

int main(int argc, char **argv)
{
    char demo[] = "/tmp/batch_stats.XXXXXX", path[4096];
    int inject = 0, keep_going = 0, a = 1;
    for (; a < argc && argv[a][0] == '-'; a++) {
        if (strcmp(argv[a], "--inject-error") == 0)
            inject = 1;
        else if (strcmp(argv[a], "--keep-going") == 0)
            keep_going = 1;
        else
            break;
    }
    if (a < argc - 1 || (a == argc - 1 && (argv[a][0] == '-' || inject))) {
        fprintf(stderr, "usage: batch_stats [--keep-going] [DIR | --inject-error]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* `batch_stats | head` must still remove the demo files */
    const char *dir = a < argc ? argv[a] : mkdtemp(demo);
    int status = 0;
    if (dir == NULL) {
        perror("mkdtemp");
        return 2;
    }
    if (dir == demo && generate(dir, inject) != 0) {
        perror("batch_stats: generating the demo data set");
        status = 2;
    }
    struct dirent **names = NULL;
    int n = scandir(dir, &names, visible, alphasort);
    if (n < 0) {
        perror(dir);
        n = 0;
        status = 2;
    } else if (n == 0 && status == 0) {
        fprintf(stderr, "batch_stats: %s: no data files (names starting with '.' are skipped)\n", dir);
        status = 2;
    }
    if (status == 0)
        status = run(dir, names, n, keep_going);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (dir == demo && unlink(path) != 0)
            perror(path);
        free(names[i]);
    }
    free(names);
    if (dir == demo && rmdir(dir) != 0)
        perror(dir);
    return status;
}
