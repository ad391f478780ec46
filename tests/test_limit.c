/*
 * errgroup_set_limit and errgroup_try_go: the bound on concurrently running
 * bodies, nested spawning under a limit, try_go's EAGAIN, cancellation of
 * queued tasks, and limit 0 meaning "unlimited".
 *
 * Worker bodies only record (atomics, per-index arrays); every assertion runs
 * on the test thread after the wait.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <omp.h>
#include <sched.h>
#include <string.h>

#include "errgroup.h"
#include "test_util.h"

/* ---- Helpers ------------------------------------------------------------ */

/* Highest number of bodies seen running at once. */
struct overlap {
    int running;
    int peak;
};

static void overlap_enter(struct overlap *o)
{
    int now = __atomic_add_fetch(&o->running, 1, __ATOMIC_SEQ_CST);
    int seen = __atomic_load_n(&o->peak, __ATOMIC_RELAXED);
    while (now > seen &&
           !__atomic_compare_exchange_n(&o->peak, &seen, now, 1, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED)) {
    }
}

static void overlap_leave(struct overlap *o)
{
    __atomic_sub_fetch(&o->running, 1, __ATOMIC_SEQ_CST);
}

/* A little work with yields, so that bodies are likely to overlap if the
 * library lets them. */
static void linger(void)
{
    volatile unsigned sink = 0;
    for (int k = 0; k < 4; k++) {
        for (unsigned j = 0; j < 2000; j++)
            sink += j;
        sched_yield();
    }
    (void)sink;
}

static void inc(int *p)
{
    __atomic_fetch_add(p, 1, __ATOMIC_RELAXED);
}

static int get(const int *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void assert_counters_balanced(const errgroup *g, int64_t submitted)
{
    errgroup_counters c;
    assert_int_equal(errgroup_get_counters(g, &c), 0);
    assert_int_equal(c.submitted, submitted);
    assert_int_equal(c.submitted, c.finished + c.skipped);
    assert_int_equal(c.started, c.finished);
}

/* ---- Bound on running bodies, with nested spawning ---------------------- */

#define TOP_TASKS 60
#define SPAWN_EVERY 4 /* every 4th top-level task spawns children */
#define CHILDREN 2
#define ALL_TASKS (TOP_TASKS + (TOP_TASKS / SPAWN_EVERY) * CHILDREN)

struct bound_ctx {
    struct overlap ov;
    int ran[ALL_TASKS];
    int go_errors; /* nested go calls that did not return 0 */
};

struct bound_item {
    struct bound_ctx *ctx;
    int index;
};

static struct bound_item bound_items[ALL_TASKS];

static int bound_child(errgroup *g, void *arg)
{
    (void)g;
    struct bound_item *it = arg;
    overlap_enter(&it->ctx->ov);
    inc(&it->ctx->ran[it->index]);
    linger();
    overlap_leave(&it->ctx->ov);
    return 0;
}

static int bound_parent(errgroup *g, void *arg)
{
    struct bound_item *it = arg;
    overlap_enter(&it->ctx->ov);
    inc(&it->ctx->ran[it->index]);
    linger();
    if (it->index % SPAWN_EVERY == 0) {
        int first = TOP_TASKS + (it->index / SPAWN_EVERY) * CHILDREN;
        for (int c = 0; c < CHILDREN; c++)
            if (errgroup_go(g, bound_child, &bound_items[first + c]) != 0)
                inc(&it->ctx->go_errors);
    }
    linger();
    overlap_leave(&it->ctx->ov);
    return 0;
}

static void run_bounded(int limit)
{
    struct bound_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    for (int i = 0; i < ALL_TASKS; i++) {
        bound_items[i].ctx = &ctx;
        bound_items[i].index = i;
    }
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_limit(&g, limit), 0);

    int rc = -1, submit_errors = 0;
#pragma omp parallel
#pragma omp single
    {
        for (int i = 0; i < TOP_TASKS; i++)
            if (errgroup_go(&g, bound_parent, &bound_items[i]) != 0)
                submit_errors++;
        rc = errgroup_wait(&g);
    }

    assert_int_equal(rc, 0);
    assert_int_equal(submit_errors, 0);
    assert_int_equal(ctx.go_errors, 0);
    for (int i = 0; i < ALL_TASKS; i++)
        assert_int_equal(ctx.ran[i], 1);
    assert_true(ctx.ov.peak >= 1);
    assert_true(ctx.ov.peak <= limit);
    assert_int_equal(ctx.ov.running, 0);
    assert_counters_balanced(&g, ALL_TASKS);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_set_limit_bounds_running_bodies(void **state)
{
    (void)state;
    for (int limit = 1; limit <= 3; limit++)
        for (int rep = 0; rep < 3; rep++)
            run_bounded(limit);
}

/* The same bound through errgroup_run, which opens the region itself. */
struct run_submit_ctx {
    int submit_errors;
};

static int run_submitter(errgroup *g, void *arg)
{
    struct run_submit_ctx *s = arg;
    for (int i = 0; i < TOP_TASKS; i++)
        if (errgroup_go(g, bound_parent, &bound_items[i]) != 0)
            s->submit_errors++;
    return 0;
}

static void test_set_limit_bounds_bodies_under_run(void **state)
{
    (void)state;
    for (int limit = 1; limit <= 3; limit++) {
        struct bound_ctx ctx;
        memset(&ctx, 0, sizeof ctx);
        for (int i = 0; i < ALL_TASKS; i++) {
            bound_items[i].ctx = &ctx;
            bound_items[i].index = i;
        }
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_limit(&g, limit), 0);
        struct run_submit_ctx s = {0};
        assert_int_equal(errgroup_run(&g, run_submitter, &s), 0);
        assert_int_equal(s.submit_errors, 0);
        assert_int_equal(ctx.go_errors, 0);
        for (int i = 0; i < ALL_TASKS; i++)
            assert_int_equal(ctx.ran[i], 1);
        assert_true(ctx.ov.peak >= 1);
        assert_true(ctx.ov.peak <= limit);
        assert_int_equal(errgroup_wait(&g), 0);
        assert_counters_balanced(&g, ALL_TASKS);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

/* ---- Limit 1: a nested child waits for its parent's body ---------------- */

#define NEST_PARENTS 24

struct nest_ctx {
    struct overlap ov;
    int parent_returned[NEST_PARENTS];
    int child_saw_parent_returned[NEST_PARENTS];
    int child_ran[NEST_PARENTS];
    int parent_ran[NEST_PARENTS];
    int go_rc[NEST_PARENTS];
};

struct nest_item {
    struct nest_ctx *ctx;
    int index;
};

static struct nest_item nest_items[NEST_PARENTS];

static int nest_child(errgroup *g, void *arg)
{
    (void)g;
    struct nest_item *it = arg;
    struct nest_ctx *ctx = it->ctx;
    overlap_enter(&ctx->ov);
    __atomic_store_n(&ctx->child_saw_parent_returned[it->index],
                     get(&ctx->parent_returned[it->index]), __ATOMIC_RELAXED);
    inc(&ctx->child_ran[it->index]);
    overlap_leave(&ctx->ov);
    return 0;
}

static int nest_parent(errgroup *g, void *arg)
{
    struct nest_item *it = arg;
    struct nest_ctx *ctx = it->ctx;
    overlap_enter(&ctx->ov);
    inc(&ctx->parent_ran[it->index]);
    /* Limit 1 and this body holds the slot: the child is queued, and must
     * not start before this body has returned. */
    ctx->go_rc[it->index] = errgroup_go(g, nest_child, it);
    linger();
    overlap_leave(&ctx->ov);
    __atomic_store_n(&ctx->parent_returned[it->index], 1, __ATOMIC_RELEASE);
    return 0;
}

static void test_set_limit_one_nested_go_runs_after_parent(void **state)
{
    (void)state;
    struct nest_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    for (int i = 0; i < NEST_PARENTS; i++) {
        nest_items[i].ctx = &ctx;
        nest_items[i].index = i;
    }
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_limit(&g, 1), 0);

    int rc = -1, submit_errors = 0;
#pragma omp parallel
#pragma omp single
    {
        for (int i = 0; i < NEST_PARENTS; i++)
            if (errgroup_go(&g, nest_parent, &nest_items[i]) != 0)
                submit_errors++;
        rc = errgroup_wait(&g);
    }

    assert_int_equal(rc, 0);
    assert_int_equal(submit_errors, 0);
    for (int i = 0; i < NEST_PARENTS; i++) {
        assert_int_equal(ctx.go_rc[i], 0);
        assert_int_equal(ctx.parent_ran[i], 1);
        assert_int_equal(ctx.child_ran[i], 1);
        assert_int_equal(ctx.child_saw_parent_returned[i], 1);
    }
    assert_int_equal(ctx.ov.peak, 1);
    assert_counters_balanced(&g, 2 * NEST_PARENTS);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* Outside any parallel region go runs the body at once; a nested go under
 * limit 1 still must not run inside its parent's body. */
static void test_set_limit_one_nested_go_outside_region(void **state)
{
    (void)state;
    struct nest_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    for (int i = 0; i < NEST_PARENTS; i++) {
        nest_items[i].ctx = &ctx;
        nest_items[i].index = i;
    }
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_limit(&g, 1), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(errgroup_go(&g, nest_parent, &nest_items[i]), 0);
    assert_int_equal(errgroup_wait(&g), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ctx.go_rc[i], 0);
        assert_int_equal(ctx.parent_ran[i], 1);
        assert_int_equal(ctx.child_ran[i], 1);
        assert_int_equal(ctx.child_saw_parent_returned[i], 1);
    }
    assert_int_equal(ctx.ov.peak, 1);
    assert_counters_balanced(&g, 8);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- try_go ----------------------------------------------------------------- */

/*
 * Limit 2: two blockers wait on a gate that the test thread opens only after
 * its try_go. A blocker that the runtime happens to run on the test thread
 * itself, inside one of its go calls, must not wait (nobody would open the
 * gate): it finishes at once and is counted, and try_go's expected answer
 * follows from how many blockers are still unfinished.
 */
static _Thread_local int tl_submitting;

struct gate_ctx {
    int gate;
    int ran[3];
    int inline_ran; /* blockers run on the test thread before try_go */
    int released[3];
};

struct gate_item {
    struct gate_ctx *ctx;
    int index;
};

static int gate_blocker(errgroup *g, void *arg)
{
    (void)g;
    struct gate_item *it = arg;
    if (tl_submitting) {
        it->ctx->inline_ran++; /* the test thread itself: no race */
    } else {
        while (!get(&it->ctx->gate))
            sched_yield();
    }
    inc(&it->ctx->ran[it->index]);
    return 0;
}

static void gate_release(void *arg)
{
    struct gate_item *it = arg;
    inc(&it->ctx->released[it->index]);
}

static void test_try_go_returns_eagain_at_limit(void **state)
{
    (void)state;
    for (int rep = 0; rep < 5; rep++) {
        struct gate_ctx ctx;
        memset(&ctx, 0, sizeof ctx);
        struct gate_item items[3] = {{&ctx, 0}, {&ctx, 1}, {&ctx, 2}};
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_limit(&g, 2), 0);
        assert_int_equal(errgroup_set_release(&g, gate_release), 0);

        int go_rc[2] = {-1, -1}, try_rc = -1, inline_before_try = -1, rc = -1;
#pragma omp parallel
#pragma omp single
        {
            tl_submitting = 1;
            go_rc[0] = errgroup_go(&g, gate_blocker, &items[0]);
            go_rc[1] = errgroup_go(&g, gate_blocker, &items[1]);
            inline_before_try = ctx.inline_ran;
            try_rc = errgroup_try_go(&g, gate_blocker, &items[2]);
            tl_submitting = 0;
            __atomic_store_n(&ctx.gate, 1, __ATOMIC_RELEASE);
            rc = errgroup_wait(&g);
        }

        assert_int_equal(rc, 0);
        assert_int_equal(go_rc[0], 0);
        assert_int_equal(go_rc[1], 0);
        if (inline_before_try == 0) {
            /* Both blockers accepted and unfinished: the limit is reached. */
            assert_int_equal(try_rc, ERRGROUP_EAGAIN);
            assert_int_equal(ctx.ran[2], 0);
            assert_int_equal(ctx.released[2], 0); /* the caller kept arg */
            assert_counters_balanced(&g, 2);
        } else {
            /* A blocker already finished inside a go call: a slot is free. */
            assert_int_equal(try_rc, 0);
            assert_int_equal(ctx.ran[2], 1);
            assert_int_equal(ctx.released[2], 1);
            assert_counters_balanced(&g, 3);
        }
        assert_int_equal(ctx.ran[0], 1);
        assert_int_equal(ctx.ran[1], 1);
        assert_int_equal(ctx.released[0], 1);
        assert_int_equal(ctx.released[1], 1);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

/* A running body counts as unfinished: under limit 1 its own try_go fails,
 * deterministically, at every team size. */
struct self_ctx {
    int try_rc;
    int extra_ran;
};

static int self_extra(errgroup *g, void *arg)
{
    (void)g;
    struct self_ctx *s = arg;
    inc(&s->extra_ran);
    return 0;
}

static int self_trier(errgroup *g, void *arg)
{
    struct self_ctx *s = arg;
    s->try_rc = errgroup_try_go(g, self_extra, s);
    return 0;
}

static void test_try_go_counts_running_body(void **state)
{
    (void)state;
    /* Inside a region. */
    struct self_ctx s = {-1, 0};
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_limit(&g, 1), 0);
    int rc = -1, go_rc = -1;
#pragma omp parallel
#pragma omp single
    {
        go_rc = errgroup_go(&g, self_trier, &s);
        rc = errgroup_wait(&g);
    }
    assert_int_equal(go_rc, 0);
    assert_int_equal(rc, 0);
    assert_int_equal(s.try_rc, ERRGROUP_EAGAIN);
    assert_int_equal(s.extra_ran, 0);
    assert_counters_balanced(&g, 1);
    assert_int_equal(errgroup_destroy(&g), 0);

    /* Outside any region the body runs inside go, and still counts. */
    struct self_ctx s2 = {-1, 0};
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_limit(&g, 1), 0);
    assert_int_equal(errgroup_go(&g, self_trier, &s2), 0);
    assert_int_equal(s2.try_rc, ERRGROUP_EAGAIN);
    assert_int_equal(s2.extra_ran, 0);
    /* Once it has returned, the slot is free again. */
    assert_int_equal(errgroup_try_go(&g, self_extra, &s2), 0);
    assert_int_equal(errgroup_try_go(&g, self_extra, &s2), 0);
    assert_int_equal(s2.extra_ran, 2);
    assert_int_equal(errgroup_wait(&g), 0);
    assert_counters_balanced(&g, 3);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- try_go without a limit is go ---------------------------------------- */

#define PLAIN_TASKS 200
#define PLAIN_FAIL 137

struct plain_ctx {
    int ran[PLAIN_TASKS];
    int nested_rc_bad;
};

struct plain_item {
    struct plain_ctx *ctx;
    int index;
};

static struct plain_item plain_items[PLAIN_TASKS];

static int plain_leaf(errgroup *g, void *arg)
{
    (void)g;
    struct plain_item *it = arg;
    inc(&it->ctx->ran[it->index]);
    return 0;
}

static int plain_task(errgroup *g, void *arg)
{
    struct plain_item *it = arg;
    inc(&it->ctx->ran[it->index]);
    /* Tasks 0..9 each add one nested task (indices 190..199). */
    if (it->index < 10 && errgroup_try_go(g, plain_leaf, &plain_items[190 + it->index]) != 0)
        inc(&it->ctx->nested_rc_bad);
    return 0;
}

static void test_try_go_without_limit_is_go(void **state)
{
    (void)state;
    struct plain_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    for (int i = 0; i < PLAIN_TASKS; i++) {
        plain_items[i].ctx = &ctx;
        plain_items[i].index = i;
    }
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    int rc = -1, bad = 0;
#pragma omp parallel
#pragma omp single
    {
        for (int i = 0; i < 190; i++)
            if (errgroup_try_go(&g, plain_task, &plain_items[i]) != 0)
                bad++;
        rc = errgroup_wait(&g);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(bad, 0);
    assert_int_equal(ctx.nested_rc_bad, 0);
    for (int i = 0; i < PLAIN_TASKS; i++)
        assert_int_equal(ctx.ran[i], 1);
    assert_counters_balanced(&g, PLAIN_TASKS);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* A body that returns nonzero is recorded with its ordinal, as with go. */
static int plain_fail_at(errgroup *g, void *arg)
{
    (void)g;
    struct plain_item *it = arg;
    inc(&it->ctx->ran[it->index]);
    return it->index == PLAIN_FAIL ? 61 : 0;
}

static void test_try_go_without_limit_records_ordinal(void **state)
{
    (void)state;
    struct plain_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    for (int i = 0; i < PLAIN_TASKS; i++) {
        plain_items[i].ctx = &ctx;
        plain_items[i].index = i;
    }
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX), 0);
    int rc = -1, accepted = 0;
#pragma omp parallel
#pragma omp single
    {
        for (int i = 0; i < PLAIN_TASKS; i++) {
            int r = errgroup_try_go(&g, plain_fail_at, &plain_items[i]);
            if (r == ERRGROUP_ECANCELED)
                break;
            if (r == 0)
                accepted++;
        }
        rc = errgroup_wait(&g);
    }
    assert_int_equal(rc, 61);
    assert_true(accepted > PLAIN_FAIL);
    EXPECT_FIRST_ERROR(&g, 61, PLAIN_FAIL, "");
    for (int i = 0; i <= PLAIN_FAIL; i++)
        assert_int_equal(ctx.ran[i], 1);
    assert_counters_balanced(&g, accepted);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- Limit and cancellation ------------------------------------------------ */

#define QUEUED 20

struct cancel_ctx {
    int ran[QUEUED + 1];
    int released[QUEUED + 1];
    int go_rc[QUEUED + 1];
    int cancel_rc;
};

struct cancel_item {
    struct cancel_ctx *ctx;
    int index;
};

static struct cancel_item cancel_items[QUEUED + 1];

static void cancel_release(void *arg)
{
    struct cancel_item *it = arg;
    inc(&it->ctx->released[it->index]);
}

static int cancel_leaf(errgroup *g, void *arg)
{
    (void)g;
    struct cancel_item *it = arg;
    inc(&it->ctx->ran[it->index]);
    return 0;
}

static int cancel_first_fails(errgroup *g, void *arg)
{
    struct cancel_item *it = arg;
    inc(&it->ctx->ran[it->index]);
    return errgroup_fail(g, 33, 0, "first task failed");
}

static void prepare_cancel(struct cancel_ctx *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    for (int i = 0; i <= QUEUED; i++) {
        cancel_items[i].ctx = ctx;
        cancel_items[i].index = i;
        ctx->go_rc[i] = -1;
    }
}

/* Limit 1: the first task holds the only slot until its body has failed, so
 * everything queued behind it is skipped, and released exactly once. */
static void test_set_limit_queued_tasks_skipped_after_failure(void **state)
{
    (void)state;
    for (int limit = 1; limit <= 3; limit++) {
        struct cancel_ctx ctx;
        prepare_cancel(&ctx);
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_limit(&g, limit), 0);
        assert_int_equal(errgroup_set_release(&g, cancel_release), 0);
        int rc = -1;
#pragma omp parallel
#pragma omp single
        {
            ctx.go_rc[0] = errgroup_go(&g, cancel_first_fails, &cancel_items[0]);
            for (int i = 1; i <= QUEUED; i++)
                ctx.go_rc[i] = errgroup_go(&g, cancel_leaf, &cancel_items[i]);
            rc = errgroup_wait(&g);
        }
        assert_int_equal(rc, 33);
        EXPECT_FIRST_ERROR(&g, 33, 0, "first task failed");

        assert_int_equal(ctx.go_rc[0], 0);
        assert_int_equal(ctx.ran[0], 1);
        assert_int_equal(ctx.released[0], 1);
        int accepted = 1, ran = 1;
        for (int i = 1; i <= QUEUED; i++) {
            assert_true(ctx.go_rc[i] == 0 || ctx.go_rc[i] == ERRGROUP_ECANCELED);
            if (ctx.go_rc[i] == 0) {
                accepted++;
                assert_int_equal(ctx.released[i], 1);
                assert_true(ctx.ran[i] <= 1);
                ran += ctx.ran[i];
            } else {
                /* Not accepted: never run, the caller kept arg. */
                assert_int_equal(ctx.released[i], 0);
                assert_int_equal(ctx.ran[i], 0);
            }
            if (limit == 1)
                assert_int_equal(ctx.ran[i], 0);
        }
        errgroup_counters c;
        assert_int_equal(errgroup_get_counters(&g, &c), 0);
        assert_int_equal(c.submitted, accepted);
        assert_int_equal(c.started, ran);
        assert_int_equal(c.finished, ran);
        assert_int_equal(c.skipped, accepted - ran);
        assert_int_equal(c.failed, 1);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

/* A body under limit 1 queues children, then cancels the group: none of the
 * children may run, each is released, and go afterwards is refused. */
static int cancel_spawner(errgroup *g, void *arg)
{
    struct cancel_item *it = arg;
    struct cancel_ctx *ctx = it->ctx;
    inc(&ctx->ran[0]);
    for (int i = 1; i < QUEUED; i++)
        ctx->go_rc[i] = errgroup_go(g, cancel_leaf, &cancel_items[i]);
    ctx->cancel_rc = errgroup_cancel(g);
    ctx->go_rc[QUEUED] = errgroup_go(g, cancel_leaf, &cancel_items[QUEUED]);
    return 0;
}

static void test_set_limit_cancel_skips_queued_and_releases(void **state)
{
    (void)state;
    struct cancel_ctx ctx;
    prepare_cancel(&ctx);
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_limit(&g, 1), 0);
    assert_int_equal(errgroup_set_release(&g, cancel_release), 0);
    int rc = -1;
#pragma omp parallel
#pragma omp single
    {
        ctx.go_rc[0] = errgroup_go(&g, cancel_spawner, &cancel_items[0]);
        rc = errgroup_wait(&g);
    }
    assert_int_equal(rc, ERRGROUP_ECANCELED);
    assert_int_equal(ctx.cancel_rc, 0);
    assert_int_equal(ctx.go_rc[0], 0);
    assert_int_equal(ctx.ran[0], 1);
    assert_int_equal(ctx.released[0], 1);
    for (int i = 1; i < QUEUED; i++) {
        assert_int_equal(ctx.go_rc[i], 0);
        assert_int_equal(ctx.ran[i], 0);
        assert_int_equal(ctx.released[i], 1);
    }
    assert_int_equal(ctx.go_rc[QUEUED], ERRGROUP_ECANCELED);
    assert_int_equal(ctx.ran[QUEUED], 0);
    assert_int_equal(ctx.released[QUEUED], 0);
    errgroup_counters c;
    assert_int_equal(errgroup_get_counters(&g, &c), 0);
    assert_int_equal(c.submitted, QUEUED);
    assert_int_equal(c.started, 1);
    assert_int_equal(c.finished, 1);
    assert_int_equal(c.skipped, QUEUED - 1);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- Limit 0 and argument checks ------------------------------------------ */

#define UNLIMITED_TRIES 6

struct unlimited_ctx {
    int try_rc[UNLIMITED_TRIES];
    int leaf_ran;
};

static int unlimited_leaf(errgroup *g, void *arg)
{
    (void)g;
    struct unlimited_ctx *u = arg;
    inc(&u->leaf_ran);
    return 0;
}

static int unlimited_trier(errgroup *g, void *arg)
{
    struct unlimited_ctx *u = arg;
    for (int i = 0; i < UNLIMITED_TRIES; i++)
        u->try_rc[i] = errgroup_try_go(g, unlimited_leaf, u);
    return 0;
}

static void test_set_limit_zero_is_unlimited(void **state)
{
    (void)state;
    struct unlimited_ctx u;
    memset(&u, 0, sizeof u);
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_limit(&g, 1), 0);
    assert_int_equal(errgroup_set_limit(&g, 0), 0);
    int rc = -1, go_rc = -1;
#pragma omp parallel
#pragma omp single
    {
        go_rc = errgroup_go(&g, unlimited_trier, &u);
        rc = errgroup_wait(&g);
    }
    assert_int_equal(go_rc, 0);
    assert_int_equal(rc, 0);
    /* With limit 1 the running trier would make each of these EAGAIN. */
    for (int i = 0; i < UNLIMITED_TRIES; i++)
        assert_int_equal(u.try_rc[i], 0);
    assert_int_equal(u.leaf_ran, UNLIMITED_TRIES);
    assert_counters_balanced(&g, 1 + UNLIMITED_TRIES);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static int busy_config(errgroup *g, void *arg)
{
    int *rc = arg;
    *rc = errgroup_set_limit(g, 2);
    return 0;
}

static void test_set_limit_rejects_bad_arguments(void **state)
{
    (void)state;
    errgroup g;
    assert_int_equal(errgroup_set_limit(NULL, 1), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_limit(&g, -1), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_limit(&g, INT32_MIN), ERRGROUP_EINVAL);
    /* While a task is in flight: EBUSY. */
    int busy_rc = -1, rc = -1;
#pragma omp parallel
#pragma omp single
    {
        if (errgroup_go(&g, busy_config, &busy_rc) == 0)
            rc = errgroup_wait(&g);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(busy_rc, ERRGROUP_EBUSY);
    assert_int_equal(errgroup_set_limit(&g, 1), ERRGROUP_ECLOSED);
    assert_int_equal(errgroup_destroy(&g), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_limit_bounds_running_bodies),
        cmocka_unit_test(test_set_limit_bounds_bodies_under_run),
        cmocka_unit_test(test_set_limit_one_nested_go_runs_after_parent),
        cmocka_unit_test(test_set_limit_one_nested_go_outside_region),
        cmocka_unit_test(test_try_go_returns_eagain_at_limit),
        cmocka_unit_test(test_try_go_counts_running_body),
        cmocka_unit_test(test_try_go_without_limit_is_go),
        cmocka_unit_test(test_try_go_without_limit_records_ordinal),
        cmocka_unit_test(test_set_limit_queued_tasks_skipped_after_failure),
        cmocka_unit_test(test_set_limit_cancel_skips_queued_and_releases),
        cmocka_unit_test(test_set_limit_zero_is_unlimited),
        cmocka_unit_test(test_set_limit_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
