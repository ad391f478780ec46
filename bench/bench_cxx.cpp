// bench_cxx: what the C++ front end (errgroup.hpp) adds over the C API.
//
// Part 1: 1e6 trivial tasks (one relaxed atomic add) made by one thread in
// `parallel` + `single`, then a wait: C errgroup_go with a function pointer
// (the baseline) against group::go with a lambda (task storage allocated,
// moved, destroyed by the release hook). Target: <= 1.1x.
// Part 2: a scalar per-cell body (Newton's cube root, 2^21 cells): raw
// `parallel for` schedule(static) (the baseline), C errgroup_for with a C
// range body, and group::parallel_for with a lambda. Target: <= 1.03x.
//
// Usage: bench_cxx [reps] (default 7). Method in bench_util.h.
#include "bench_util.h"

#include <errgroup.hpp>

#include <atomic>
#include <cstdint>
#include <vector>

namespace {

constexpr int ntasks = 1000000;
constexpr std::int64_t ncells = std::int64_t(1) << 21;

std::atomic<std::int64_t> counter{0};

extern "C" int c_trivial(errgroup *, void *arg)
{
    static_cast<std::atomic<std::int64_t> *>(arg)->fetch_add(1, std::memory_order_relaxed);
    return 0;
}

double tasks_c()
{
    errgroup g;
    if (errgroup_init(&g) != 0)
        std::abort();
    double t0 = bench_now();
#pragma omp parallel
#pragma omp single
    {
        for (int i = 0; i < ntasks; i++)
            if (errgroup_go(&g, c_trivial, &counter) != 0)
                std::abort();
        if (errgroup_wait(&g) != 0)
            std::abort();
    }
    double t = bench_now() - t0;
    errgroup_destroy(&g);
    return t;
}

double tasks_cxx()
{
    omp_errgroup::group g;
    double t0 = bench_now();
#pragma omp parallel
#pragma omp single
    {
        for (int i = 0; i < ntasks; i++)
            if (g.go([] { counter.fetch_add(1, std::memory_order_relaxed); }) != 0)
                std::abort();
        if (g.wait() != 0)
            std::abort();
    }
    return bench_now() - t0;
}

inline double newton_cbrt(double x)
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

std::vector<double> in, out;

double loop_raw()
{
    double t0 = bench_now();
    const double *x = in.data();
    double *y = out.data();
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < ncells; i++)
        y[i] = newton_cbrt(x[i]);
    return bench_now() - t0;
}

extern "C" int c_range(errgroup *, std::int64_t lo, std::int64_t hi, void *)
{
    const double *x = in.data();
    double *y = out.data();
    for (std::int64_t i = lo; i < hi; i++)
        y[i] = newton_cbrt(x[i]);
    return 0;
}

double loop_c()
{
    errgroup g;
    if (errgroup_init(&g) != 0)
        std::abort();
    double t0 = bench_now();
    if (errgroup_for(&g, 0, ncells, c_range, nullptr) != 0)
        std::abort();
    double t = bench_now() - t0;
    errgroup_destroy(&g);
    return t;
}

double loop_cxx()
{
    omp_errgroup::group g;
    const double *x = in.data();
    double *y = out.data();
    double t0 = bench_now();
    if (g.parallel_for(0, ncells, [x, y](std::int64_t i) { y[i] = newton_cbrt(x[i]); }) != 0)
        std::abort();
    return bench_now() - t0;
}

using variant = double (*)();

void table(const char *title, const char *base_name, const variant *v, const char *const *names,
           int n, int reps, double per)
{
    double t[8][BENCH_MAX_REPS];
    for (int k = 0; k < n; k++)
        v[k](); // warm-up
    for (int r = 0; r < reps; r++)
        for (int j = 0; j < n; j++) {
            int k = (j + r) % n;
            t[k][r] = v[k]();
        }
    double base = bench_median(t[0], reps);
    std::printf("### %s\n\n| variant | median | ratio to %s |\n| --- | ---: | ---: |\n", title, base_name);
    for (int k = 0; k < n; k++) {
        double m = bench_median(t[k], reps);
        std::printf("| %s | %.2f %s | %.3f |\n", names[k], per > 0 ? m / per * 1e9 : m * 1e3,
                    per > 0 ? "ns/task" : "ms", m / base);
    }
    std::printf("\n");
}

} // namespace

int main(int argc, char **argv)
{
    int reps = bench_reps(argc, argv, 7);
    bench_header("bench_cxx: C++ front end against the C API and raw OpenMP", reps);
    const variant tv[] = {tasks_c, tasks_cxx};
    const char *const tn[] = {"C errgroup_go(fn, arg) + wait (baseline)", "C++ group::go(lambda) + wait"};
    table("1e6 trivial tasks, target <= 1.1", "C go", tv, tn, 2, reps, ntasks);

    in.resize(ncells);
    out.resize(ncells);
    for (std::int64_t i = 0; i < ncells; i++)
        in[i] = static_cast<double>(i % 4096) * 0.37;
    const variant lv[] = {loop_raw, loop_c, loop_cxx};
    const char *const ln[] = {"raw `parallel for` static (baseline)", "C errgroup_for",
                              "C++ group::parallel_for(lambda)"};
    table("Newton cbrt, 2^21 cells (scalar), target <= 1.03", "raw", lv, ln, 3, reps, 0);
    return 0;
}
