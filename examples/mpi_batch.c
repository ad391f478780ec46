/*
 * mpi_batch: batch_stats spread over MPI ranks. The DEMO_FILES files are
 * split into one block per rank (errgroup_mpi_for); each rank writes and
 * reads its own share. One malformed line in one file stops every rank
 * within a moment; rank 0 prints the one agreed message, naming the rank,
 * file and line, and every rank exits 1. With --clean rank 0 prints the
 * global summary and every rank exits 0.
 *
 *   mpiexec -n 3 mpi_batch [--clean]
 */
#define _POSIX_C_SOURCE 200809L
#include <errgroup_mpi.h>

#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { DEMO_FILES = 200, DEMO_LINES = 2000, BAD_FILE = 137, BAD_LINE = 1234 };

struct share { char dir[64]; int rank; long count; double sum, min, max; };

static void path_of(const struct share *s, int64_t i, char *path, size_t size)
{
    snprintf(path, size, "%s/sample-%03lld.dat", s->dir, (long long)i);
}

/* Summarize files [lo, hi) of this rank's share; stop once any rank failed. */
static int summarize(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    struct share *s = arg;
    char path[128], line[64];
    for (int64_t i = lo; i < hi; i++) {
        path_of(s, i, path, sizeof path);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            return errgroup_fail(g, errno, i, "rank %d: %s: cannot open", s->rank, path);
        long count = 0;
        double sum = 0, min = DBL_MAX, max = -DBL_MAX;
        int rc = 0;
        for (int lineno = 1; rc == 0 && fgets(line, sizeof line, f) != NULL; lineno++) {
            char *end;
            double x = strtod(line, &end);
            if (errgroup_canceled(g)) /* this or another rank failed */
                rc = ERRGROUP_ECANCELED;
            else if (end == line || (*end != '\n' && *end != '\0'))
                rc = errgroup_fail(g, EINVAL, i, "rank %d: sample-%03lld.dat:%d: cannot parse '%.*s'",
                                   s->rank, (long long)i, lineno, (int)strcspn(line, "\n"), line);
            count++, sum += x, min = x < min ? x : min, max = x > max ? x : max;
        }
        fclose(f);
        if (rc != 0)
            return rc;
#pragma omp critical
        s->count += count, s->sum += sum, s->min = min < s->min ? min : s->min,
            s->max = max > s->max ? max : s->max;
    }
    return 0;
}

/* Write files [lo, hi), each DEMO_LINES values, one bad line unless clean. */
static int generate(const struct share *s, int64_t lo, int64_t hi, int clean)
{
    char path[128];
    for (int64_t i = lo; i < hi; i++) {
        path_of(s, i, path, sizeof path);
        FILE *f = fopen(path, "w");
        if (f == NULL)
            return -1;
        for (int k = 1; k <= DEMO_LINES; k++)
            if (!clean && i == BAD_FILE && k == BAD_LINE)
                fputs("n/a\n", f);
            else
                fprintf(f, "%.6f\n", 20.0 + (double)i / 10.0 + (double)((k * 7919) % 1000) / 1000.0);
        if (fclose(f) != 0)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int provided, rank, size;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int clean = argc == 2 && strcmp(argv[1], "--clean") == 0;
    struct share s = {"/tmp/mpi_batch.XXXXXX", rank, 0, 0.0, DBL_MAX, -DBL_MAX};
    /* This rank's block, as errgroup_mpi_for splits [0, DEMO_FILES). */
    int64_t q = DEMO_FILES / size, extra = DEMO_FILES % size;
    int64_t lo = rank * q + (rank < extra ? rank : extra), hi = lo + q + (rank < extra);
    int setup = mkdtemp(s.dir) != NULL && generate(&s, lo, hi, clean) == 0 ? 0 : 1, any = 0;
    MPI_Allreduce(&setup, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    errgroup g;
    int rc = any ? ERRGROUP_EINVAL : errgroup_mpi_init(&g, MPI_COMM_WORLD);
    if (rc == 0 && (rc = errgroup_set_chunk(&g, 1)) == 0)
        rc = errgroup_mpi_for(&g, 0, DEMO_FILES, summarize, &s); /* the same rc on every rank */
    errgroup_error e = {0, ERRGROUP_NO_INDEX, ""};
    if (rc != 0 && !any)
        (void)errgroup_first_error(&g, &e);
    long total = 0;
    double sum = 0, min = 0, max = 0;
    MPI_Reduce(&s.count, &total, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    MPI_Reduce(&s.sum, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    MPI_Reduce(&s.min, &min, 1, MPI_DOUBLE, MPI_MIN, 0, MPI_COMM_WORLD);
    MPI_Reduce(&s.max, &max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0 && rc != 0)
        fprintf(stderr, "mpi_batch: %s (%s)\n", any ? "setup failed" : e.message, errgroup_strerror(rc));
    if (rank == 0 && rc == 0)
        printf("%d/%d files summarized on %d ranks: %ld values, mean %.4f, min %.4f, max %.4f\n",
               DEMO_FILES, DEMO_FILES, size, total, sum / (double)total, min, max);
    if (!any && errgroup_destroy(&g) != 0) /* collective */
        rc = ERRGROUP_EINVAL;
    char path[128];
    for (int64_t i = lo; i < hi; i++)
        path_of(&s, i, path, sizeof path), unlink(path);
    rmdir(s.dir);
    MPI_Finalize();
    return rc == 0 ? 0 : 1;
}
