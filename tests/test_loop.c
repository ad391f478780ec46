/*
 * errgroup_for: coverage of [begin, end) for many sizes and chunk sizes,
 * chunk boundaries, int64_t extremes, error attribution, stopping after a
 * failure or a cancellation, calls from inside a region or a task, and the
 * iteration counters.
 *
 * Bodies only record (atomics, per-index arrays); every assertion runs on the
 * test thread after errgroup_for or errgroup_wait returned.
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
#include <stdlib.h>
#include <string.h>

#include "errgroup.h"
#include "test_util.h"

#define AUTO_CHUNK_MAX 32768 /* documented upper bound of the automatic chunk */

/* ---- Helpers ------------------------------------------------------------ */

static void add64(int64_t *p, int64_t n)
{
    __atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

static int64_t get64(const int64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static void assert_counters_after(const errgroup *g, int64_t submitted, int64_t ran)
{
    errgroup_counters c;
    assert_int_equal(errgroup_get_counters(g, &c), 0);
    assert_int_equal(c.submitted, submitted);
    assert_int_equal(c.started, ran);
    assert_int_equal(c.finished, ran);
    assert_int_equal(c.skipped, submitted - ran);
}

/*
 * Records every chunk: its iterations into hits[i - begin], and any chunk
 * that is not a well-formed piece of [begin, end) (for an explicit chunk c:
 * starting at begin + k * c, c long except the last) into bad_chunks.
 */
struct cover {
    int64_t begin, end;
    int64_t chunk; /* as set on the group; 0 = automatic */
    unsigned char *hits;
    int64_t bad_chunks;
    int64_t calls;
    int64_t iterations;
};

static int cover_body(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)g;
    struct cover *c = arg;
    add64(&c->calls, 1);
    if (lo < c->begin || hi > c->end || lo >= hi) {
        add64(&c->bad_chunks, 1);
        return 0;
    }
    /* Offsets from begin fit int64_t here: the tests keep end - begin small. */
    int64_t off = lo - c->begin, len = hi - lo;
    if (c->chunk > 0) {
        if (off % c->chunk != 0 || len != min64(c->chunk, c->end - lo))
            add64(&c->bad_chunks, 1);
    } else if (len > AUTO_CHUNK_MAX) {
        add64(&c->bad_chunks, 1);
    }
    for (int64_t i = off; i < off + len; i++)
        __atomic_fetch_add(&c->hits[i], 1, __ATOMIC_RELAXED);
    add64(&c->iterations, len);
    return 0;
}

/* Runs errgroup_for over [begin, begin + n) and checks exactly-once coverage. */
static void check_cover(int64_t begin, int64_t n, int64_t chunk)
{
    struct cover c;
    memset(&c, 0, sizeof c);
    c.begin = begin;
    c.end = begin + n;
    c.chunk = chunk;
    c.hits = calloc((size_t)n, 1);
    assert_non_null(c.hits);

    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_chunk(&g, chunk), 0);
    assert_int_equal(errgroup_for(&g, c.begin, c.end, cover_body, &c), 0);

    assert_int_equal(c.bad_chunks, 0);
    assert_int_equal(c.iterations, n);
    for (int64_t i = 0; i < n; i++)
        if (c.hits[i] != 1)
            fail_msg("begin %lld n %lld chunk %lld: iteration %lld ran %d times",
                     (long long)begin, (long long)n, (long long)chunk,
                     (long long)(begin + i), c.hits[i]);
    if (chunk > 0)
        assert_int_equal(c.calls, n / chunk + (n % chunk != 0));
    assert_counters_after(&g, n, n);
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(errgroup_destroy(&g), 0);
    free(c.hits);
}

/* ---- Coverage -------------------------------------------------------------- */

static void test_for_visits_every_iteration_once(void **state)
{
    (void)state;
    static const int64_t sizes[] = {1, 7, 1000, 100003};
    static const int64_t chunks[] = {0, 1, 3, 64, 200000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
            check_cover(0, sizes[s], chunks[k]);
            check_cover(-sizes[s] / 2, sizes[s], chunks[k]); /* straddles 0 */
        }
}

static void test_for_covers_int64_extremes(void **state)
{
    (void)state;
    static const int64_t chunks[] = {0, 1, 7, 64, 1000, INT64_MAX};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        check_cover(INT64_MAX - 1000, 1000, chunks[k]);
        check_cover(INT64_MIN, 1000, chunks[k]);
    }
}

/* ---- Argument checks and empty ranges ------------------------------------ */

static int never_body(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)g;
    (void)lo;
    (void)hi;
    add64(arg, 1);
    return 0;
}

static int fail_whole_body(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)hi;
    (void)arg;
    return errgroup_fail(g, 42, lo, "chunk at %lld", (long long)lo);
}

static void test_for_rejects_bad_arguments(void **state)
{
    (void)state;
    int64_t calls = 0;
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_for(NULL, 0, 10, never_body, &calls), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_for(&g, 0, 10, NULL, &calls), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_for(&g, 10, 9, never_body, &calls), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_for(&g, INT64_MAX, INT64_MIN, never_body, &calls),
                     ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_chunk(&g, -1), ERRGROUP_EINVAL);
    assert_int_equal(calls, 0);
    /* EINVAL recorded nothing. */
    errgroup_error e;
    assert_int_equal(errgroup_first_error(&g, &e), 0);
    assert_int_equal(e.code, 0);
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(errgroup_for(&g, 0, 10, never_body, &calls), ERRGROUP_ECLOSED);
    assert_int_equal(calls, 0);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_for_empty_range_returns_group_status(void **state)
{
    (void)state;
    int64_t calls = 0;
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_for(&g, 5, 5, never_body, &calls), 0);
    assert_int_equal(errgroup_for(&g, INT64_MIN, INT64_MIN, never_body, &calls), 0);
    assert_int_equal(errgroup_for(&g, INT64_MAX, INT64_MAX, never_body, &calls), 0);
    assert_int_equal(calls, 0);
    assert_counters_after(&g, 0, 0);

    /* After a failure the empty loop reports the sticky error. */
    assert_int_equal(errgroup_for(&g, 0, 1, fail_whole_body, NULL), 42);
    assert_int_equal(errgroup_for(&g, 5, 5, never_body, &calls), 42);
    assert_int_equal(calls, 0);
    assert_int_equal(errgroup_wait(&g), 42);
    assert_int_equal(errgroup_destroy(&g), 0);

    /* ... and a cancelled group's status. */
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_cancel(&g), 0);
    assert_int_equal(errgroup_for(&g, 7, 7, never_body, &calls), ERRGROUP_ECANCELED);
    assert_int_equal(calls, 0);
    assert_int_equal(errgroup_wait(&g), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- Stopping after a failure ------------------------------------------------ */

/*
 * The chunk starting at `fail_lo` fails; every other chunk first waits until
 * that failure is recorded (it polls errgroup_canceled). The first chunk is
 * the front of the first thread's part, which that thread runs first, so it
 * is claimed by a worker that is not waiting, and nothing can deadlock. Each
 * worker then runs at most the one chunk it held while waiting: its next
 * check reads the flag it already saw. So at most `workers` chunks run.
 */
struct stop {
    int64_t fail_lo;
    int fail_code;
    int64_t chunks;
    int64_t iterations;
    int64_t bad_chunks;
    int64_t begin, end;
};

static int stop_body(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    struct stop *s = arg;
    add64(&s->chunks, 1);
    if (lo < s->begin || hi > s->end || lo >= hi)
        add64(&s->bad_chunks, 1);
    if (lo == s->fail_lo)
        return errgroup_fail(g, s->fail_code, lo, "failed at %lld", (long long)lo);
    while (!errgroup_canceled(g))
        sched_yield();
    /* hi - lo may not fit int64_t only for a single chunk spanning
     * everything, which the tests below never configure. */
    add64(&s->iterations, (int64_t)((uint64_t)hi - (uint64_t)lo));
    return 0;
}

static void test_for_stops_after_failure_at_first_iteration(void **state)
{
    (void)state;
    const int64_t n = 10 * 1000 * 1000, chunk = 1000;
    const int threads = omp_get_max_threads();
    for (int rep = 0; rep < 3; rep++) {
        struct stop s;
        memset(&s, 0, sizeof s);
        s.fail_lo = 0;
        s.fail_code = 17;
        s.begin = 0;
        s.end = n;
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_chunk(&g, chunk), 0);
        assert_int_equal(errgroup_for(&g, 0, n, stop_body, &s), 17);

        EXPECT_FIRST_ERROR(&g, 17, 0, "failed at 0");
        assert_int_equal(s.bad_chunks, 0);
        /* The failing chunk plus at most one chunk per other worker. */
        assert_true(s.chunks >= 1);
        assert_true(s.chunks <= threads);
        assert_true(s.iterations <= (int64_t)(threads - 1) * chunk);

        errgroup_counters c;
        assert_int_equal(errgroup_get_counters(&g, &c), 0);
        assert_int_equal(c.submitted, n);
        assert_int_equal(c.started, c.finished);
        assert_int_equal(c.finished, s.chunks * chunk);
        assert_int_equal(c.finished + c.skipped, n);
        assert_int_equal(c.failed, 1);
        assert_int_equal(errgroup_wait(&g), 17);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

/*
 * A failure in the middle, at n/2, with an even number of threads: n/2 is
 * where a thread's part starts (thread k of W starts at k / W of the range),
 * so that thread runs it first. Every other chunk waits until the group is
 * cancelled, so each thread runs one chunk: its first, which is the chunk
 * size, or at most AUTO_FIRST iterations in automatic mode. Were chunks handed
 * out in increasing order, every thread would wait below n/2; the bodies then
 * notice that the whole team waits, stop waiting (`stalled`), and the loop
 * runs up to n/2, failing the bound.
 */
#define AUTO_FIRST 1024 /* documented size of each thread's first automatic chunk */

struct mid {
    int64_t fail_at;
    int64_t chunks;
    int64_t iterations; /* run by the chunks that did not fail */
    int64_t waiting;
    int64_t stalled;
    int64_t team; /* the team the loop really got */
};

static int mid_body(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    struct mid *m = arg;
    __atomic_store_n(&m->team, omp_get_num_threads(), __ATOMIC_RELAXED);
    add64(&m->chunks, 1);
    if (lo <= m->fail_at && m->fail_at < hi)
        return errgroup_fail(g, 23, m->fail_at, "failed at %lld", (long long)m->fail_at);
    add64(&m->waiting, 1);
    while (!errgroup_canceled(g) && get64(&m->stalled) == 0) {
        if (get64(&m->waiting) == omp_get_num_threads())
            __atomic_store_n(&m->stalled, 1, __ATOMIC_RELEASE);
        sched_yield();
    }
    add64(&m->waiting, -1);
    add64(&m->iterations, hi - lo);
    return 0;
}

static void test_for_failure_at_half_runs_one_chunk_per_thread(void **state)
{
    (void)state;
    const int threads = omp_get_max_threads();
    if (threads < 2 || threads % 2 != 0)
        skip();
    const int64_t n = 10 * 1000 * 1000;
    static const int64_t chunks[] = {1000, 0};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        const int64_t first = chunks[k] > 0 ? chunks[k] : AUTO_FIRST;
        struct mid m;
        memset(&m, 0, sizeof m);
        m.fail_at = n / 2;
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_chunk(&g, chunks[k]), 0);
        assert_int_equal(errgroup_for(&g, 0, n, mid_body, &m), 23);
        if (m.team % 2 != 0) { /* OMP_DYNAMIC gave an odd team: n/2 is no part's start */
            errgroup_wait(&g);
            errgroup_destroy(&g);
            skip();
        }
        EXPECT_FIRST_ERROR(&g, 23, n / 2, "failed at 5000000");
        assert_int_equal(m.stalled, 0);
        assert_true(m.chunks >= 1 && m.chunks <= threads);
        assert_true(m.iterations <= (int64_t)(threads - 1) * first);
        errgroup_counters c;
        assert_int_equal(errgroup_get_counters(&g, &c), 0);
        assert_int_equal(c.submitted, n);
        assert_int_equal(c.started, c.finished);
        assert_int_equal(c.finished + c.skipped, n);
        assert_int_equal(c.failed, 1);
        assert_int_equal(errgroup_wait(&g), 23);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

/* The whole int64_t range, failing at its very first iteration: returns
 * after a handful of chunks, whatever the chunk size. */
static void test_for_whole_int64_range_fails_fast(void **state)
{
    (void)state;
    const int threads = omp_get_max_threads();
    static const int64_t chunks[] = {0, 1, 1000};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        struct stop s;
        memset(&s, 0, sizeof s);
        s.fail_lo = INT64_MIN;
        s.fail_code = 99;
        s.begin = INT64_MIN;
        s.end = INT64_MAX;
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_chunk(&g, chunks[k]), 0);
        assert_int_equal(errgroup_for(&g, INT64_MIN, INT64_MAX, stop_body, &s), 99);
        errgroup_error e;
        assert_int_equal(errgroup_first_error(&g, &e), 0);
        assert_int_equal(e.code, 99);
        assert_true(e.index == INT64_MIN);
        assert_int_equal(s.bad_chunks, 0);
        assert_true(s.chunks >= 1);
        assert_true(s.chunks <= threads);
        /* 2^64 - 1 iterations do not fit in int64_t: the counts saturate
         * (and UBSan sees no overflow), the skipped count still balances. */
        errgroup_counters c;
        assert_int_equal(errgroup_get_counters(&g, &c), 0);
        assert_true(c.submitted == INT64_MAX);
        assert_true(c.skipped == INT64_MAX);
        assert_true(c.started == c.finished && c.started >= 1 && c.started < INT64_MAX);
        assert_int_equal(errgroup_wait(&g), 99);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

/* ---- Error attribution ------------------------------------------------------- */

#define ATTR_N 1000
#define ATTR_FAIL 537

struct attr {
    int64_t failing_chunk_lo;
    unsigned char hits[ATTR_N];
};

static int attr_fail_body(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    struct attr *a = arg;
    for (int64_t i = lo; i < hi; i++) {
        __atomic_fetch_add(&a->hits[i], 1, __ATOMIC_RELAXED);
        if (i == ATTR_FAIL)
            return errgroup_fail(g, 5, i, "item %lld is bad", (long long)i);
    }
    return 0;
}

static int attr_return_body(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)g;
    struct attr *a = arg;
    for (int64_t i = lo; i < hi; i++) {
        __atomic_fetch_add(&a->hits[i], 1, __ATOMIC_RELAXED);
        if (i == ATTR_FAIL) {
            __atomic_store_n(&a->failing_chunk_lo, lo, __ATOMIC_RELAXED);
            return 9;
        }
    }
    return 0;
}

static void test_for_fail_reports_its_index(void **state)
{
    (void)state;
    static const int64_t chunks[] = {0, 1, 10, 64, 5000};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        struct attr a;
        memset(&a, 0, sizeof a);
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_chunk(&g, chunks[k]), 0);
        assert_int_equal(errgroup_for(&g, 0, ATTR_N, attr_fail_body, &a), 5);
        EXPECT_FIRST_ERROR(&g, 5, ATTR_FAIL, "item 537 is bad");
        assert_int_equal(a.hits[ATTR_FAIL], 1);
        for (int i = 0; i < ATTR_N; i++)
            assert_true(a.hits[i] <= 1);
        errgroup_counters c;
        assert_int_equal(errgroup_get_counters(&g, &c), 0);
        assert_int_equal(c.failed, 1);
        assert_int_equal(c.submitted, ATTR_N);
        assert_int_equal(c.finished + c.skipped, ATTR_N);
        assert_int_equal(c.started, c.finished);
        assert_int_equal(errgroup_wait(&g), 5);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

static void test_for_nonzero_return_reports_chunk_start(void **state)
{
    (void)state;
    static const int64_t chunks[] = {0, 1, 10, 64, 5000};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        struct attr a;
        memset(&a, 0, sizeof a);
        a.failing_chunk_lo = -1;
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_chunk(&g, chunks[k]), 0);
        assert_int_equal(errgroup_for(&g, 0, ATTR_N, attr_return_body, &a), 9);
        errgroup_error e;
        assert_int_equal(errgroup_first_error(&g, &e), 0);
        assert_int_equal(e.code, 9);
        assert_int_equal(e.index, a.failing_chunk_lo);
        if (chunks[k] > 0)
            assert_int_equal(e.index, ATTR_FAIL - ATTR_FAIL % chunks[k]);
        else
            assert_true(e.index <= ATTR_FAIL && ATTR_FAIL - e.index < AUTO_CHUNK_MAX);
        assert_string_equal(e.message, "");
        assert_int_equal(errgroup_wait(&g), 9);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

/* ---- Where errgroup_for may be called ------------------------------------------ */

#define NEST_N 20000

static void test_for_inside_single_of_region(void **state)
{
    (void)state;
    static const int64_t chunks[] = {0, 1, 97};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        struct cover c;
        memset(&c, 0, sizeof c);
        c.begin = 0;
        c.end = NEST_N;
        c.chunk = chunks[k];
        c.hits = calloc(NEST_N, 1);
        assert_non_null(c.hits);
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_chunk(&g, chunks[k]), 0);
        int rc = -1;
#pragma omp parallel
#pragma omp single
        rc = errgroup_for(&g, 0, NEST_N, cover_body, &c);
        assert_int_equal(rc, 0);
        assert_int_equal(c.bad_chunks, 0);
        for (int i = 0; i < NEST_N; i++)
            assert_int_equal(c.hits[i], 1);
        assert_counters_after(&g, NEST_N, NEST_N);
        assert_int_equal(errgroup_wait(&g), 0);
        assert_int_equal(errgroup_destroy(&g), 0);
        free(c.hits);
    }
}

/* Four tasks of one group each run errgroup_for on their own quarter of the
 * range, concurrently, on the same group. */
#define QUARTERS 4

struct quarter {
    struct cover *c;
    int64_t lo, hi;
    int rc;
};

static int quarter_task(errgroup *g, void *arg)
{
    struct quarter *q = arg;
    q->rc = errgroup_for(g, q->lo, q->hi, cover_body, q->c);
    return q->rc;
}

static void test_for_inside_task_of_group(void **state)
{
    (void)state;
    struct cover c;
    memset(&c, 0, sizeof c);
    c.begin = 0;
    c.end = NEST_N;
    c.chunk = 0; /* each call chunks from its own begin: check bounds only */
    c.hits = calloc(NEST_N, 1);
    assert_non_null(c.hits);
    struct quarter q[QUARTERS];
    for (int t = 0; t < QUARTERS; t++) {
        q[t].c = &c;
        q[t].lo = (int64_t)NEST_N * t / QUARTERS;
        q[t].hi = (int64_t)NEST_N * (t + 1) / QUARTERS;
        q[t].rc = -1;
    }
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_chunk(&g, 13), 0);
    int rc = -1, go_bad = 0;
#pragma omp parallel
#pragma omp single
    {
        for (int t = 0; t < QUARTERS; t++)
            if (errgroup_go(&g, quarter_task, &q[t]) != 0)
                go_bad++;
        rc = errgroup_wait(&g);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(go_bad, 0);
    for (int t = 0; t < QUARTERS; t++)
        assert_int_equal(q[t].rc, 0);
    assert_int_equal(c.bad_chunks, 0);
    for (int i = 0; i < NEST_N; i++)
        assert_int_equal(c.hits[i], 1);
    /* Counters: four tasks plus NEST_N iterations. */
    assert_counters_after(&g, QUARTERS + NEST_N, QUARTERS + NEST_N);
    assert_int_equal(errgroup_destroy(&g), 0);
    free(c.hits);
}

/* ---- Cancellation ---------------------------------------------------------------- */

static void test_for_on_cancelled_group_runs_nothing(void **state)
{
    (void)state;
    static const int64_t chunks[] = {0, 1, 1000};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        int64_t calls = 0;
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_chunk(&g, chunks[k]), 0);
        assert_int_equal(errgroup_cancel(&g), 0);
        assert_int_equal(errgroup_for(&g, 0, 100000, never_body, &calls), ERRGROUP_ECANCELED);
        int rc = -1;
#pragma omp parallel
#pragma omp single
        rc = errgroup_for(&g, -50, 50, never_body, &calls);
        assert_int_equal(rc, ERRGROUP_ECANCELED);
        assert_int_equal(calls, 0);
        assert_counters_after(&g, 100100, 0);
        errgroup_error e;
        assert_int_equal(errgroup_first_error(&g, &e), 0);
        assert_int_equal(e.code, ERRGROUP_ECANCELED);
        assert_int_equal(errgroup_wait(&g), ERRGROUP_ECANCELED);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

/*
 * Another thread cancels the group while the loop runs. Every chunk body
 * announces it started and then waits for the cancellation, so the canceller
 * is sure to act while the loop is in flight, and each worker runs at most
 * the chunk it held.
 */
struct canceller {
    errgroup *g;
    int64_t started;
    int cancel_rc;
};

static void *canceller_main(void *arg)
{
    struct canceller *c = arg;
    while (get64(&c->started) == 0)
        sched_yield();
    c->cancel_rc = errgroup_cancel(c->g);
    return NULL;
}

struct wait_cancel {
    struct canceller *cn;
    int64_t chunks;
};

static int wait_cancel_body(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)lo;
    (void)hi;
    struct wait_cancel *w = arg;
    add64(&w->chunks, 1);
    __atomic_store_n(&w->cn->started, 1, __ATOMIC_RELEASE);
    while (!errgroup_canceled(g))
        sched_yield();
    return 0;
}

static void test_for_stopped_by_cancel_from_other_thread(void **state)
{
    (void)state;
    const int threads = omp_get_max_threads();
    for (int inside = 0; inside <= 1; inside++) {
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_chunk(&g, 100), 0);
        struct canceller cn = {&g, 0, -1};
        struct wait_cancel w = {&cn, 0};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, canceller_main, &cn), 0);
        const int64_t n = 1000 * 1000;
        int rc = -1;
        if (inside) {
#pragma omp parallel
#pragma omp single
            rc = errgroup_for(&g, 0, n, wait_cancel_body, &w);
        } else {
            rc = errgroup_for(&g, 0, n, wait_cancel_body, &w);
        }
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_int_equal(cn.cancel_rc, 0);
        assert_int_equal(rc, ERRGROUP_ECANCELED);
        assert_true(w.chunks >= 1);
        assert_true(w.chunks <= threads);
        assert_counters_after(&g, n, w.chunks * 100);
        assert_int_equal(errgroup_wait(&g), ERRGROUP_ECANCELED);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

/*
 * A sibling task of the same group cancels it while a task runs
 * errgroup_for. The order the two tasks run in is the runtime's choice, so
 * only what holds for every order is checked.
 */
struct sibling {
    int64_t n;
    int64_t iterations;
    int loop_ran; /* the loop task's body started (it is skipped if the cancel came first) */
    int loop_rc;
};

static int count_body(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)g;
    struct sibling *s = arg;
    add64(&s->iterations, hi - lo);
    return 0;
}

static int sibling_loop(errgroup *g, void *arg)
{
    struct sibling *s = arg;
    s->loop_ran = 1;
    s->loop_rc = errgroup_for(g, 0, s->n, count_body, s);
    return 0;
}

static int sibling_cancel(errgroup *g, void *arg)
{
    (void)arg;
    return errgroup_cancel(g);
}

static void test_for_cancelled_by_sibling_task(void **state)
{
    (void)state;
    for (int rep = 0; rep < 5; rep++) {
        struct sibling s = {200000, 0, 0, -1};
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_chunk(&g, 50), 0);
        int rc = -1, go1 = -1, go2 = -1;
#pragma omp parallel
#pragma omp single
        {
            go1 = errgroup_go(&g, sibling_loop, &s);
            go2 = errgroup_go(&g, sibling_cancel, NULL);
            rc = errgroup_wait(&g);
        }
        /* Nothing cancels the group before the cancel task's body runs. */
        assert_int_equal(go1, 0);
        assert_int_equal(go2, 0);
        assert_int_equal(rc, ERRGROUP_ECANCELED);
        if (!s.loop_ran) {
            /* Cancelled before the loop task started: it was skipped. */
            assert_int_equal(s.iterations, 0);
            assert_counters_after(&g, 2, 1);
        } else {
            assert_true(s.loop_rc == 0 || s.loop_rc == ERRGROUP_ECANCELED);
            if (s.loop_rc == 0)
                assert_int_equal(s.iterations, s.n); /* all ran before the cancel */
            assert_true(s.iterations <= s.n);
            assert_counters_after(&g, 2 + s.n, 2 + s.iterations);
        }
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_for_visits_every_iteration_once),
        cmocka_unit_test(test_for_covers_int64_extremes),
        cmocka_unit_test(test_for_rejects_bad_arguments),
        cmocka_unit_test(test_for_empty_range_returns_group_status),
        cmocka_unit_test(test_for_stops_after_failure_at_first_iteration),
        cmocka_unit_test(test_for_failure_at_half_runs_one_chunk_per_thread),
        cmocka_unit_test(test_for_whole_int64_range_fails_fast),
        cmocka_unit_test(test_for_fail_reports_its_index),
        cmocka_unit_test(test_for_nonzero_return_reports_chunk_start),
        cmocka_unit_test(test_for_inside_single_of_region),
        cmocka_unit_test(test_for_inside_task_of_group),
        cmocka_unit_test(test_for_on_cancelled_group_runs_nothing),
        cmocka_unit_test(test_for_stopped_by_cancel_from_other_thread),
        cmocka_unit_test(test_for_cancelled_by_sibling_task),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
