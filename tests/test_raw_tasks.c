/*
 * Annotated raw task graphs: ERRGROUP_TASK_BODY / ERRGROUP_TASK_FAIL on
 * `#pragma omp task depend(...)` tasks, the waiting rule (errgroup_wait
 * covers the caller's own raw children; a taskgroup covers descendants),
 * errgroup_wait without any go, and raw tasks ordered against go_deps
 * siblings.
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
static void take_ticket(struct trace *t, int i)
{
    for (int k = 0; k < 1000 * (i % 3); k++)
        __asm__ __volatile__("" ::: "memory");
    t->ticket[i] = __atomic_fetch_add(&t->next, 1, __ATOMIC_RELAXED);
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
        (void)cell; /* gcc 12 does not count a use in depend() (-Wunused-variable) */
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_mode(&g, mode), 0);
        int rc = -1;
#pragma omp parallel default(none) shared(g, t, cell, rc, fail)
#pragma omp single
        {
            for (int i = 0; i < N; i++) {
#pragma omp task default(none) shared(g, t, cell, fail) firstprivate(i) depend(inout: cell)
                ERRGROUP_TASK_BODY(&g, i) {
                    take_ticket(&t, i);
                    if (i == fail || i == fail + 5)
                        ERRGROUP_TASK_FAIL(&g, EDOM, i, "task %d", i);
                    t.after[i] = 1;
                }
            }
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
#pragma omp single
        {
#pragma omp taskgroup
            for (int i = 0; i < N / 2; i++) {
#pragma omp task default(none) shared(g, t, child_ran) firstprivate(i)
                ERRGROUP_TASK_BODY(&g, i) {
#pragma omp task default(none) shared(g, child_ran) firstprivate(i)
                    ERRGROUP_TASK_BODY(&g, i) {
                        for (int k = 0; k < 20000; k++)
                            __asm__ __volatile__("" ::: "memory");
                        __atomic_store_n(&child_ran[i], 1, __ATOMIC_RELAXED);
                    }
                    take_ticket(&t, i);
                    if (i == 23 || i == 11)
                        ERRGROUP_TASK_FAIL(&g, ERANGE, i, "bad %d", i);
                }
            }
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
#pragma omp single
    {
#pragma omp task default(none) shared(g, ran)
        ERRGROUP_TASK_BODY(&g, ERRGROUP_NO_INDEX) {
            ran = 1;
        }
    }
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
#pragma omp single
        {
#pragma omp task default(none) shared(g, t, cell) depend(out: cell)
            ERRGROUP_TASK_BODY(&g, 0) {
                for (int k = 0; k < 50000; k++)
                    __asm__ __volatile__("" ::: "memory");
                take_ticket(&t, 0);
            }
            errgroup_dep d[1] = {{&cell, ERRGROUP_DEP_IN}};
            go_rc = errgroup_go_deps(&g, go_reader, &t, d, 1);
#pragma omp task default(none) shared(g, t, cell) depend(inout: cell)
            ERRGROUP_TASK_BODY(&g, 2) {
                take_ticket(&t, 2);
            }
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
