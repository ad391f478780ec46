/*
 * Shared timing helpers for the benchmarks (C and C++).
 *
 * Method used by every benchmark: each variant runs once untimed (warm-up:
 * thread pool started, pages touched), then `reps` repetitions in which every
 * variant runs once, in an order rotated by one per repetition, so that slow
 * drift of the machine (other load, frequency) hits all variants alike. The
 * figure reported is the median over the repetitions; ratios are medians of a
 * variant divided by the median of the baseline measured in the same process.
 *
 * Output: a few "- key: value" lines describing the environment, then
 * markdown tables whose first two columns are keys and whose other columns
 * are values. bench/run.sh relies on that layout (and on the row order being
 * the same for every OMP_CANCELLATION setting) to put two runs side by side.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr, RTLD_DEFAULT */
#endif

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#define BENCH_MAX_REPS 101

#if defined(__clang__)
#define BENCH_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define BENCH_COMPILER "gcc " __VERSION__
#else
#define BENCH_COMPILER "unknown compiler"
#endif

/* Monotonic wall clock in seconds. */
static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Median of v[0..n-1] (v is left untouched). */
static inline double bench_median(const double *v, int n)
{
    double s[BENCH_MAX_REPS];
    if (n <= 0)
        return 0.0;
    if (n > BENCH_MAX_REPS)
        n = BENCH_MAX_REPS;
    for (int i = 0; i < n; i++) {
        double x = v[i];
        int j = i;
        for (; j > 0 && s[j - 1] > x; j--)
            s[j] = s[j - 1];
        s[j] = x;
    }
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

/* Number of repetitions: first argument if given, else `dflt`. */
static inline int bench_reps(int argc, char **argv, int dflt)
{
    int reps = dflt;
    if (argc > 1)
        reps = atoi(argv[1]);
    if (reps < 1)
        reps = 1;
    if (reps > BENCH_MAX_REPS)
        reps = BENCH_MAX_REPS;
    return reps;
}

/* File name of the shared object that defines `symbol`, or "?". */
static inline const char *bench_lib_of(const char *symbol)
{
    void *addr = dlsym(RTLD_DEFAULT, symbol);
    Dl_info info;
    if (addr == NULL || dladdr(addr, &info) == 0 || info.dli_fname == NULL)
        return "?";
    const char *slash = strrchr(info.dli_fname, '/');
    return slash != NULL ? slash + 1 : info.dli_fname;
}

/* Busy work that the compiler cannot remove: one empty asm per iteration. */
static inline void bench_spin(uint64_t iters)
{
    for (uint64_t k = 0; k < iters; k++)
        __asm__ __volatile__("" ::: "memory");
}

/* Iterations of bench_spin that take about `seconds` (median of 9 probes). */
static inline uint64_t bench_calibrate_spin(double seconds)
{
    const uint64_t probe = 2000000;
    double t[9];
    bench_spin(probe); /* warm-up */
    for (int i = 0; i < 9; i++) {
        double t0 = bench_now();
        bench_spin(probe);
        t[i] = bench_now() - t0;
    }
    double per_iter = bench_median(t, 9) / (double)probe;
    uint64_t iters = (uint64_t)(seconds / per_iter);
    return iters > 0 ? iters : 1;
}

/* Environment lines printed first by every benchmark. */
static inline void bench_header(const char *name, int reps)
{
    printf("## %s\n\n", name);
    printf("- compiler: %s\n", BENCH_COMPILER);
#ifdef _OPENMP
    const char *env = getenv("OMP_CANCELLATION");
    printf("- threads: %d (omp_get_max_threads), processors: %d\n", omp_get_max_threads(),
           omp_get_num_procs());
    printf("- OpenMP: _OPENMP=%d, runtime %s, omp_get_cancellation()=%d (OMP_CANCELLATION=%s)\n",
           _OPENMP, bench_lib_of("omp_get_max_threads"), omp_get_cancellation(),
           env != NULL ? env : "unset");
#endif
    printf("- method: median of %d repetitions, variants interleaved, one warm-up run each\n\n",
           reps);
}

#endif /* BENCH_UTIL_H */
