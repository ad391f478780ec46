/*
 * What a crash mode costs per body: go on trivial tasks (run at once, outside
 * a parallel region, so the wrapper is all that is measured) and errgroup_for
 * with chunks of one iteration, with ERRGROUP_CRASH_OFF, _REPORT and
 * _RECOVER. Method as in bench_util.h: rotated order, median of the
 * repetitions, ratio against OFF measured in the same run.
 */
#include "bench_util.h"

#include "errgroup.h"

#define N 1000000
#define REPS 9

static volatile int64_t sink;

static int task(errgroup *g, void *arg)
{
    (void)g;
    sink = (int64_t)(intptr_t)arg;
    return 0;
}

static int chunk(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)g;
    (void)arg;
    sink = lo + hi;
    return 0;
}

static int check(int rc)
{
    if (rc != 0) {
        fprintf(stderr, "bench_crash: %s\n", errgroup_strerror(rc));
        exit(1);
    }
    return rc;
}

/* Seconds per body for one variant: kind 0 = tasks, 1 = loop chunks. */
static double run(int kind, int mode)
{
    errgroup g;
    check(errgroup_init(&g));
    check(errgroup_set_crash_mode(&g, mode));
    double t0 = bench_now();
    if (kind == 0) {
        for (intptr_t i = 0; i < N; i++)
            check(errgroup_go(&g, task, (void *)i));
    } else {
        check(errgroup_set_chunk(&g, 1));
        check(errgroup_for(&g, 0, N, chunk, NULL));
    }
    check(errgroup_wait(&g));
    double t = (bench_now() - t0) / N;
    check(errgroup_destroy(&g));
    return t;
}

int main(void)
{
    static const char *const names[] = {"OFF", "REPORT", "RECOVER"};
    static const char *const kinds[] = {"go (serial)", "for, chunk 1"};
    printf("- compiler: %s\n- threads: %d\n- bodies per run: %d, repetitions: %d\n\n",
           BENCH_COMPILER, omp_get_max_threads(), N, REPS);
    printf("| body | crash mode | ns per body | ratio to OFF |\n|---|---|---|---|\n");
    for (int kind = 0; kind < 2; kind++) {
        double t[3][REPS];
        for (int m = 0; m < 3; m++)
            (void)run(kind, m); /* warm-up */
        for (int r = 0; r < REPS; r++)
            for (int k = 0; k < 3; k++) {
                int m = (k + r) % 3;
                t[m][r] = run(kind, m);
            }
        double base = bench_median(t[0], REPS);
        for (int m = 0; m < 3; m++) {
            double med = bench_median(t[m], REPS);
            printf("| %s | %s | %.1f | %.2f |\n", kinds[kind], names[m], med * 1e9, med / base);
        }
    }
    return 0;
}
