/*
 * Annotated raw task graphs: ERRGROUP_TASK_BODY / ERRGROUP_TASK_FAIL on
 * `#pragma omp task depend(...)` tasks, the waiting rule (errgroup_wait
 * covers the caller's own raw children; a taskgroup covers descendants),
 * errgroup_wait without any go, and raw tasks ordered against go_deps
 * siblings.
 *
 * Graphs are built under `omp master`, not `single`: libgomp 12 never frees
 * the dependence table of a worker thread's implicit task (LeakSanitizer).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <omp.h>

#include "errgroup.h"
#include "test_util.h"

#define ROUNDS 50
#define N 64

/* Functions that create raw tasks: libomp recycles task memory without
 * telling ThreadSanitizer, so the firstprivate copy into a new task is
 * reported as a race with the previous task's read of it (the library does
 * the same for its own spawn functions: EG_NO_TSAN in src/internal.h). What
 * the bodies record goes through take_ticket and the flag helpers, which
 * stay instrumented. */
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 8)
#  define SPAWNS __attribute__((noinline, no_sanitize("thread")))
#else
#  define SPAWNS __attribute__((noinline))
#endif
#define RECORDS __attribute__((noinline))

struct trace {
    int next;
    int ticket[N]; /* -1: the body never started */
    int after[N];  /* the body went past its ERRGROUP_TASK_FAIL point */
};

static void trace_init(struct trace *t)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; i < N; i++)
        t->ticket[i] = -1;
}

/* Relaxed: dependences order the bodies (happens-before), which orders
 * their increments in the counter's modification order. */
static RECORDS void take_ticket(struct trace *t, int i)
{
    for (int k = 0; k < 1000 * (i % 3); k++)
        __asm__ __volatile__("" ::: "memory");
    t->ticket[i] = __atomic_fetch_add(&t->next, 1, __ATOMIC_RELAXED);
}

static RECORDS void set_flag(int *flag)
{
    __atomic_store_n(flag, 1, __ATOMIC_RELAXED);
}

static SPAWNS void spawn_link(errgroup *g, struct trace *t, char *cell, int i, int fail)
{
    (void)cell; /* gcc 12 does not count its use in depend() (-Wunused-parameter) */
#pragma omp task default(none) firstprivate(g, t, cell, i, fail) depend(inout: cell[0])
    ERRGROUP_TASK_BODY(g, i) {
        take_ticket(t, i);
        if (i == fail || i == fail + 5)
            ERRGROUP_TASK_FAIL(g, EDOM, i, "task %d", i);
        set_flag(&t->after[i]);
    }
}

/* A raw chain on one cell; task `fail` reports an error. The tasks after it
 * still run (their dependences are released) but skip their bodies, and
 * errgroup_wait in the creating task covers them. */
static void run_raw_chain(int mode, int fail)
{
    for (int round = 0; round < ROUNDS; round++) {
        struct trace t;
        trace_init(&t);
        char cell = 0;
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_mode(&g, mode), 0);
        int rc = -1;
#pragma omp parallel default(none) shared(g, t, cell, rc) firstprivate(fail)
#pragma omp master
        {
            for (int i = 0; i < N; i++)
                spawn_link(&g, &t, &cell, i, fail);
            rc = errgroup_wait(&g);
        }
        assert_int_equal(rc, EDOM);
        char want[32];
        snprintf(want, sizeof want, "task %d", fail);
        EXPECT_FIRST_ERROR(&g, EDOM, fail, want);
        for (int i = 0; i < N; i++) {
            assert_int_equal(t.ticket[i], i <= fail ? i : -1);
            assert_int_equal(t.after[i], i < fail);
        }
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

static void test_task_body_skips_successors_after_failure(void **state)
{
    (void)state;
    run_raw_chain(ERRGROUP_FIRST_ERROR, 17);
    run_raw_chain(ERRGROUP_LOWEST_INDEX, 17);
    run_raw_chain(ERRGROUP_FIRST_ERROR, 0);
}

static SPAWNS void spawn_child(errgroup *g, int *child_ran, int i)
{
#pragma omp task default(none) firstprivate(g, child_ran, i)
    ERRGROUP_TASK_BODY(g, i) {
        for (int k = 0; k < 20000; k++)
            __asm__ __volatile__("" ::: "memory");
        set_flag(&child_ran[i]);
    }
}

static SPAWNS void spawn_parent(errgroup *g, struct trace *t, int *child_ran, int i)
{
#pragma omp task default(none) firstprivate(g, t, child_ran, i)
    ERRGROUP_TASK_BODY(g, i) {
        spawn_child(g, child_ran, i);
        take_ticket(t, i);
        if (i == 23 || i == 11)
            ERRGROUP_TASK_FAIL(g, ERANGE, i, "bad %d", i);
    }
}

/* Independent raw tasks, two of them fail: lowest-index mode always reports
 * the lower one. Each task creates a raw child that also checks the group,
 * so the graph is two levels deep: a taskgroup waits for it, then wait. */
static void test_task_body_lowest_index_under_taskgroup(void **state)
{
    (void)state;
    for (int round = 0; round < ROUNDS; round++) {
        struct trace t;
        trace_init(&t);
        int child_ran[N];
        memset(child_ran, 0, sizeof child_ran);
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX), 0);
        int rc = -1, done_before_wait = 0;
#pragma omp parallel default(none) shared(g, t, child_ran, rc, done_before_wait)
#pragma omp master
        {
#pragma omp taskgroup
            for (int i = 0; i < N / 2; i++)
                spawn_parent(&g, &t, child_ran, i);
            /* The taskgroup has waited for the children as well. */
            int all = 1;
            for (int i = 0; i <= 11; i++)
                all &= __atomic_load_n(&child_ran[i], __ATOMIC_RELAXED);
            done_before_wait = all;
            rc = errgroup_wait(&g);
        }
        assert_int_equal(rc, ERANGE);
        EXPECT_FIRST_ERROR(&g, ERANGE, 11, "bad 11");
        assert_int_equal(done_before_wait, 1);
        for (int i = 0; i <= 11; i++)
            assert_true(t.ticket[i] >= 0);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

static SPAWNS void spawn_flag_task(errgroup *g, int *ran)
{
#pragma omp task default(none) firstprivate(g, ran)
    ERRGROUP_TASK_BODY(g, ERRGROUP_NO_INDEX) {
        set_flag(ran);
    }
}

/* errgroup_wait without any go: the outcome of the group. */
static void test_wait_without_go_returns_outcome(void **state)
{
    (void)state;
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(errgroup_wait(&g), ERRGROUP_ECLOSED);
    assert_int_equal(errgroup_destroy(&g), 0);

    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_cancel(&g), 0);
    int ran = 0;
#pragma omp parallel default(none) shared(g, ran)
#pragma omp master
    spawn_flag_task(&g, &ran);
    assert_int_equal(ran, 0);
    assert_int_equal(errgroup_wait(&g), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_destroy(&g), 0);

    /* Without a parallel region the tasks run at once; wait after it. */
    assert_int_equal(errgroup_init(&g), 0);
    ran = 0;
    for (int i = 0; i < 4; i++) {
        ERRGROUP_TASK_BODY(&g, i) {
            ran++;
            ERRGROUP_TASK_FAIL(&g, 5, i, NULL);
        }
    }
    assert_int_equal(ran, 1);
    assert_int_equal(errgroup_wait(&g), 5);
    EXPECT_FIRST_ERROR(&g, 5, 0, "");
    assert_int_equal(errgroup_destroy(&g), 0);
}

static int go_reader(errgroup *g, void *arg)
{
    (void)g;
    take_ticket(arg, 1);
    return 0;
}

/* Task 0 writes the cell after a delay; task 2 updates it. */
static SPAWNS void spawn_raw_sibling(errgroup *g, struct trace *t, char *cell, int i)
{
    (void)cell; /* as in spawn_link */
#pragma omp task default(none) firstprivate(g, t, cell, i) depend(inout: cell[0])
    ERRGROUP_TASK_BODY(g, i) {
        for (int k = 0; k < 50000 * (i == 0); k++)
            __asm__ __volatile__("" ::: "memory");
        take_ticket(t, i);
    }
}

/* A raw writer, a go_deps reader and a raw reader-writer, all created by the
 * same task: dependences order them across the two kinds. */
static void test_raw_and_go_deps_siblings_are_ordered(void **state)
{
    (void)state;
    for (int round = 0; round < ROUNDS; round++) {
        struct trace t;
        trace_init(&t);
        char cell = 0;
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        int rc = -1, go_rc = -1;
#pragma omp parallel default(none) shared(g, t, cell, rc, go_rc)
#pragma omp master
        {
            spawn_raw_sibling(&g, &t, &cell, 0);
            errgroup_dep d[1] = {{&cell, ERRGROUP_DEP_IN}};
            go_rc = errgroup_go_deps(&g, go_reader, &t, d, 1);
            spawn_raw_sibling(&g, &t, &cell, 2);
            rc = errgroup_wait(&g);
        }
        assert_int_equal(go_rc, 0);
        assert_int_equal(rc, 0);
        for (int i = 0; i < 3; i++)
            assert_int_equal(t.ticket[i], i);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_body_skips_successors_after_failure),
        cmocka_unit_test(test_task_body_lowest_index_under_taskgroup),
        cmocka_unit_test(test_wait_without_go_returns_outcome),
        cmocka_unit_test(test_raw_and_go_deps_siblings_are_ordered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
