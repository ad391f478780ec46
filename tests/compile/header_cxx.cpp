// Compile check: errgroup.h from C++11, with OpenMP: the loop macros in an
// OpenMP loop, tasks, errgroup_for, and the error accessors. Exit status 0
// means every check held.
#include "errgroup.h"

#include <cstdio>
#include <cstring>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const char *what, int line)
{
    if (!ok) {
        std::fprintf(stderr, "header_cxx.cpp:%d: check failed: %s\n", line, what);
        failures++;
    }
}

#define CHECK(cond) check((cond), #cond, __LINE__)

} // namespace

// Callbacks handed to the C library get C language linkage.
extern "C" {

static int cxx_task(errgroup *g, void *arg)
{
    int index = *static_cast<int *>(arg);
    if (index == 5)
        return errgroup_fail(g, 11, index, "task %d failed", index);
    return 0;
}

static int cxx_range(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)g;
    long long *sum = static_cast<long long *>(arg);
    long long local = 0;
    for (int64_t i = lo; i < hi; i++)
        local += i;
    __atomic_fetch_add(sum, local, __ATOMIC_RELAXED);
    return 0;
}

} // extern "C"

static void annotated_loop()
{
    const int n = 10000;
    std::vector<unsigned char> ran(n, 0);
    errgroup g;
    CHECK(errgroup_init(&g) == 0);
    unsigned char *r = ran.data();
#pragma omp parallel for schedule(dynamic, 64)
    for (int i = 0; i < n; i++) {
        ERRGROUP_LOOP_CHECK(&g, i);
        r[i] = 1;
        if (i == 4321)
            ERRGROUP_LOOP_FAIL(&g, 7, i, "cell %d", i);
    }
    CHECK(errgroup_wait(&g) == 7);
    errgroup_error e;
    CHECK(errgroup_first_error(&g, &e) == 0);
    CHECK(e.code == 7);
    CHECK(e.index == 4321);
    CHECK(std::strcmp(e.message, "cell 4321") == 0);
    CHECK(ran[4321] == 1);
    CHECK(errgroup_destroy(&g) == 0);
}

static void tasks_and_for()
{
    errgroup g;
    CHECK(errgroup_init(&g) == 0);
    int idx[10];
    int rc = -1;
#pragma omp parallel
#pragma omp single
    {
        for (int i = 0; i < 10; i++) {
            idx[i] = i;
            if (errgroup_go(&g, cxx_task, &idx[i]) != 0)
                break;
        }
        rc = errgroup_wait(&g);
    }
    CHECK(rc == 11);
    CHECK(std::strcmp(errgroup_strerror(ERRGROUP_ECANCELED), "group canceled") == 0);
    CHECK(errgroup_destroy(&g) == 0);

    CHECK(errgroup_init(&g) == 0);
    long long sum = 0;
    CHECK(errgroup_for(&g, 0, 1000, cxx_range, &sum) == 0);
    CHECK(sum == 999LL * 1000 / 2);
    errgroup_counters c;
    CHECK(errgroup_get_counters(&g, &c) == 0);
    CHECK(c.submitted == 1000 && c.finished == 1000);
    CHECK(errgroup_wait(&g) == 0);
    CHECK(errgroup_destroy(&g) == 0);
    CHECK(errgroup_version() == ERRGROUP_VERSION_NUMBER);
}

int main()
{
    annotated_loop();
    tasks_and_for();
    if (failures != 0) {
        std::fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    return 0;
}
