/*
 * bench_loop: what errgroup_for and ERRGROUP_LOOP_CHECK cost when nothing
 * fails, and how fast they stop when something does.
 *
 * Part 1 (no failure): a memory-bound body (y = a*x + y over 2^25 doubles,
 * 768 MiB of traffic per pass) and a compute-bound body (a degree-24
 * polynomial per element, 48 flops, 2^21 elements), and a scalar body that
 * does not vectorise (Newton's method per element, like a per-cell solver),
 * run as
 *   - raw `omp parallel for schedule(static)` (the baseline),
 *   - raw `omp parallel for schedule(dynamic, C)` with errgroup_for's chunk C,
 *   - errgroup_for (automatic chunk; the body is a tight loop over [lo, hi)),
 *   - the same static loop annotated with ERRGROUP_LOOP_CHECK, per iteration
 *     and once per block of 4096 iterations (inner loop left to vectorise).
 *
 * Part 2 (failure): n = 1e8 cheap iterations, iteration 1000 or n/2 fails.
 * Time until the construct returns and iterations whose body ran, for
 * errgroup_for, the annotated loop with the default macros (threads skip
 * their remaining iterations one check each) and with the opt-in
 * ERRGROUP_LOOP_OMP_CANCEL (bench_loop_cancel.c: `cancel for`, which the
 * library runs only on libgomp with OMP_CANCELLATION=true), a raw loop that
 * records an `info` code and keeps going, and a raw loop with `cancel for` +
 * `cancellation point for` (a no-op unless OMP_CANCELLATION=true).
 *
 * Usage: bench_loop [reps]   (default 7); BENCH_VERBOSE=1 prints every run of
 * the failure part to stderr.
 */
#include "bench_util.h"

#include <errgroup.h>
#include <errno.h>
#include <omp.h>

/* ---- Part 1: throughput ------------------------------------------------ */

#define AXPY_N ((int64_t)1 << 25)
#define POLY_N ((int64_t)1 << 21)
#define NEWTON_N ((int64_t)1 << 21)
#define AXPY_A 0.5

static double *g_x;
static double *g_y;
static int64_t g_n;

/* Horner, degree 24 (coefficients 1/k): 24 multiplies and 24 adds, written
 * out so that both compilers vectorise across elements without -ffast-math. */
#define H(k) p = p * x + 1.0 / k;
static inline double poly(double x)
{
    double p = 1.0 / 25;
    H(24) H(23) H(22) H(21) H(20) H(19) H(18) H(17) H(16) H(15) H(14) H(13)
    H(12) H(11) H(10) H(9) H(8) H(7) H(6) H(5) H(4) H(3) H(2) H(1)
    return p;
}
#undef H

/* Scalar, data-dependent work like a per-cell solver: Newton's method for the
 * cube root of 1 + x, a varying number of steps with a division each. The
 * early exit keeps compilers from vectorising it, so this is the case where
 * the per-iteration check of an annotated loop should cost nothing. */
static inline double newton_cbrt(double x)
{
    const double c = 1.0 + x;
    double t = 1.0;
    for (int k = 0; k < 50; k++) {
        double dt = (t * t * t - c) / (3.0 * t * t);
        t -= dt;
        if (dt < 1e-13 && dt > -1e-13)
            break;
    }
    return t;
}

static int axpy_range(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)g;
    (void)arg;
    double *restrict y = g_y;
    const double *restrict x = g_x;
    for (int64_t i = lo; i < hi; i++)
        y[i] = AXPY_A * x[i] + y[i];
    return 0;
}

/* errgroup_for's automatic chunk, as documented in errgroup.h (about 8
 * chunks per thread, at most 32768), so that the dynamic baseline matches. */
static int64_t auto_chunk(int64_t n)
{
    int64_t parts = (int64_t)omp_get_max_threads() * 8;
    int64_t c = (n + parts - 1) / parts;
    if (c > 32768)
        c = 32768;
    return c < 1 ? 1 : c;
}

enum { V_RAW_STATIC, V_RAW_DYNAMIC, V_ERRGROUP_FOR, V_ANNOTATED, V_BLOCKED, NV_THROUGHPUT };

/* The annotated loop can also run over blocks, checking once per block, so
 * that the inner loop vectorises like the raw one. */
#define BLOCK 4096
static const char *const throughput_names[NV_THROUGHPUT] = {
    "raw `parallel for` static (baseline)",
    "raw `parallel for` dynamic, same chunk as errgroup_for",
    "errgroup_for (automatic chunk)",
    "annotated static loop (ERRGROUP_LOOP_CHECK)",
    "annotated static loop over blocks of 4096",
};

static double run_axpy(int variant)
{
    const int64_t n = g_n, chunk = auto_chunk(n);
    double *restrict y = g_y;
    const double *restrict x = g_x;
    double t0 = bench_now();
    errgroup g;
    int rc = 0;
    switch (variant) {
    case V_RAW_STATIC:
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++)
            y[i] = AXPY_A * x[i] + y[i];
        break;
    case V_RAW_DYNAMIC:
#pragma omp parallel for schedule(dynamic, chunk)
        for (int64_t i = 0; i < n; i++)
            y[i] = AXPY_A * x[i] + y[i];
        break;
    case V_ERRGROUP_FOR:
        errgroup_init(&g);
        rc = errgroup_for(&g, 0, n, axpy_range, NULL);
        errgroup_destroy(&g);
        break;
    case V_ANNOTATED:
        errgroup_init(&g);
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) {
            ERRGROUP_LOOP_CHECK(&g, i);
            y[i] = AXPY_A * x[i] + y[i];
        }
        rc = errgroup_wait(&g);
        errgroup_destroy(&g);
        break;
    default:
        errgroup_init(&g);
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < (n + BLOCK - 1) / BLOCK; b++) {
            ERRGROUP_LOOP_CHECK(&g, b * BLOCK);
            const int64_t hi = (b + 1) * BLOCK < n ? (b + 1) * BLOCK : n;
            for (int64_t i = b * BLOCK; i < hi; i++)
                y[i] = AXPY_A * x[i] + y[i];
        }
        rc = errgroup_wait(&g);
        errgroup_destroy(&g);
        break;
    }
    double t = bench_now() - t0;
    if (rc != 0) {
        fprintf(stderr, "unexpected error %d\n", rc);
        exit(1);
    }
    return t;
}

/* One errgroup_for body and one run function per element function, identical
 * apart from it: see elementwise.h. */
#define EW_NAME poly
#define EW_F poly
#include "elementwise.h"
#define EW_NAME newton
#define EW_F newton_cbrt
#include "elementwise.h"

static void throughput(const char *label, int64_t n, double (*run)(int), int reps)
{
    double t[NV_THROUGHPUT][BENCH_MAX_REPS];
    g_n = n;
#pragma omp parallel for schedule(static) /* first touch by the threads that use it */
    for (int64_t i = 0; i < n; i++) {
        g_x[i] = (double)(i % 1000) * 1e-3;
        g_y[i] = 0.0;
    }
    for (int v = 0; v < NV_THROUGHPUT; v++)
        (void)run(v);
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < NV_THROUGHPUT; k++) {
            int v = (k + r) % NV_THROUGHPUT;
            t[v][r] = run(v);
        }
    double base = bench_median(t[V_RAW_STATIC], reps);
    for (int v = 0; v < NV_THROUGHPUT; v++) {
        double m = bench_median(t[v], reps);
        printf("| %s | %s | %.2f ms | %.3f |\n", label, throughput_names[v], m * 1e3, m / base);
    }
}

/* ---- Part 2: stopping after a failure ---------------------------------- */

#define FAIL_N ((int64_t)100000000)
#define FAIL_CODE EDOM

static int64_t g_fail_at;
static int64_t g_executed;   /* bodies run, summed per thread at the end */
static volatile double g_sink;

/* The cheap per-iteration work; the same expression in every variant. */
#define CHEAP(acc, i) ((acc) += (double)((i) & 7))

static void flush(int64_t executed, double acc)
{
    __atomic_fetch_add(&g_executed, executed, __ATOMIC_RELAXED);
    if (acc < 0) /* never true: keeps acc alive without a shared store */
        g_sink = acc;
}

static int cheap_range(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)arg;
    const int64_t fail_at = g_fail_at;
    double acc = 0;
    int64_t i = lo;
    for (; i < hi; i++) {
        if (i == fail_at)
            break;
        CHEAP(acc, i);
    }
    flush(i - lo, acc);
    if (i < hi)
        return errgroup_fail(g, FAIL_CODE, i, "iteration %lld failed", (long long)i);
    return 0;
}

#define ANNOTATED_FAIL_FN bench_annotated_fail_skip
#include "annotated_fail.h"
int bench_annotated_fail_cancel(int64_t n, int64_t fail_at, int64_t *executed);

enum { F_ERRGROUP_FOR, F_ANNOTATED, F_ANNOTATED_CANCEL, F_RAW_INFO, F_RAW_CANCEL, NV_FAIL };
static const char *const fail_names[NV_FAIL] = {
    "errgroup_for",
    "annotated loop (CHECK + FAIL), default",
    "annotated loop, ERRGROUP_LOOP_OMP_CANCEL",
    "raw `parallel for` + info variable",
    "raw `parallel for` + `cancel for`",
};

/* One run: returns the time; stores bodies run in *executed; checks the code. */
static double run_fail(int variant, int64_t *executed)
{
    const int64_t n = FAIL_N, fail_at = g_fail_at;
    int code = 0;
    errgroup g;
    g_executed = 0;
    double t0 = bench_now();
    switch (variant) {
    case F_ERRGROUP_FOR:
        errgroup_init(&g);
        code = errgroup_for(&g, 0, n, cheap_range, NULL);
        errgroup_destroy(&g);
        break;
    case F_ANNOTATED:
        code = bench_annotated_fail_skip(n, fail_at, &g_executed);
        break;
    case F_ANNOTATED_CANCEL:
        code = bench_annotated_fail_cancel(n, fail_at, &g_executed);
        break;
    case F_RAW_INFO:
#pragma omp parallel
        {
            int64_t done = 0;
            double acc = 0;
#pragma omp for schedule(static)
            for (int64_t i = 0; i < n; i++) {
                if (i == fail_at) {
#pragma omp atomic write
                    code = FAIL_CODE;
                    continue;
                }
                CHEAP(acc, i);
                done++;
            }
            flush(done, acc);
        }
        break;
    default:
#pragma omp parallel
        {
            int64_t done = 0;
            double acc = 0;
#pragma omp for schedule(static)
            for (int64_t i = 0; i < n; i++) {
#pragma omp cancellation point for
                if (i == fail_at) {
#pragma omp atomic write
                    code = FAIL_CODE;
#pragma omp cancel for
                    continue;
                }
                CHEAP(acc, i);
                done++;
            }
            flush(done, acc);
        }
        break;
    }
    double t = bench_now() - t0;
    if (code != FAIL_CODE) {
        fprintf(stderr, "%s: expected code %d, got %d\n", fail_names[variant], FAIL_CODE, code);
        exit(1);
    }
    *executed = g_executed;
    return t;
}

static void failure(const char *label, int64_t fail_at, int reps)
{
    double t[NV_FAIL][BENCH_MAX_REPS], e[NV_FAIL][BENCH_MAX_REPS];
    int64_t ex;
    g_fail_at = fail_at;
    for (int v = 0; v < NV_FAIL; v++)
        (void)run_fail(v, &ex);
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < NV_FAIL; k++) {
            int v = (k + r) % NV_FAIL;
            t[v][r] = run_fail(v, &ex);
            e[v][r] = (double)ex;
            if (getenv("BENCH_VERBOSE"))
                fprintf(stderr, "%s %s: %.3f ms, %lld\n", label, fail_names[v], t[v][r] * 1e3, (long long)ex);
        }
    for (int v = 0; v < NV_FAIL; v++)
        printf("| %s | %s | %.2f ms | %.0f |\n", label, fail_names[v],
               bench_median(t[v], reps) * 1e3, bench_median(e[v], reps));
}

int main(int argc, char **argv)
{
    int reps = bench_reps(argc, argv, 7);
    bench_header("bench_loop", reps);

    g_x = malloc((size_t)AXPY_N * sizeof *g_x);
    g_y = malloc((size_t)AXPY_N * sizeof *g_y);
    if (g_x == NULL || g_y == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    printf("### Loops, no failure: median time, ratio to the raw static loop (target <= 1.03)\n\n");
    printf("| body | variant | time | ratio |\n|---|---|---:|---:|\n");
    throughput("axpy 2^25 (memory)", AXPY_N, run_axpy, reps);
    throughput("poly deg 24, 2^21 (compute)", POLY_N, run_poly, reps);
    throughput("Newton cbrt, 2^21 (scalar, not vectorised)", NEWTON_N, run_newton, reps);
    free(g_x);
    free(g_y);

    printf("\n### Loops, n = 1e8 cheap iterations, one fails: time to return, bodies run\n\n");
    printf("| fails at | variant | time | bodies run |\n|---|---|---:|---:|\n");
    failure("i = 1000", 1000, reps);
    failure("i = n/2", FAIL_N / 2, reps);
    return 0;
}
