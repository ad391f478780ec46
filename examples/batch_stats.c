/*
 * batch_stats: count, mean, standard deviation, min and max of every data
 * file in a directory (one number per line), one task per file. The first
 * file that cannot be read stops the run; its message names file and line.
 *
 *   batch_stats DIR      every file in DIR whose name does not start with '.'
 *   batch_stats          demo: 200 generated files, one with a bad line
 *   batch_stats --clean  demo without the bad line
 *
 * Exit status: 0 all files summarized, 1 a file failed, 2 usage or setup error.
 */
#define _POSIX_C_SOURCE 200809L
#include <errgroup.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { DEMO_FILES = 200, DEMO_LINES = 2000, BAD_FILE = 137, BAD_LINE = 1234 };

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
        if (errgroup_canceled(g)) { /* another file failed: stop reading this one */
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

/* Files summarized so far: bodies that returned 0. */
static long long summarized(const errgroup *g)
{
    errgroup_counters c;
    return errgroup_get_counters(g, &c) == 0 ? (long long)(c.finished - c.failed) : -1;
}

/* The extra thread of the team: a progress line four times a second. */
static void monitor(const errgroup *g, int n, atomic_int *done)
{
    const struct timespec tick = {0, 25000000};
    for (int t = 1; !atomic_load(done); t++)
        if (nanosleep(&tick, NULL) == 0 && t % 10 == 0)
            fprintf(stderr, "\r  %lld/%d files summarized", summarized(g), n);
}

static int run(const char *dir, struct dirent **names, int n)
{
    struct stats *stats = calloc((size_t)n + 1, sizeof *stats);
    errgroup g;
    int rc = stats == NULL ? ERRGROUP_ENOMEM : errgroup_init(&g);
    if (rc == 0 && (rc = errgroup_set_release(&g, free)) != 0) /* frees every job, run or skipped */
        (void)errgroup_destroy(&g);
    if (rc != 0) {
        fprintf(stderr, "batch_stats: %s\n", errgroup_strerror(rc));
        free(stats);
        return 2;
    }
    atomic_int done = 0;
    /* One thread more than the workers: it only watches. */
#pragma omp parallel num_threads(omp_get_max_threads() + 1)
    {
        if (omp_get_thread_num() == 0) {
            rc = submit_all(&g, dir, names, n, stats);
            atomic_store(&done, 1);
        } else if (omp_get_thread_num() == omp_get_num_threads() - 1) {
            monitor(&g, n, &done);
        }
    }
    fprintf(stderr, "\r  %lld/%d files summarized\n", summarized(&g), n);
    errgroup_error e;
    if (rc != 0 && errgroup_first_error(&g, &e) == 0)
        fprintf(stderr, "batch_stats: %s (%s)\n", e.message, errgroup_strerror(e.code));
    if (rc == 0)
        printf("%-20s %6s %10s %10s %10s %10s\n", "file", "count", "mean", "stddev", "min", "max");
    for (int i = 0; rc == 0 && i < n; i++) {
        const struct stats *s = &stats[i];
        printf("%-20s %6ld %10.4f %10.4f %10.4f %10.4f\n", names[i]->d_name, s->count, s->mean,
               s->count > 1 ? sqrt(s->m2 / (double)(s->count - 1)) : 0.0, s->min, s->max);
    }
    free(stats);
    if (errgroup_destroy(&g) != 0)
        return 2;
    return rc == 0 ? 0 : 1;
}

/* The demo data set: DEMO_FILES files of DEMO_LINES values, maybe one bad line. */
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
            if (with_bad_line && i == BAD_FILE && k == BAD_LINE)
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
    int clean = argc == 2 && strcmp(argv[1], "--clean") == 0;
    if (argc > 2 || (argc == 2 && !clean && argv[1][0] == '-')) {
        fprintf(stderr, "usage: batch_stats [DIR | --clean]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* `batch_stats | head` must still remove the demo files */
    const char *dir = argc == 2 && !clean ? argv[1] : mkdtemp(demo);
    int status = 0;
    if (dir == NULL) {
        perror("mkdtemp");
        return 2;
    }
    if (dir == demo && generate(dir, !clean) != 0) {
        perror("batch_stats: generating the demo data set");
        status = 2;
    }
    struct dirent **names = NULL;
    int n = scandir(dir, &names, visible, alphasort);
    if (n < 0) {
        perror(dir);
        n = 0;
        status = 2;
    }
    if (status == 0)
        status = run(dir, names, n);
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
