/*
 * ERRGROUP_LOOP_CHECK / ERRGROUP_LOOP_FAIL in `omp parallel for` loops:
 * static, dynamic and guided schedules, int and int64_t loop variables; the
 * first error's code, index and message; no new work after a thread has
 * seen the failure or a cancellation; brace-less use inside an `if`. The
 * results must be the same with OMP_CANCELLATION true and false (the ctest
 * matrix runs both).
 *
 * test_macros_cancel.c compiles this same file with ERRGROUP_LOOP_OMP_CANCEL
 * defined (the opt-in `cancel for`); here the macros are in their default,
 * skip-only form.
 *
 * Loop bodies only record (atomics, per-index arrays); every assertion runs
 * on the test thread after the loop.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errgroup.h"
#include "test_util.h"

/*
 * With the opt-in `cancel for`, gcc (12.2 at least) gives the `for` of a
 * combined `parallel for` an implicit nowait and then warns, with no option
 * to silence it, that `cancel for` sits in a nowait loop; the header says to
 * write `omp parallel` + `omp for` then. So with gcc and the opt-in the loops
 * below use the split form; otherwise the combined one.
 */
#if defined(ERRGROUP_LOOP_OMP_CANCEL) && defined(__GNUC__) && !defined(__clang__)
#  define SPLIT_PARALLEL_FOR 1
#endif

/* ---- One parametrised loop body, eight loops ---------------------------------- */

struct scenario {
    errgroup *g;
    int64_t n;
    int64_t fail_at; /* the iteration that fails, or -1 */
    int fail_code;
    int gate;        /* real work waits until the group is cancelled */
    unsigned char *ran;
    int64_t executed; /* iterations that got past ERRGROUP_LOOP_CHECK */
    int started;      /* set by the first iteration that does real work */
};

/*
 * With `gate` set, every iteration that does real work (other than the one
 * that fails) waits until the group is cancelled. That makes the bound below
 * deterministic: each thread does the real work of at most one iteration,
 * because its next ERRGROUP_LOOP_CHECK reads the flag it has already seen.
 * The failing iteration is the first of the first chunk handed out, so its
 * thread is never one of the waiting ones.
 */
#define SCENARIO_BODY(s, i)                                                    \
    ERRGROUP_LOOP_CHECK((s)->g, i);                                            \
    __atomic_fetch_add(&(s)->ran[i], 1, __ATOMIC_RELAXED);                     \
    __atomic_fetch_add(&(s)->executed, 1, __ATOMIC_RELAXED);                   \
    __atomic_store_n(&(s)->started, 1, __ATOMIC_RELEASE);                      \
    if ((int64_t)(i) == (s)->fail_at) {                                        \
        ERRGROUP_LOOP_FAIL((s)->g, (s)->fail_code, i, "iteration %lld failed", \
                           (long long)(i));                                    \
    }                                                                          \
    if ((s)->gate) {                                                           \
        while (!errgroup_canceled((s)->g))                                     \
            sched_yield();                                                     \
    }

static void loop_static_i64(struct scenario *s)
{
    const int64_t n = s->n;
#ifdef SPLIT_PARALLEL_FOR
#pragma omp parallel
#pragma omp for schedule(static)
#else
#pragma omp parallel for schedule(static)
#endif
    for (int64_t i = 0; i < n; i++) {
        SCENARIO_BODY(s, i)
    }
}

static void loop_dynamic1_i64(struct scenario *s)
{
    const int64_t n = s->n;
#ifdef SPLIT_PARALLEL_FOR
#pragma omp parallel
#pragma omp for schedule(dynamic, 1)
#else
#pragma omp parallel for schedule(dynamic, 1)
#endif
    for (int64_t i = 0; i < n; i++) {
        SCENARIO_BODY(s, i)
    }
}

static void loop_dynamic256_i64(struct scenario *s)
{
    const int64_t n = s->n;
#ifdef SPLIT_PARALLEL_FOR
#pragma omp parallel
#pragma omp for schedule(dynamic, 256)
#else
#pragma omp parallel for schedule(dynamic, 256)
#endif
    for (int64_t i = 0; i < n; i++) {
        SCENARIO_BODY(s, i)
    }
}

static void loop_guided_i64(struct scenario *s)
{
    const int64_t n = s->n;
#ifdef SPLIT_PARALLEL_FOR
#pragma omp parallel
#pragma omp for schedule(guided)
#else
#pragma omp parallel for schedule(guided)
#endif
    for (int64_t i = 0; i < n; i++) {
        SCENARIO_BODY(s, i)
    }
}

static void loop_static_int(struct scenario *s)
{
    const int n = (int)s->n;
#ifdef SPLIT_PARALLEL_FOR
#pragma omp parallel
#pragma omp for schedule(static)
#else
#pragma omp parallel for schedule(static)
#endif
    for (int i = 0; i < n; i++) {
        SCENARIO_BODY(s, i)
    }
}

static void loop_dynamic1_int(struct scenario *s)
{
    const int n = (int)s->n;
#ifdef SPLIT_PARALLEL_FOR
#pragma omp parallel
#pragma omp for schedule(dynamic, 1)
#else
#pragma omp parallel for schedule(dynamic, 1)
#endif
    for (int i = 0; i < n; i++) {
        SCENARIO_BODY(s, i)
    }
}

static void loop_dynamic256_int(struct scenario *s)
{
    const int n = (int)s->n;
#ifdef SPLIT_PARALLEL_FOR
#pragma omp parallel
#pragma omp for schedule(dynamic, 256)
#else
#pragma omp parallel for schedule(dynamic, 256)
#endif
    for (int i = 0; i < n; i++) {
        SCENARIO_BODY(s, i)
    }
}

static void loop_guided_int(struct scenario *s)
{
    const int n = (int)s->n;
#ifdef SPLIT_PARALLEL_FOR
#pragma omp parallel
#pragma omp for schedule(guided)
#else
#pragma omp parallel for schedule(guided)
#endif
    for (int i = 0; i < n; i++) {
        SCENARIO_BODY(s, i)
    }
}

typedef void scenario_loop(struct scenario *s);

static scenario_loop *const loops[] = {
    loop_static_i64, loop_dynamic1_i64, loop_dynamic256_i64, loop_guided_i64,
    loop_static_int, loop_dynamic1_int, loop_dynamic256_int, loop_guided_int,
};
static const char *const loop_names[] = {
    "static/int64_t", "dynamic,1/int64_t", "dynamic,256/int64_t", "guided/int64_t",
    "static/int",     "dynamic,1/int",     "dynamic,256/int",     "guided/int",
};
#define N_LOOPS (sizeof loops / sizeof loops[0])

static void scenario_init(struct scenario *s, errgroup *g, int64_t n)
{
    memset(s, 0, sizeof *s);
    s->g = g;
    s->n = n;
    s->fail_at = -1;
    s->ran = calloc((size_t)n, 1);
    assert_non_null(s->ran);
}

static void assert_at_most_once(const struct scenario *s, const char *name)
{
    for (int64_t i = 0; i < s->n; i++)
        if (s->ran[i] > 1)
            fail_msg("%s: iteration %lld ran %d times", name, (long long)i, s->ran[i]);
}

/* ---- No failure ------------------------------------------------------------------ */

static void test_loop_check_without_failure_runs_everything(void **state)
{
    (void)state;
    const int64_t n = 50000;
    for (size_t k = 0; k < N_LOOPS; k++) {
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        struct scenario s;
        scenario_init(&s, &g, n);
        loops[k](&s);
        assert_int_equal(errgroup_wait(&g), 0);
        for (int64_t i = 0; i < n; i++)
            if (s.ran[i] != 1)
                fail_msg("%s: iteration %lld ran %d times", loop_names[k], (long long)i,
                         s.ran[i]);
        assert_int_equal(s.executed, n);
        /* Annotated loops are not counted. */
        errgroup_counters c;
        assert_int_equal(errgroup_get_counters(&g, &c), 0);
        assert_int_equal(c.submitted, 0);
        assert_int_equal(c.started, 0);
        assert_int_equal(errgroup_destroy(&g), 0);
        free(s.ran);
    }
}

/* ---- The first error ----------------------------------------------------------- */

static void test_loop_fail_records_code_index_message(void **state)
{
    (void)state;
    const int64_t n = 20000, f = 7777;
    for (size_t k = 0; k < N_LOOPS; k++) {
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        struct scenario s;
        scenario_init(&s, &g, n);
        s.fail_at = f;
        s.fail_code = 71;
        loops[k](&s);
        int rc = errgroup_wait(&g);
        if (rc != 71)
            fail_msg("%s: rc %d", loop_names[k], rc);
        EXPECT_FIRST_ERROR(&g, 71, f, "iteration 7777 failed");
        /* Only f fails and nothing else cancels, so f itself must have run. */
        assert_int_equal(s.ran[f], 1);
        assert_at_most_once(&s, loop_names[k]);
        assert_int_equal(errgroup_canceled(&g), 1);
        assert_int_equal(errgroup_destroy(&g), 0);
        free(s.ran);
    }
}

/* ---- No new work after the failure ------------------------------------------------ */

static void test_loop_fail_stops_new_work(void **state)
{
    (void)state;
    const int64_t n = 50000;
    const int threads = omp_get_max_threads();
    for (size_t k = 0; k < N_LOOPS; k++) {
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        struct scenario s;
        scenario_init(&s, &g, n);
        s.fail_at = 0;
        s.fail_code = 72;
        s.gate = 1;
        loops[k](&s);
        assert_int_equal(errgroup_wait(&g), 72);
        errgroup_error e;
        assert_int_equal(errgroup_first_error(&g, &e), 0);
        assert_int_equal(e.index, 0);
        assert_string_equal(e.message, "iteration 0 failed");
        assert_int_equal(s.ran[0], 1);
        /* One iteration of real work per thread at most: see SCENARIO_BODY. */
        if (s.executed < 1 || s.executed > threads)
            fail_msg("%s: %lld iterations did real work, %d threads", loop_names[k],
                     (long long)s.executed, threads);
        assert_at_most_once(&s, loop_names[k]);
        assert_int_equal(errgroup_destroy(&g), 0);
        free(s.ran);
    }
}

static void test_loop_check_on_cancelled_group_runs_nothing(void **state)
{
    (void)state;
    const int64_t n = 100000;
    for (size_t k = 0; k < N_LOOPS; k++) {
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_cancel(&g), 0);
        struct scenario s;
        scenario_init(&s, &g, n);
        loops[k](&s);
        assert_int_equal(errgroup_wait(&g), ERRGROUP_ECANCELED);
        assert_int_equal(s.executed, 0);
        assert_int_equal(errgroup_destroy(&g), 0);
        free(s.ran);
    }
}

/* ---- errgroup_cancel from another thread --------------------------------------- */

struct canceller {
    struct scenario *s;
    int cancel_rc;
};

static void *canceller_main(void *arg)
{
    struct canceller *c = arg;
    while (!__atomic_load_n(&c->s->started, __ATOMIC_ACQUIRE))
        sched_yield();
    c->cancel_rc = errgroup_cancel(c->s->g);
    return NULL;
}

static void test_loop_check_stopped_by_cancel_from_other_thread(void **state)
{
    (void)state;
    const int64_t n = 50000;
    const int threads = omp_get_max_threads();
    for (size_t k = 0; k < N_LOOPS; k++) {
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        struct scenario s;
        scenario_init(&s, &g, n);
        s.gate = 1; /* every iteration waits for the cancel */
        struct canceller c = {&s, -1};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, canceller_main, &c), 0);
        loops[k](&s);
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_int_equal(c.cancel_rc, 0);
        assert_int_equal(errgroup_wait(&g), ERRGROUP_ECANCELED);
        errgroup_error e;
        assert_int_equal(errgroup_first_error(&g, &e), 0);
        assert_int_equal(e.code, ERRGROUP_ECANCELED);
        assert_int_equal(e.index, ERRGROUP_NO_INDEX);
        if (s.executed < 1 || s.executed > threads)
            fail_msg("%s: %lld iterations did real work, %d threads", loop_names[k],
                     (long long)s.executed, threads);
        assert_at_most_once(&s, loop_names[k]);
        assert_int_equal(errgroup_destroy(&g), 0);
        free(s.ran);
    }
}

/* ---- Brace-less use inside an if ------------------------------------------------ */

/*
 * Each macro is one `if` statement without `else`, so it may be the whole
 * body of an `if` without braces (as long as no `else` follows; the header
 * says to brace the `if` for that), and it may sit in a braced branch of an
 * if/else chain.
 */
#define BRACELESS_N 4096
#define BRACELESS_F 1234

struct braceless {
    unsigned char ran[BRACELESS_N];
    unsigned char ok[BRACELESS_N];
    unsigned char after[BRACELESS_N];
    unsigned char odd[BRACELESS_N];
};

/* `check` is always 1: it only keeps the `if` from being folded away. */
static void braceless_loop(errgroup *g, struct braceless *d, int check)
{
#ifdef SPLIT_PARALLEL_FOR
#pragma omp parallel
#pragma omp for schedule(dynamic, 16)
#else
#pragma omp parallel for schedule(dynamic, 16)
#endif
    for (int64_t i = 0; i < BRACELESS_N; i++) {
        if (check)
            ERRGROUP_LOOP_CHECK(g, i);
        d->ran[i] = 1;
        if (i == BRACELESS_F)
            ERRGROUP_LOOP_FAIL(g, 73, i, "braceless %lld", (long long)i);
        if (i % 2 == 1) {
            d->odd[i] = 1;
        } else if (i == BRACELESS_F + 2 * BRACELESS_N) { /* never true */
            ERRGROUP_LOOP_FAIL(g, 74, i, "impossible");
        } else {
            d->ok[i] = 1;
        }
        d->after[i] = 1;
    }
}

static void test_loop_macros_work_without_braces(void **state)
{
    (void)state;
    static struct braceless d;
    memset(&d, 0, sizeof d);
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    braceless_loop(&g, &d, 1);
    assert_int_equal(errgroup_wait(&g), 73);
    errgroup_error e;
    assert_int_equal(errgroup_first_error(&g, &e), 0);
    assert_int_equal(e.index, BRACELESS_F);
    assert_string_equal(e.message, "braceless 1234");
    /* The failing iteration ran up to LOOP_FAIL and no further. */
    assert_int_equal(d.ran[BRACELESS_F], 1);
    assert_int_equal(d.ok[BRACELESS_F], 0);
    assert_int_equal(d.after[BRACELESS_F], 0);
    /* Every other iteration that ran took its own branch and finished. */
    for (int i = 0; i < BRACELESS_N; i++) {
        if (i == BRACELESS_F || !d.ran[i])
            continue;
        assert_int_equal(d.after[i], 1);
        assert_int_equal(d.odd[i], i % 2 == 1);
        assert_int_equal(d.ok[i], i % 2 == 0);
    }
    assert_int_equal(errgroup_destroy(&g), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop_check_without_failure_runs_everything),
        cmocka_unit_test(test_loop_fail_records_code_index_message),
        cmocka_unit_test(test_loop_fail_stops_new_work),
        cmocka_unit_test(test_loop_check_on_cancelled_group_runs_nothing),
        cmocka_unit_test(test_loop_check_stopped_by_cancel_from_other_thread),
        cmocka_unit_test(test_loop_macros_work_without_braces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
