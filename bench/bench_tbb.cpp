/*
 * bench_tbb: the bench_task workloads with oneTBB's task_group, for
 * comparison. A separate program (C++, no OpenMP); bench/run.sh divides its
 * numbers by errgroup's from the same script run.
 *
 * Threads: OMP_NUM_THREADS if set, else the hardware concurrency, applied with
 * tbb::global_control so that both libraries get the same number of threads.
 * The main thread submits, like the `single` thread in bench_task.
 *
 * Usage: bench_tbb [reps]   (default 7)
 */
#include "bench_util.h"

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_group.h>
#include <oneapi/tbb/version.h>

#include <atomic>
#include <thread>

namespace {

const int64_t trivial_n = 1000000;
const int64_t lat_n = 100000;
const int64_t lat_fail = 5000;

std::atomic<int64_t> g_count{0};
std::atomic<int64_t> g_ran{0};
uint64_t g_spin_1us;

void trivial(void *arg)
{
    static_cast<std::atomic<int64_t> *>(arg)->fetch_add(1, std::memory_order_relaxed);
}

void (*volatile g_fn)(void *) = trivial;

double run_trivial()
{
    g_count = 0;
    void (*fn)(void *) = g_fn;
    void *arg = &g_count;
    tbb::task_group tg;
    double t0 = bench_now();
    for (int64_t i = 0; i < trivial_n; i++)
        tg.run([fn, arg] { fn(arg); });
    tg.wait();
    double t = bench_now() - t0;
    if (g_count != trivial_n) {
        std::fprintf(stderr, "trivial: %lld bodies ran\n", static_cast<long long>(g_count.load()));
        std::exit(1);
    }
    return t;
}

/* Task lat_fail cancels the group. Tasks not started by then are skipped by
 * the scheduler; the bodies also check at their start (like the raw OpenMP
 * variant's cancellation point), and the submit loop stops, like a go loop
 * that stops at ERRGROUP_ECANCELED. */
double run_latency(int64_t *ran)
{
    g_ran = 0;
    tbb::task_group_context ctx;
    tbb::task_group tg(ctx);
    std::atomic<int> code{0};
    double t0 = bench_now();
    for (int64_t i = 0; i < lat_n; i++) {
        if (ctx.is_group_execution_cancelled())
            break;
        tg.run([i, &tg, &code] {
            if (tbb::is_current_task_group_canceling())
                return;
            g_ran.fetch_add(1, std::memory_order_relaxed);
            bench_spin(g_spin_1us);
            if (i == lat_fail) {
                code.store(5, std::memory_order_relaxed);
                tg.cancel();
            }
        });
    }
    tbb::task_group_status st = tg.wait();
    double t = bench_now() - t0;
    if (st != tbb::canceled || code.load() != 5) {
        std::fprintf(stderr, "latency: expected a cancelled group\n");
        std::exit(1);
    }
    *ran = g_ran;
    return t;
}

} // namespace

int main(int argc, char **argv)
{
    int reps = bench_reps(argc, argv, 7);
    int threads = static_cast<int>(std::thread::hardware_concurrency());
    const char *env = std::getenv("OMP_NUM_THREADS");
    if (env != nullptr && std::atoi(env) > 0)
        threads = std::atoi(env);
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                              static_cast<size_t>(threads));

    bench_header("bench_tbb", reps);
    std::printf("- oneTBB %s (interface %d), threads: %d\n", TBB_runtime_version(),
                TBB_runtime_interface_version(), threads);
    g_spin_1us = bench_calibrate_spin(1e-6);
    std::printf("- busy loop: %llu iterations = 1 us\n\n", static_cast<unsigned long long>(g_spin_1us));

    double t[BENCH_MAX_REPS], l[BENCH_MAX_REPS], ran[BENCH_MAX_REPS];
    int64_t r_ran = 0;
    (void)run_trivial();
    (void)run_latency(&r_ran);
    for (int r = 0; r < reps; r++) {
        t[r] = run_trivial();
        l[r] = run_latency(&r_ran);
        ran[r] = static_cast<double>(r_ran);
    }
    std::printf("### oneTBB task_group\n\n");
    std::printf("| workload | variant | time | bodies run |\n|---|---|---:|---:|\n");
    std::printf("| 1e6 trivial tasks | tbb::task_group run + wait | %.1f ns/task | %lld |\n",
                bench_median(t, reps) / static_cast<double>(trivial_n) * 1e9,
                static_cast<long long>(trivial_n));
    std::printf("| 1e5 tasks of 1 us, #5000 fails | tbb::task_group + cancel() | %.2f ms | %.0f |\n",
                bench_median(l, reps) * 1e3, bench_median(ran, reps));
    return 0;
}
