/*
 * ERRGROUP_LOWEST_INDEX: with many failing items, the reported error is the
 * lowest failing index with its own code and message, for errgroup_for at
 * every chunk size, for tasks submitted from one thread, and for annotated
 * `omp parallel for` loops under every schedule; everything below that index
 * still runs exactly once. In the default mode any one failure is reported,
 * intact.
 *
 * Bodies only record (atomics, per-index arrays); every assertion runs on the
 * test thread afterwards.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errgroup.h"

/* ---- The failing items ----------------------------------------------------- */

#define N_ITEMS 1000000
#define N_FAILS 17

/* Loop indices that fail, spread over [0, N_ITEMS), deliberately unsorted;
 * 4242 and 4243 share every chunk but size 1. */
static const int64_t loop_fails[N_FAILS] = {
    999999, 500000, 4243, 123456, 65536, 31337, 888888, 250000, 4242,
    777777, 9001,   99999, 612345, 333333, 950000, 700001, 424242,
};
#define LOOP_LOWEST 4242

/* Task ordinals that fail, spread over [0, N_TASKS). */
#define N_TASKS 4000
static const int64_t task_fails[N_FAILS] = {
    3999, 2000, 312, 777, 1000, 1234, 3141, 1500, 311,
    1777, 2222, 2500, 2718, 3000, 3500, 3777, 501,
};
#define TASK_LOWEST 311

/* code_of[i] != 0: item i fails with that code (200 + its position above). */
static int loop_code[N_ITEMS];
static int task_code[N_TASKS];

static unsigned char ran[N_ITEMS];

static void mark_fails(int *codes, int64_t n, const int64_t *fails)
{
    memset(codes, 0, (size_t)n * sizeof *codes);
    for (int k = 0; k < N_FAILS; k++)
        codes[fails[k]] = 200 + k;
}

static void reset_ran(void)
{
    memset(ran, 0, sizeof ran);
}

static void note_ran(int64_t i)
{
    __atomic_fetch_add(&ran[i], 1, __ATOMIC_RELAXED);
}

static void expected_message(char *buf, size_t size, int64_t i)
{
    snprintf(buf, size, "item %lld failed", (long long)i);
}

/* Checks the group's error is item `idx`'s, with its message unless the body
 * returned its code without errgroup_fail (then the message is empty). */
static void assert_error_is_item(const errgroup *g, const int *codes, int64_t idx,
                                 int with_message)
{
    errgroup_error e;
    assert_int_equal(errgroup_first_error(g, &e), 0);
    assert_int_equal(e.index, idx);
    assert_int_equal(e.code, codes[idx]);
    char want[64];
    if (with_message)
        expected_message(want, sizeof want, idx);
    else
        want[0] = '\0';
    assert_string_equal(e.message, want);
}

/* Everything up to and including `lowest` ran exactly once; nothing ran twice. */
static void assert_ran_through(int64_t lowest, int64_t n)
{
    for (int64_t i = 0; i <= lowest; i++)
        if (ran[i] != 1)
            fail_msg("item %lld below the lowest failure ran %d times", (long long)i, ran[i]);
    for (int64_t i = lowest + 1; i < n; i++)
        if (ran[i] > 1)
            fail_msg("item %lld ran %d times", (long long)i, ran[i]);
}

/* In lowest-index mode an error alone is not a cancellation. */
static void assert_lowest_skip_answers(errgroup *g, int64_t lowest)
{
    assert_int_equal(errgroup_canceled(g), 0);
    assert_int_equal(errgroup_canceled_at(g, lowest - 1), 0);
    assert_int_equal(errgroup_canceled_at(g, lowest), 0);
    assert_int_equal(errgroup_canceled_at(g, lowest + 1), 1);
}

/* ---- errgroup_for ---------------------------------------------------------- */

static int range_body(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)arg;
    for (int64_t i = lo; i < hi; i++) {
        note_ran(i);
        if (loop_code[i] != 0)
            return errgroup_fail(g, loop_code[i], i, "item %lld failed", (long long)i);
    }
    return 0;
}

static void run_for_lowest(int64_t chunk, int inside_region)
{
    reset_ran();
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX), 0);
    assert_int_equal(errgroup_set_chunk(&g, chunk), 0);
    int rc = -1;
    if (inside_region) {
#pragma omp parallel
#pragma omp single
        rc = errgroup_for(&g, 0, N_ITEMS, range_body, NULL);
    } else {
        rc = errgroup_for(&g, 0, N_ITEMS, range_body, NULL);
    }
    assert_int_equal(rc, loop_code[LOOP_LOWEST]);
    assert_error_is_item(&g, loop_code, LOOP_LOWEST, 1);
    assert_ran_through(LOOP_LOWEST, N_ITEMS);
    assert_lowest_skip_answers(&g, LOOP_LOWEST);

    errgroup_counters c;
    assert_int_equal(errgroup_get_counters(&g, &c), 0);
    assert_int_equal(c.submitted, N_ITEMS);
    assert_int_equal(c.finished + c.skipped, N_ITEMS);
    assert_int_equal(c.started, c.finished);
    assert_true(c.failed >= 1);
    assert_true(c.finished > LOOP_LOWEST);

    assert_int_equal(errgroup_wait(&g), loop_code[LOOP_LOWEST]);
    assert_error_is_item(&g, loop_code, LOOP_LOWEST, 1);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_for_lowest_index_reports_lowest_failure(void **state)
{
    (void)state;
    static const int64_t chunks[] = {1, 7, 1000, 0};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++)
        for (int rep = 0; rep < 2; rep++) {
            run_for_lowest(chunks[k], 0);
            run_for_lowest(chunks[k], 1);
        }
}

/*
 * errgroup_for starts each thread in its own part of the range (worker k of
 * W at k / W of it). Failures at the starts of the parts from 1/8 on are
 * found first; the lowest one sits just below, at the end of the part before
 * (of part 0 for 8 threads): it is still the one reported, and everything
 * below it ran once, for every chunk size (300000 is more than a part).
 */
static int part_code[N_ITEMS];

static int part_body(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    const int *codes = arg;
    for (int64_t i = lo; i < hi; i++) {
        note_ran(i);
        if (codes[i] != 0)
            return errgroup_fail(g, codes[i], i, "item %lld failed", (long long)i);
    }
    return 0;
}

static void test_for_lowest_index_below_later_parts(void **state)
{
    (void)state;
    static const int64_t chunks[] = {1, 7, 1000, 0, 300000};
    static const int firsts[] = {1, 3, 7};
    for (size_t f = 0; f < sizeof firsts / sizeof firsts[0]; f++) {
        const int64_t lowest = firsts[f] * (N_ITEMS / 8) - 1;
        memset(part_code, 0, sizeof part_code);
        part_code[lowest] = 300;
        for (int k = firsts[f]; k < 8; k++)
            part_code[k * (N_ITEMS / 8)] = 301 + k;
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++)
            for (int inside_region = 0; inside_region <= 1; inside_region++) {
                reset_ran();
                errgroup g;
                assert_int_equal(errgroup_init(&g), 0);
                assert_int_equal(errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX), 0);
                assert_int_equal(errgroup_set_chunk(&g, chunks[c]), 0);
                int rc = -1;
                if (inside_region) {
#pragma omp parallel
#pragma omp single
                    rc = errgroup_for(&g, 0, N_ITEMS, part_body, part_code);
                } else {
                    rc = errgroup_for(&g, 0, N_ITEMS, part_body, part_code);
                }
                assert_int_equal(rc, 300);
                assert_error_is_item(&g, part_code, lowest, 1);
                assert_ran_through(lowest, N_ITEMS);
                errgroup_counters cnt;
                assert_int_equal(errgroup_get_counters(&g, &cnt), 0);
                assert_int_equal(cnt.finished + cnt.skipped, N_ITEMS);
                assert_int_equal(cnt.started, cnt.finished);
                assert_int_equal(errgroup_wait(&g), 300);
                assert_int_equal(errgroup_destroy(&g), 0);
            }
    }
}

/* Sticky across calls: a later loop cannot replace a lower earlier error,
 * but a lower failure in a later loop does replace a higher one. */
static void test_for_lowest_index_across_calls(void **state)
{
    (void)state;
    reset_ran();
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX), 0);
    assert_int_equal(errgroup_set_chunk(&g, 100), 0);
    /* [500000, N): lowest failure there is 500000. */
    assert_int_equal(errgroup_for(&g, 500000, N_ITEMS, range_body, NULL), loop_code[500000]);
    assert_error_is_item(&g, loop_code, 500000, 1);
    /* [9001, 9002): a lower failure wins. */
    assert_int_equal(errgroup_for(&g, 9001, 9002, range_body, NULL), loop_code[9001]);
    assert_error_is_item(&g, loop_code, 9001, 1);
    /* [99999, 100000): higher, skipped entirely, error unchanged. */
    assert_int_equal(errgroup_for(&g, 99999, 100000, range_body, NULL), loop_code[9001]);
    assert_int_equal(ran[99999], 0);
    assert_int_equal(errgroup_wait(&g), loop_code[9001]);
    assert_error_is_item(&g, loop_code, 9001, 1);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- Tasks from one thread --------------------------------------------------- */

struct task_run {
    int use_fail; /* errgroup_fail with a message, or a bare return code */
};

static struct task_run task_mode;
static int64_t task_index[N_TASKS];

static int task_body(errgroup *g, void *arg)
{
    int64_t i = *(const int64_t *)arg;
    note_ran(i);
    if (task_code[i] == 0)
        return 0;
    if (task_mode.use_fail)
        return errgroup_fail(g, task_code[i], i, "item %lld failed", (long long)i);
    return task_code[i]; /* recorded with the task's ordinal, which is i */
}

static void run_tasks_lowest(int use_fail)
{
    reset_ran();
    task_mode.use_fail = use_fail;
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX), 0);
    int rc = -1, accepted = 0, other_rc = 0;
#pragma omp parallel
#pragma omp single
    {
        for (int i = 0; i < N_TASKS; i++) {
            int r = errgroup_go(&g, task_body, &task_index[i]);
            if (r == ERRGROUP_ECANCELED)
                break; /* only ordinals above a recorded failure are refused */
            if (r != 0) {
                other_rc = r;
                break;
            }
            accepted++;
        }
        rc = errgroup_wait(&g);
    }
    assert_int_equal(other_rc, 0);
    assert_true(accepted > TASK_LOWEST);
    assert_int_equal(rc, task_code[TASK_LOWEST]);
    assert_error_is_item(&g, task_code, TASK_LOWEST, use_fail);
    assert_ran_through(TASK_LOWEST, accepted);
    for (int64_t i = accepted; i < N_TASKS; i++)
        assert_int_equal(ran[i], 0);
    assert_lowest_skip_answers(&g, TASK_LOWEST);
    errgroup_counters c;
    assert_int_equal(errgroup_get_counters(&g, &c), 0);
    assert_int_equal(c.submitted, accepted);
    assert_int_equal(c.finished + c.skipped, accepted);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_go_lowest_index_reports_lowest_ordinal(void **state)
{
    (void)state;
    for (int rep = 0; rep < 3; rep++) {
        run_tasks_lowest(1);
        run_tasks_lowest(0);
    }
}

/* ---- Annotated omp parallel for loops ------------------------------------------ */

/* One iteration of an annotated loop: the shared body of the loops below.
 * These loops use the macros' default (no ERRGROUP_LOOP_OMP_CANCEL). */
#define LOWEST_LOOP_BODY(g, i)                                                 \
    ERRGROUP_LOOP_CHECK(g, i);                                                 \
    note_ran(i);                                                               \
    if (loop_code[i] != 0)                                                     \
        ERRGROUP_LOOP_FAIL(g, loop_code[i], i, "item %lld failed", (long long)(i));

static void loop_static(errgroup *g)
{
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N_ITEMS; i++) {
        LOWEST_LOOP_BODY(g, i)
    }
}

static void loop_dynamic_1(errgroup *g)
{
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t i = 0; i < N_ITEMS; i++) {
        LOWEST_LOOP_BODY(g, i)
    }
}

static void loop_dynamic_256(errgroup *g)
{
#pragma omp parallel for schedule(dynamic, 256)
    for (int64_t i = 0; i < N_ITEMS; i++) {
        LOWEST_LOOP_BODY(g, i)
    }
}

static void loop_guided(errgroup *g)
{
#pragma omp parallel for schedule(guided)
    for (int64_t i = 0; i < N_ITEMS; i++) {
        LOWEST_LOOP_BODY(g, i)
    }
}

/* int loop variable and a static chunk, for good measure. */
static void loop_static_7_int(errgroup *g)
{
#pragma omp parallel for schedule(static, 7)
    for (int i = 0; i < N_ITEMS; i++) {
        LOWEST_LOOP_BODY(g, i)
    }
}

typedef void annotated_loop(errgroup *g);

static annotated_loop *const loops[] = {
    loop_static, loop_dynamic_1, loop_dynamic_256, loop_guided, loop_static_7_int,
};
static const char *const loop_names[] = {
    "static", "dynamic,1", "dynamic,256", "guided", "static,7 (int)",
};

static void test_loop_macros_lowest_index_reports_lowest_failure(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof loops / sizeof loops[0]; k++) {
        reset_ran();
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX), 0);
        loops[k](&g);
        int rc = errgroup_wait(&g);
        if (rc != loop_code[LOOP_LOWEST])
            fail_msg("schedule %s: rc %d, want %d", loop_names[k], rc, loop_code[LOOP_LOWEST]);
        assert_error_is_item(&g, loop_code, LOOP_LOWEST, 1);
        assert_ran_through(LOOP_LOWEST, N_ITEMS);
        assert_lowest_skip_answers(&g, LOOP_LOWEST);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

/* ---- Default mode: some failure, intact ------------------------------------------ */

static int is_loop_fail(int64_t idx)
{
    return idx >= 0 && idx < N_ITEMS && loop_code[idx] != 0;
}

static void test_for_first_error_reports_one_failure_intact(void **state)
{
    (void)state;
    static const int64_t chunks[] = {1, 1000, 0};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        reset_ran();
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_chunk(&g, chunks[k]), 0);
        int rc = errgroup_for(&g, 0, N_ITEMS, range_body, NULL);
        errgroup_error e;
        assert_int_equal(errgroup_first_error(&g, &e), 0);
        assert_true(is_loop_fail(e.index));
        assert_int_equal(rc, loop_code[e.index]);
        assert_error_is_item(&g, loop_code, e.index, 1);
        assert_int_equal(ran[e.index], 1);
        for (int64_t i = 0; i < N_ITEMS; i++)
            assert_true(ran[i] <= 1);
        assert_int_equal(errgroup_canceled(&g), 1);
        assert_int_equal(errgroup_wait(&g), rc);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

static void test_loop_macros_first_error_reports_one_failure_intact(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof loops / sizeof loops[0]; k++) {
        reset_ran();
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        loops[k](&g);
        int rc = errgroup_wait(&g);
        errgroup_error e;
        assert_int_equal(errgroup_first_error(&g, &e), 0);
        if (!is_loop_fail(e.index))
            fail_msg("schedule %s: index %lld is not a failing item", loop_names[k],
                     (long long)e.index);
        assert_int_equal(rc, loop_code[e.index]);
        assert_error_is_item(&g, loop_code, e.index, 1);
        assert_int_equal(ran[e.index], 1);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

static int is_task_fail(int64_t idx)
{
    return idx >= 0 && idx < N_TASKS && task_code[idx] != 0;
}

static void test_go_first_error_reports_one_failure_intact(void **state)
{
    (void)state;
    for (int use_fail = 0; use_fail <= 1; use_fail++) {
        reset_ran();
        task_mode.use_fail = use_fail;
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        int rc = -1;
#pragma omp parallel
#pragma omp single
        {
            for (int i = 0; i < N_TASKS; i++)
                if (errgroup_go(&g, task_body, &task_index[i]) != 0)
                    break;
            rc = errgroup_wait(&g);
        }
        errgroup_error e;
        assert_int_equal(errgroup_first_error(&g, &e), 0);
        assert_true(is_task_fail(e.index));
        assert_int_equal(rc, task_code[e.index]);
        assert_error_is_item(&g, task_code, e.index, use_fail);
        assert_int_equal(ran[e.index], 1);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

static int setup(void **state)
{
    (void)state;
    mark_fails(loop_code, N_ITEMS, loop_fails);
    mark_fails(task_code, N_TASKS, task_fails);
    for (int64_t i = 0; i < N_TASKS; i++)
        task_index[i] = i;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_for_lowest_index_reports_lowest_failure),
        cmocka_unit_test(test_for_lowest_index_across_calls),
        cmocka_unit_test(test_for_lowest_index_below_later_parts),
        cmocka_unit_test(test_go_lowest_index_reports_lowest_ordinal),
        cmocka_unit_test(test_loop_macros_lowest_index_reports_lowest_failure),
        cmocka_unit_test(test_for_first_error_reports_one_failure_intact),
        cmocka_unit_test(test_loop_macros_first_error_reports_one_failure_intact),
        cmocka_unit_test(test_go_first_error_reports_one_failure_intact),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
