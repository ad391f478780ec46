/*
 * bench_task: what errgroup_go + errgroup_wait cost per task, and how fast a
 * group stops after its first error.
 *
 * Part 1: 1e6 trivial tasks (one relaxed atomic add, called through a
 * function pointer) created by one thread inside `parallel` + `single`:
 *   - raw `omp task` + `taskwait` (the baseline),
 *   - errgroup_go + errgroup_wait, plain group,
 *   - errgroup_run whose body makes the go calls (the one-call form),
 *   - the same with a limit of omp_get_max_threads(),
 *   - the same in lowest-index mode,
 *   - the same while a separate pthread reads errgroup_get_counters every
 *     100 us (the counters are always on; this is what reading them costs),
 * and, outside any parallel region (go runs the body at once), errgroup_go
 * versus a direct call: the library's own bookkeeping without OpenMP tasks;
 * and 1e5 tasks of about 1 us each, raw versus go + wait, none failing.
 *
 * Part 2: 100,000 tasks of about 1 us (calibrated busy loop); task 5,000
 * fails. Time until the wait returns and bodies run, for errgroup, raw
 * tasks in a taskgroup with `cancel taskgroup` (a no-op unless
 * OMP_CANCELLATION=true), and raw tasks that only record an `info` code.
 *
 * Usage: bench_task [reps]   (default 7); BENCH_VERBOSE=1 prints every run
 * to stderr.
 */
#include "bench_util.h"

#include <errgroup.h>
#include <errno.h>
#include <omp.h>
#include <pthread.h>

/* ---- Part 1: per-task cost ---------------------------------------------- */

#define TRIVIAL_N 1000000

static int64_t g_count;

static void raw_trivial(void *arg)
{
    __atomic_fetch_add((int64_t *)arg, 1, __ATOMIC_RELAXED);
}

static int eg_trivial(errgroup *g, void *arg)
{
    (void)g;
    __atomic_fetch_add((int64_t *)arg, 1, __ATOMIC_RELAXED);
    return 0;
}

/* Read through volatile so that neither side's call can be devirtualised. */
static void (*volatile g_raw_fn)(void *) = raw_trivial;
static errgroup_fn *volatile g_eg_fn = eg_trivial;

/* Monitor thread: polls the counters of *g every 100 us until told to stop. */
struct monitor {
    errgroup *g;
    int stop;
    int64_t reads;
    int64_t last_finished;
};

static void *monitor_main(void *p)
{
    struct monitor *m = p;
    const struct timespec pause = {0, 100000};
    while (!__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE)) {
        errgroup_counters c;
        errgroup_get_counters(m->g, &c);
        m->last_finished = c.finished;
        m->reads++;
        nanosleep(&pause, NULL);
    }
    return NULL;
}

enum { T_RAW, T_GO, T_RUN, T_LIMIT, T_LOWEST, T_MONITOR, NV_TASK };
static const char *const task_names[NV_TASK] = {
    "raw `omp task` + `taskwait` (baseline)",
    "errgroup_go + errgroup_wait",
    "errgroup_run, its body calls errgroup_go",
    "errgroup, limit = threads",
    "errgroup, lowest-index mode",
    "errgroup, counters read every 100 us",
};

static void check_count(const char *what, int64_t want)
{
    if (g_count != want) {
        fprintf(stderr, "%s: %lld bodies ran, expected %lld\n", what, (long long)g_count,
                (long long)want);
        exit(1);
    }
}

/* The T_RUN body: n trivial go calls from inside errgroup_run. */
static int submit_trivial(errgroup *g, void *arg)
{
    int64_t n = *(const int64_t *)arg;
    errgroup_fn *fn = g_eg_fn;
    for (int64_t i = 0; i < n; i++)
        if (errgroup_go(g, fn, &g_count) != 0)
            return 1;
    return 0;
}

/* One run of n trivial tasks; returns the time from the first task creation
 * to the return of the wait (group init/destroy and the monitor thread's
 * start and stop are outside it). */
static double run_trivial(int variant, int64_t n, int64_t *monitor_reads)
{
    double t = 0;
    int rc = 0;
    g_count = 0;
    if (variant == T_RAW) {
#pragma omp parallel
#pragma omp single
        {
            void (*fn)(void *) = g_raw_fn;
            void *arg = &g_count;
            double t0 = bench_now();
            for (int64_t i = 0; i < n; i++) {
#pragma omp task firstprivate(fn, arg)
                fn(arg);
            }
#pragma omp taskwait
            t = bench_now() - t0;
        }
        check_count(task_names[variant], n);
        return t;
    }

    errgroup g;
    struct monitor m = {&g, 0, 0, 0};
    pthread_t mon;
    errgroup_init(&g);
    if (variant == T_LIMIT)
        errgroup_set_limit(&g, omp_get_max_threads());
    if (variant == T_LOWEST)
        errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX);
    if (variant == T_MONITOR && pthread_create(&mon, NULL, monitor_main, &m) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        exit(1);
    }
    if (variant == T_RUN) { /* the region's start (microseconds) is inside the time */
        double t0 = bench_now();
        rc = errgroup_run(&g, submit_trivial, &n);
        t = bench_now() - t0;
    } else {
#pragma omp parallel
#pragma omp single
        {
            errgroup_fn *fn = g_eg_fn;
            double t0 = bench_now();
            for (int64_t i = 0; i < n; i++)
                if (errgroup_go(&g, fn, &g_count) != 0)
                    break;
            rc = errgroup_wait(&g);
            t = bench_now() - t0;
        }
    }
    if (variant == T_MONITOR) {
        __atomic_store_n(&m.stop, 1, __ATOMIC_RELEASE);
        pthread_join(mon, NULL);
        *monitor_reads = m.reads;
    }
    errgroup_destroy(&g);
    if (rc != 0) {
        fprintf(stderr, "%s: unexpected error %d\n", task_names[variant], rc);
        exit(1);
    }
    check_count(task_names[variant], n);
    return t;
}

static void per_task(int reps)
{
    const int64_t n = TRIVIAL_N;
    double t[NV_TASK][BENCH_MAX_REPS], reads[BENCH_MAX_REPS];
    int64_t r_reads = 0;
    for (int v = 0; v < NV_TASK; v++)
        (void)run_trivial(v, n, &r_reads);
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < NV_TASK; k++) {
            int v = (k + r) % NV_TASK;
            t[v][r] = run_trivial(v, n, &r_reads);
            if (getenv("BENCH_VERBOSE"))
                fprintf(stderr, "%s: %.1f ns/task\n", task_names[v], t[v][r] / (double)n * 1e9);
            if (v == T_MONITOR)
                reads[r] = (double)r_reads;
        }
    double base = bench_median(t[T_RAW], reps), plain = bench_median(t[T_GO], reps);
    for (int v = 0; v < NV_TASK; v++) {
        double m = bench_median(t[v], reps);
        printf("| 1e6 trivial tasks | %s | %.1f ns/task | %.3f | ", task_names[v],
               m / (double)n * 1e9, m / base);
        if (v == T_RAW)
            printf("- |\n");
        else
            printf("%.3f |\n", m / plain);
    }
    fprintf(stderr, "monitor: median %.0f counter reads per run\n", bench_median(reads, reps));
}

/* Outside a parallel region errgroup_go runs the body at once: the
 * difference to a direct call is the library's bookkeeping (checks,
 * ordinal, counters, error frame), with no OpenMP task involved. */
static double run_inline(int variant, int64_t n)
{
    g_count = 0;
    double t0 = bench_now();
    if (variant == 0) {
        void (*fn)(void *) = g_raw_fn;
        for (int64_t i = 0; i < n; i++)
            fn(&g_count);
    } else {
        errgroup g;
        errgroup_init(&g);
        errgroup_fn *fn = g_eg_fn;
        for (int64_t i = 0; i < n; i++)
            if (errgroup_go(&g, fn, &g_count) != 0)
                break;
        if (errgroup_wait(&g) != 0)
            exit(1);
        errgroup_destroy(&g);
    }
    double t = bench_now() - t0;
    check_count("inline", n);
    return t;
}

/* Baseline (variant 0) against errgroup (variant 1): warm-up, interleaved
 * repetitions, medians, two table rows. */
static void compare_two(double (*run)(int variant, int64_t n), int64_t n, int reps,
                        const char *workload, const char *unit, const char *const names[2])
{
    double t[2][BENCH_MAX_REPS];
    (void)run(0, n);
    (void)run(1, n);
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < 2; k++) {
            int v = (k + r) % 2;
            t[v][r] = run(v, n);
        }
    double base = bench_median(t[0], reps);
    for (int v = 0; v < 2; v++) {
        double m = bench_median(t[v], reps);
        printf("| %s | %s | %.1f ns/%s | %.3f | - |\n", workload, names[v], m / (double)n * 1e9, unit,
               m / base);
    }
}

static void inline_cost(int reps)
{
    static const char *const names[2] = {"direct call (baseline)", "errgroup_go (runs inline)"};
    compare_two(run_inline, 10 * TRIVIAL_N, reps, "1e7 calls, no parallel region", "call", names);
}

/* ---- Part 2: first-error latency ------------------------------------- */

#define LAT_N 100000
#define LAT_FAIL 5000
#define LAT_CODE EIO

static uint64_t g_spin_1us;
static int64_t g_ran;

/* Tasks of about 1 us, none failing: what the per-task cost is worth next to
 * a little real work. */
static void raw_work(void *arg)
{
    (void)arg;
    __atomic_fetch_add(&g_count, 1, __ATOMIC_RELAXED);
    bench_spin(g_spin_1us);
}

static int eg_work_ok(errgroup *g, void *arg)
{
    raw_work(arg);
    (void)g;
    return 0;
}

static double run_work(int variant, int64_t n)
{
    double t = 0;
    int rc = 0;
    errgroup g;
    errgroup_init(&g);
    g_count = 0;
#pragma omp parallel
#pragma omp single
    {
        double t0 = bench_now();
        if (variant == 0) {
            for (int64_t i = 0; i < n; i++) {
#pragma omp task
                raw_work(NULL);
            }
#pragma omp taskwait
        } else {
            for (int64_t i = 0; i < n; i++)
                if (errgroup_go(&g, eg_work_ok, NULL) != 0)
                    break;
            rc = errgroup_wait(&g);
        }
        t = bench_now() - t0;
    }
    errgroup_destroy(&g);
    if (rc != 0)
        exit(1);
    check_count("1 us tasks", n);
    return t;
}

static void work_cost(int reps)
{
    static const char *const names[2] = {"raw `omp task` + `taskwait` (baseline)",
                                         "errgroup_go + errgroup_wait"};
    compare_two(run_work, LAT_N, reps, "1e5 tasks of 1 us", "task", names);
}

static int eg_work(errgroup *g, void *arg)
{
    (void)g;
    intptr_t i = (intptr_t)arg;
    __atomic_fetch_add(&g_ran, 1, __ATOMIC_RELAXED);
    bench_spin(g_spin_1us);
    return i == LAT_FAIL ? LAT_CODE : 0;
}

enum { L_ERRGROUP, L_RAW_CANCEL, L_RAW_INFO, NV_LAT };
static const char *const lat_names[NV_LAT] = {
    "errgroup (go stops at ECANCELED)",
    "raw tasks in taskgroup + `cancel taskgroup`",
    "raw tasks + info variable",
};

static double run_latency(int variant, int64_t *ran)
{
    double t = 0;
    int code = 0;
    g_ran = 0;
    errgroup g;
    errgroup_init(&g);
#pragma omp parallel
#pragma omp single
    {
        double t0 = bench_now();
        if (variant == L_ERRGROUP) {
            for (intptr_t i = 0; i < LAT_N; i++)
                if (errgroup_go(&g, eg_work, (void *)i) != 0)
                    break;
            code = errgroup_wait(&g);
        } else if (variant == L_RAW_CANCEL) {
#pragma omp taskgroup
            {
                for (intptr_t i = 0; i < LAT_N; i++) {
#pragma omp task firstprivate(i) shared(code)
                    {
#pragma omp cancellation point taskgroup
                        __atomic_fetch_add(&g_ran, 1, __ATOMIC_RELAXED);
                        bench_spin(g_spin_1us);
                        if (i == LAT_FAIL) {
#pragma omp atomic write
                            code = LAT_CODE;
#pragma omp cancel taskgroup
                        }
                    }
                }
            }
        } else {
            for (intptr_t i = 0; i < LAT_N; i++) {
#pragma omp task firstprivate(i) shared(code)
                {
                    __atomic_fetch_add(&g_ran, 1, __ATOMIC_RELAXED);
                    bench_spin(g_spin_1us);
                    if (i == LAT_FAIL) {
#pragma omp atomic write
                        code = LAT_CODE;
                    }
                }
            }
#pragma omp taskwait
        }
        t = bench_now() - t0;
    }
    errgroup_destroy(&g);
    if (code != LAT_CODE) {
        fprintf(stderr, "%s: expected %d, got %d\n", lat_names[variant], LAT_CODE, code);
        exit(1);
    }
    *ran = g_ran;
    return t;
}

static void latency(int reps)
{
    double t[NV_LAT][BENCH_MAX_REPS], ran[NV_LAT][BENCH_MAX_REPS];
    int64_t r_ran;
    for (int v = 0; v < NV_LAT; v++)
        (void)run_latency(v, &r_ran);
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < NV_LAT; k++) {
            int v = (k + r) % NV_LAT;
            t[v][r] = run_latency(v, &r_ran);
            ran[v][r] = (double)r_ran;
            if (getenv("BENCH_VERBOSE"))
                fprintf(stderr, "%s: %.3f ms, %lld ran\n", lat_names[v], t[v][r] * 1e3, (long long)r_ran);
        }
    for (int v = 0; v < NV_LAT; v++)
        printf("| 1e5 tasks of 1 us, #5000 fails | %s | %.2f ms | %.0f |\n", lat_names[v],
               bench_median(t[v], reps) * 1e3, bench_median(ran[v], reps));
}

int main(int argc, char **argv)
{
    int reps = bench_reps(argc, argv, 7);
    bench_header("bench_task", reps);
    g_spin_1us = bench_calibrate_spin(1e-6);
    printf("- busy loop: %llu iterations = 1 us\n\n", (unsigned long long)g_spin_1us);

    printf("### Tasks: cost per trivial task, ratio to raw OpenMP tasks (target <= 1.2)\n\n");
    printf("| workload | variant | time | ratio | vs plain group |\n|---|---|---:|---:|---:|\n");
    per_task(reps);
    inline_cost(reps);
    work_cost(reps);

    printf("\n### Tasks: first-error latency (time until the wait returns, bodies run)\n\n");
    printf("| workload | variant | time | bodies run |\n|---|---|---:|---:|\n");
    latency(reps);
    return 0;
}
