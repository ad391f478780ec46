/*
 * Compile check: errgroup.h and its loop macros without OpenMP.
 *
 * This file is compiled WITHOUT -fopenmp (the library it links against still
 * needs the OpenMP runtime at link time). The annotated loops are then plain
 * serial loops, and ERRGROUP_LOOP_CHECK / ERRGROUP_LOOP_FAIL `break` out of
 * them once the group is cancelled. Exit status 0 means every check held.
 */
#ifdef _OPENMP
#  error "compile this file without -fopenmp"
#endif

#include <stdio.h>
#include <string.h>

#include "errgroup.h"

#define N 100

static int failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            failures++;                                                        \
        }                                                                      \
    } while (0)

/* The loop stops right after its first failure (40), so 60 never fails. */
static void stops_at_first_error(void)
{
    int ran[N] = {0}, after[N] = {0};
    errgroup g;
    CHECK(errgroup_init(&g) == 0);
    for (int i = 0; i < N; i++) {
        ERRGROUP_LOOP_CHECK(&g, i);
        ran[i] = 1;
        if (i == 40 || i == 60)
            ERRGROUP_LOOP_FAIL(&g, 9, i, "serial %d", i);
        after[i] = 1;
    }
    CHECK(errgroup_wait(&g) == 9);
    errgroup_error e;
    CHECK(errgroup_first_error(&g, &e) == 0);
    CHECK(e.code == 9);
    CHECK(e.index == 40);
    CHECK(strcmp(e.message, "serial 40") == 0);
    for (int i = 0; i < N; i++) {
        CHECK(ran[i] == (i <= 40));
        CHECK(after[i] == (i < 40));
    }
    CHECK(errgroup_destroy(&g) == 0);
}

/* A group cancelled beforehand: the first check leaves the loop. */
static void cancelled_group_runs_nothing(void)
{
    int ran = 0;
    errgroup g;
    CHECK(errgroup_init(&g) == 0);
    CHECK(errgroup_cancel(&g) == 0);
    for (int64_t i = 0; i < N; i++) {
        ERRGROUP_LOOP_CHECK(&g, i);
        ran++;
    }
    CHECK(ran == 0);
    CHECK(errgroup_wait(&g) == ERRGROUP_ECANCELED);
    CHECK(errgroup_destroy(&g) == 0);
}

/* Lowest-index mode: an error is no cancellation, so the loop walks on,
 * skipping everything above the failure. */
static void lowest_index_skips_above(void)
{
    int ran[N] = {0};
    errgroup g;
    CHECK(errgroup_init(&g) == 0);
    CHECK(errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX) == 0);
    for (int i = 0; i < N; i++) {
        ERRGROUP_LOOP_CHECK(&g, i);
        ran[i] = 1;
        if (i == 7) {
            ERRGROUP_LOOP_FAIL(&g, 3, i, "lowest %d", i);
        } else {
            ran[i] = 1; /* braced: an else may follow */
        }
    }
    CHECK(errgroup_wait(&g) == 3);
    errgroup_error e;
    CHECK(errgroup_first_error(&g, &e) == 0);
    CHECK(e.index == 7);
    CHECK(strcmp(e.message, "lowest 7") == 0);
    for (int i = 0; i < N; i++)
        CHECK(ran[i] == (i <= 7));
    CHECK(errgroup_destroy(&g) == 0);
}

static int task_body(errgroup *g, void *arg);

/* The raw-task macros without OpenMP: the "tasks" (pragmas ignored) run in
 * order; after the failure at 3 the bodies are skipped, and the code after
 * ERRGROUP_TASK_FAIL in the failing body does not run. */
static void task_macros_skip_after_failure(void)
{
    int ran[N] = {0}, after[N] = {0};
    errgroup g;
    CHECK(errgroup_init(&g) == 0);
    for (int i = 0; i < 10; i++) {
        /* (a `#pragma omp task` here would trip -Wunknown-pragmas) */
        ERRGROUP_TASK_BODY(&g, i) {
            ran[i] = 1;
            if (i == 3)
                ERRGROUP_TASK_FAIL(&g, 4, i, "task %d", i);
            after[i] = 1;
        }
    }
    CHECK(errgroup_wait(&g) == 4);
    errgroup_error e;
    CHECK(errgroup_first_error(&g, &e) == 0);
    CHECK(e.index == 3);
    CHECK(strcmp(e.message, "task 3") == 0);
    for (int i = 0; i < 10; i++) {
        CHECK(ran[i] == (i <= 3));
        CHECK(after[i] == (i < 3));
    }
    CHECK(errgroup_destroy(&g) == 0);
}

static void go_deps_from_serial_code(void)
{
    errgroup g;
    CHECK(errgroup_init(&g) == 0);
    int calls = 0;
    errgroup_dep d[1] = {{&calls, ERRGROUP_DEP_INOUT}};
    CHECK(errgroup_go_deps(&g, task_body, &calls, d, 1) == 0); /* runs at once */
    CHECK(calls == 1);
    CHECK(errgroup_wait(&g) == 0);
    CHECK(errgroup_destroy(&g) == 0);
}

/* The functions work from a file built without OpenMP too. */
static int count_range(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)g;
    /* errgroup_for opens its own parallel region: chunks may run on other
     * threads even though this file has no OpenMP. */
    __atomic_fetch_add((int64_t *)arg, hi - lo, __ATOMIC_RELAXED);
    return 0;
}

static int task_body(errgroup *g, void *arg)
{
    (void)g;
    (*(int *)arg)++;
    return 0;
}

static void functions_from_serial_code(void)
{
    errgroup g;
    CHECK(errgroup_init(&g) == 0);
    CHECK(errgroup_set_chunk(&g, 1000) == 0);
    int64_t total = 0;
    CHECK(errgroup_for(&g, 0, 10000, count_range, &total) == 0);
    CHECK(total == 10000);
    int calls = 0;
    CHECK(errgroup_go(&g, task_body, &calls) == 0); /* outside a region: runs at once */
    CHECK(calls == 1);
    CHECK(errgroup_wait(&g) == 0);
    CHECK(errgroup_destroy(&g) == 0);
    CHECK(strcmp(errgroup_strerror(ERRGROUP_EAGAIN), "group concurrency limit reached") == 0);
    CHECK(errgroup_version() == ERRGROUP_VERSION_NUMBER);
}

int main(void)
{
    stops_at_first_error();
    cancelled_group_runs_nothing();
    lowest_index_skips_above();
    functions_from_serial_code();
    task_macros_skip_after_failure();
    go_deps_from_serial_code();
    if (failures != 0) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    return 0;
}
