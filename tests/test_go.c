/*
 * Tasks: errgroup_go / errgroup_wait / errgroup_run semantics. Which error
 * wins, ordinals, skipping and releasing after cancellation, nested spawning,
 * memory visibility after wait, and the progress counters.
 *
 * Worker tasks only record (per-index arrays, atomics); every assertion runs
 * on the test thread after the wait.
 */
#define _POSIX_C_SOURCE 200809L

#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <omp.h>

#include "errgroup.h"
#include "test_util.h"

/* After wait: the given totals, and nothing left in flight. started < 0:
 * any number (the schedule decides what ran before a failure). */
static void assert_counters_settled(errgroup *g, int64_t submitted, int64_t started)
{
    errgroup_counters c;
    assert_int_equal(errgroup_get_counters(g, &c), 0);
    assert_int_equal(c.submitted, submitted);
    if (started >= 0)
        assert_int_equal(c.started, started);
    assert_int_equal(c.finished, c.started);
    assert_int_equal(c.submitted, c.finished + c.skipped);
}

/* ---- The first error -------------------------------------------------- */

#define NFAIL 64
#define FAIL_ROUNDS 20

struct fail_ctx {
    int ran[NFAIL];     /* the body ran and called errgroup_fail */
    int fail_rc[NFAIL]; /* what errgroup_fail returned */
};

struct fail_arg {
    struct fail_ctx *ctx;
    int i;
};

static int fail_task(errgroup *g, void *arg)
{
    struct fail_arg *a = arg;
    int rc = errgroup_fail(g, 1000 + a->i, a->i, "task %d", a->i);
    a->ctx->fail_rc[a->i] = rc;
    __atomic_store_n(&a->ctx->ran[a->i], 1, __ATOMIC_RELAXED);
    return rc;
}

static void test_wait_returns_error_of_a_failing_task(void **state)
{
    (void)state;
    for (int round = 0; round < FAIL_ROUNDS; round++) {
        struct fail_ctx ctx;
        struct fail_arg args[NFAIL];
        memset(&ctx, 0, sizeof ctx);
        for (int i = 0; i < NFAIL; i++)
            args[i] = (struct fail_arg){&ctx, i};
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        int accepted = 0, stop_rc = 0, rc = -1;
#pragma omp parallel default(none) shared(g, args, accepted, stop_rc, rc)
#pragma omp single
        {
            for (int i = 0; i < NFAIL; i++) {
                int r = errgroup_go(&g, fail_task, &args[i]);
                if (r != 0) {
                    stop_rc = r;
                    break;
                }
                accepted++;
            }
            rc = errgroup_wait(&g);
        }
        assert_true(accepted >= 1);
        if (accepted < NFAIL)
            assert_int_equal(stop_rc, ERRGROUP_ECANCELED);

        errgroup_error e;
        assert_int_equal(errgroup_first_error(&g, &e), 0);
        assert_int_equal(rc, e.code);
        assert_true(e.index >= 0 && e.index < accepted);
        assert_int_equal(ctx.ran[e.index], 1); /* a task that really failed */
        assert_int_equal(e.code, 1000 + e.index);
        char want[32];
        snprintf(want, sizeof want, "task %d", (int)e.index);
        assert_string_equal(e.message, want);

        int ran = 0;
        for (int i = 0; i < NFAIL; i++) {
            if (ctx.ran[i]) {
                ran++;
                assert_int_equal(ctx.fail_rc[i], 1000 + i);
            }
        }
        assert_counters_settled(&g, accepted, ran);
        errgroup_counters c;
        errgroup_get_counters(&g, &c);
        assert_int_equal(c.failed, ran);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

/* A body that returns a code without errgroup_fail. */
struct ret_arg {
    int code;
    int ran;
};

static int ret_task(errgroup *g, void *arg)
{
    (void)g;
    struct ret_arg *a = arg;
    __atomic_store_n(&a->ran, 1, __ATOMIC_RELAXED);
    return a->code;
}

#define NORD 16

/*
 * Only task k fails, by returning 500 + k: the error must carry its ordinal
 * k (ordinals follow go order from one submitter) and an empty message.
 */
static void test_go_fallback_error_has_ordinal(void **state)
{
    (void)state;
    for (int k = 0; k < NORD; k++) {
        struct ret_arg args[NORD];
        int go_rc[NORD];
        for (int i = 0; i < NORD; i++) {
            args[i] = (struct ret_arg){i == k ? 500 + k : 0, 0};
            go_rc[i] = -1;
        }
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        int rc = -1;
#pragma omp parallel default(none) shared(g, args, go_rc, rc)
#pragma omp single
        {
            for (int i = 0; i < NORD; i++)
                go_rc[i] = errgroup_go(&g, ret_task, &args[i]);
            rc = errgroup_wait(&g);
        }
        for (int i = 0; i <= k; i++)
            assert_int_equal(go_rc[i], 0);
        int accepted = 0;
        for (int i = 0; i < NORD; i++) {
            assert_true(go_rc[i] == 0 || (i > k && go_rc[i] == ERRGROUP_ECANCELED));
            accepted += go_rc[i] == 0;
        }
        assert_int_equal(args[k].ran, 1);
        assert_int_equal(rc, 500 + k);
        EXPECT_FIRST_ERROR(&g, 500 + k, k, "");
        errgroup_counters c;
        errgroup_get_counters(&g, &c);
        assert_int_equal(c.submitted, accepted);
        assert_int_equal(c.failed, 1);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

/* A go that returns an error uses no ordinal; go and try_go share them. */
/* errgroup_current_index: the ordinal in a task, the chunk start in a loop
 * body, NO_INDEX in a run body and outside any body of the group. */
#define NIDX 32
static int64_t seen_index[NIDX];
static errgroup *index_other;

static int note_index(errgroup *g, void *arg)
{
    int i = (int)(intptr_t)arg;
    seen_index[i] = errgroup_current_index(g);
    if (errgroup_current_index(index_other) != ERRGROUP_NO_INDEX)
        seen_index[i] = -7; /* not inside a body of the other group */
    return 0;
}

static int note_chunk(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)arg;
    for (int64_t i = lo; i < hi; i++)
        seen_index[i] = errgroup_current_index(g) == lo ? lo : -1;
    return 0;
}

static int run_notes(errgroup *g, void *arg)
{
    int64_t *out = arg;
    *out = errgroup_current_index(g);
    for (int i = 0; i < NIDX; i++)
        errgroup_go(g, note_index, (void *)(intptr_t)i);
    return 0;
}

static void test_current_index(void **state)
{
    (void)state;
    errgroup g, other;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_init(&other), 0);
    index_other = &other;
    assert_int_equal(errgroup_current_index(&g), ERRGROUP_NO_INDEX);
    assert_int_equal(errgroup_current_index(NULL), ERRGROUP_NO_INDEX);
    int64_t in_run = 0;
    assert_int_equal(errgroup_run(&g, run_notes, &in_run), 0);
    assert_int_equal(in_run, ERRGROUP_NO_INDEX);
    for (int i = 0; i < NIDX; i++)
        assert_int_equal(seen_index[i], i); /* one submitter: ordinal i */
    assert_int_equal(errgroup_set_chunk(&g, 5), 0);
    assert_int_equal(errgroup_for(&g, 0, NIDX, note_chunk, NULL), 0);
    for (int i = 0; i < NIDX; i++)
        assert_int_equal(seen_index[i], i - i % 5);
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(errgroup_destroy(&g), 0);
    assert_int_equal(errgroup_destroy(&other), 0);
}

static void test_go_refused_uses_no_ordinal(void **state)
{
    (void)state;
    struct ret_arg ok[4] = {{0, 0}, {0, 0}, {0, 0}, {0, 0}};
    struct ret_arg bad = {33, 0};
    int rc_null = 0, rc_null_try = 0, rc_bad = -1, rc = -1;
    int rc_ok[4] = {-1, -1, -1, -1};
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
#pragma omp parallel default(none) shared(g, ok, bad, rc_null, rc_null_try, rc_bad, rc, rc_ok)
#pragma omp single
    {
        rc_ok[0] = errgroup_go(&g, ret_task, &ok[0]);       /* ordinal 0 */
        rc_ok[1] = errgroup_try_go(&g, ret_task, &ok[1]);   /* ordinal 1 */
        rc_null = errgroup_go(&g, NULL, &ok[2]);            /* refused */
        rc_null_try = errgroup_try_go(&g, NULL, &ok[2]);    /* refused */
        rc_ok[2] = errgroup_go(&g, ret_task, &ok[2]);       /* ordinal 2 */
        rc_ok[3] = errgroup_go(&g, ret_task, &ok[3]);       /* ordinal 3 */
        rc_bad = errgroup_go(&g, ret_task, &bad);           /* ordinal 4 */
        rc = errgroup_wait(&g);
    }
    assert_int_equal(rc_null, ERRGROUP_EINVAL);
    assert_int_equal(rc_null_try, ERRGROUP_EINVAL);
    for (int i = 0; i < 4; i++)
        assert_int_equal(rc_ok[i], 0);
    assert_int_equal(rc_bad, 0);
    assert_int_equal(rc, 33);
    errgroup_error e;
    assert_int_equal(errgroup_first_error(&g, &e), 0);
    assert_int_equal(e.index, 4);
    assert_counters_settled(&g, 5, -1);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* The same without a parallel region, where go runs each body at once. */
static void test_go_serial_ordinals_and_fallback(void **state)
{
    (void)state;
    struct ret_arg ok[3] = {{0, 0}, {0, 0}, {0, 0}};
    struct ret_arg bad = {-12, 0}, late = {0, 0};
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(errgroup_go(&g, ret_task, &ok[i]), 0);
    assert_int_equal(errgroup_go(&g, NULL, NULL), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_go(&g, ret_task, &bad), 0); /* ordinal 3 */
    assert_int_equal(errgroup_go(&g, ret_task, &late), ERRGROUP_ECANCELED);
    assert_int_equal(late.ran, 0);
    assert_int_equal(errgroup_wait(&g), -12);
    EXPECT_FIRST_ERROR(&g, -12, 3, "");
    assert_counters_settled(&g, 4, 4);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- go outside a parallel region ---------------------------------------- */

static _Thread_local int thread_marker;

struct where {
    int ran;
    int level;
    int *marker; /* address of the running thread's thread_marker */
};

static int where_task(errgroup *g, void *arg)
{
    (void)g;
    struct where *w = arg;
    w->level = omp_get_level();
    w->marker = &thread_marker;
    w->ran = 1;
    return 0;
}

static void test_go_outside_region_runs_at_once(void **state)
{
    (void)state;
    struct where w = {0, -1, NULL};
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_go(&g, where_task, &w), 0);
    /* Before wait: the body has already run, in this thread, outside any region. */
    assert_int_equal(w.ran, 1);
    assert_int_equal(w.level, 0);
    assert_ptr_equal(w.marker, &thread_marker);
    assert_int_equal(errgroup_wait(&g), 0);
    assert_counters_settled(&g, 1, 1);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- Cancelled groups ---------------------------------------------------- */

static int release_calls;

static void count_release(void *arg)
{
    (void)arg;
    __atomic_fetch_add(&release_calls, 1, __ATOMIC_RELAXED);
}

static void test_go_canceled_group_runs_nothing(void **state)
{
    (void)state;
    struct ret_arg a = {0, 0};
    errgroup g;
    release_calls = 0;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_release(&g, count_release), 0);
    assert_int_equal(errgroup_cancel(&g), 0);
    assert_int_equal(errgroup_go(&g, ret_task, &a), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_try_go(&g, ret_task, &a), ERRGROUP_ECANCELED);
    int rc_go = -1, rc_try = -1;
#pragma omp parallel default(none) shared(g, a, rc_go, rc_try)
#pragma omp single
    {
        rc_go = errgroup_go(&g, ret_task, &a);
        rc_try = errgroup_try_go(&g, ret_task, &a);
    }
    assert_int_equal(rc_go, ERRGROUP_ECANCELED);
    assert_int_equal(rc_try, ERRGROUP_ECANCELED);
    assert_int_equal(a.ran, 0);
    assert_int_equal(release_calls, 0); /* not accepted: the caller keeps arg */
    assert_int_equal(errgroup_wait(&g), ERRGROUP_ECANCELED);
    assert_counters_settled(&g, 0, 0);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_go_after_error_runs_nothing(void **state)
{
    (void)state;
    struct ret_arg a = {0, 0};
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_fail(&g, 8, 2, "before any task"), 8);
    assert_int_equal(errgroup_go(&g, ret_task, &a), ERRGROUP_ECANCELED);
    assert_int_equal(a.ran, 0);
    assert_int_equal(errgroup_wait(&g), 8);
    assert_counters_settled(&g, 0, 0);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* Per-index bookkeeping for the skip tests. */
#define NVICTIM 12

struct skip_ctx {
    int owner;            /* omp_get_thread_num() of the submitting thread */
    int blockers_started; /* blockers spinning on other threads */
    int blockers_inline;  /* blockers that ran on the owner's thread */
    int unblock;          /* the owner lets the blockers return */
    int cancel_done;      /* errgroup_cancel has returned */
    int gave_up;          /* a spin hit SAFETY_CAP_S */
    int ran[NVICTIM + 64];
    int on_owner[NVICTIM + 64];
    int saw_cancel_done[NVICTIM + 64];
    int released[NVICTIM + 64];
    int gate_go_rc[NVICTIM];
};

struct skip_arg {
    struct skip_ctx *ctx;
    int i;
};

static void skip_release(void *arg)
{
    struct skip_arg *a = arg;
    __atomic_fetch_add(&a->ctx->released[a->i], 1, __ATOMIC_RELAXED);
}

static int victim_task(errgroup *g, void *arg)
{
    (void)g;
    struct skip_arg *a = arg;
    struct skip_ctx *c = a->ctx;
    c->saw_cancel_done[a->i] = __atomic_load_n(&c->cancel_done, __ATOMIC_ACQUIRE);
    c->on_owner[a->i] = omp_get_thread_num() == c->owner;
    __atomic_store_n(&c->ran[a->i], 1, __ATOMIC_RELAXED);
    return 0;
}

/*
 * Limit 1: a gate task holds the only slot and submits NVICTIM tasks from its
 * body. They are accepted and queued, and cannot start before the gate's
 * body returns. The gate cancels the group before returning, so every one of
 * them must be skipped and released, whatever the team size or runtime.
 */
static int gate_task(errgroup *g, void *arg)
{
    struct skip_arg *a = arg;
    struct skip_ctx *c = a->ctx;
    for (int i = 0; i < NVICTIM; i++)
        c->gate_go_rc[i] = errgroup_go(g, victim_task, a + 1 + i);
    errgroup_cancel(g);
    __atomic_store_n(&c->ran[a->i], 1, __ATOMIC_RELAXED);
    return 0;
}

static int submit_gate(errgroup *g, void *arg)
{
    return errgroup_go(g, gate_task, arg);
}

static void test_go_queued_tasks_skipped_and_released_once(void **state)
{
    (void)state;
    static struct skip_ctx ctx;
    struct skip_arg args[1 + NVICTIM];
    memset(&ctx, 0, sizeof ctx);
    for (int i = 0; i < 1 + NVICTIM; i++)
        args[i] = (struct skip_arg){&ctx, i};
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_limit(&g, 1), 0);
    assert_int_equal(errgroup_set_release(&g, skip_release), 0);
    assert_int_equal(errgroup_run(&g, submit_gate, args), ERRGROUP_ECANCELED);
    assert_int_equal(ctx.ran[0], 1);
    assert_int_equal(ctx.released[0], 1);
    for (int i = 0; i < NVICTIM; i++) {
        assert_int_equal(ctx.gate_go_rc[i], 0);
        assert_int_equal(ctx.ran[1 + i], 0);
        assert_int_equal(ctx.released[1 + i], 1);
    }
    errgroup_counters c;
    assert_int_equal(errgroup_get_counters(&g, &c), 0);
    assert_int_equal(c.submitted, 1 + NVICTIM);
    assert_int_equal(c.started, 1);
    assert_int_equal(c.finished, 1);
    assert_int_equal(c.skipped, NVICTIM);
    assert_int_equal(errgroup_wait(&g), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/*
 * No limit. Every thread but the owner is held in a blocker task, so the
 * victims, once submitted, can only run on the owner's thread: inside go (a
 * runtime that runs tasks at once) or inside wait, after the cancel. The
 * victims that run at wait must be skipped; each accepted arg is released
 * exactly once either way. A blocker that lands on the owner's thread
 * returns at once (it cannot wait for a thread that is running it); then a
 * thread is free and only the per-task bookkeeping is checked.
 */
static int blocker_task(errgroup *g, void *arg)
{
    (void)g;
    struct skip_arg *a = arg;
    struct skip_ctx *c = a->ctx;
    __atomic_store_n(&c->ran[a->i], 1, __ATOMIC_RELAXED);
    if (omp_get_thread_num() == c->owner) {
        __atomic_fetch_add(&c->blockers_inline, 1, __ATOMIC_RELEASE);
        return 0;
    }
    __atomic_fetch_add(&c->blockers_started, 1, __ATOMIC_RELEASE);
    double start = now_s();
    while (!__atomic_load_n(&c->unblock, __ATOMIC_ACQUIRE)) {
        if (now_s() - start > SAFETY_CAP_S) {
            __atomic_store_n(&c->gave_up, 1, __ATOMIC_RELAXED);
            break;
        }
        sched_yield();
    }
    return 0;
}

static void test_go_cancel_skips_unstarted_tasks(void **state)
{
    (void)state;
    static struct skip_ctx ctx;
    static struct skip_arg args[NVICTIM + 64];
    memset(&ctx, 0, sizeof ctx);
    for (int i = 0; i < NVICTIM + 64; i++)
        args[i] = (struct skip_arg){&ctx, i};
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_release(&g, skip_release), 0);
    int nblockers = 0, accepted = 0, rc = -1;
#pragma omp parallel default(none) shared(g, ctx, args, nblockers, accepted, rc)
#pragma omp single
    {
        ctx.owner = omp_get_thread_num();
        nblockers = omp_get_num_threads() - 1;
        if (nblockers > 64)
            nblockers = 64;
        for (int b = 0; b < nblockers; b++)
            accepted += errgroup_go(&g, blocker_task, &args[NVICTIM + b]) == 0;
        double start = now_s();
        while (__atomic_load_n(&ctx.blockers_started, __ATOMIC_ACQUIRE) +
                   __atomic_load_n(&ctx.blockers_inline, __ATOMIC_ACQUIRE) <
               nblockers) {
            if (now_s() - start > SAFETY_CAP_S) {
                ctx.gave_up = 1;
                break;
            }
            sched_yield();
        }
        for (int i = 0; i < NVICTIM; i++)
            accepted += errgroup_go(&g, victim_task, &args[i]) == 0;
        errgroup_cancel(&g);
        __atomic_store_n(&ctx.cancel_done, 1, __ATOMIC_RELEASE);
        __atomic_store_n(&ctx.unblock, 1, __ATOMIC_RELEASE);
        rc = errgroup_wait(&g);
    }
    assert_int_equal(ctx.gave_up, 0);
    assert_int_equal(accepted, nblockers + NVICTIM);
    assert_int_equal(rc, ERRGROUP_ECANCELED);
    int ran = 0;
    for (int b = 0; b < nblockers; b++) {
        assert_int_equal(ctx.ran[NVICTIM + b], 1); /* running bodies are not interrupted */
        assert_int_equal(ctx.released[NVICTIM + b], 1);
        ran++;
    }
    for (int i = 0; i < NVICTIM; i++) {
        assert_int_equal(ctx.released[i], 1);
        if (ctx.ran[i]) {
            ran++;
            if (ctx.blockers_inline == 0) {
                /* No free thread: it can only have run inside go. */
                assert_int_equal(ctx.on_owner[i], 1);
                assert_int_equal(ctx.saw_cancel_done[i], 0);
            }
        }
    }
    assert_counters_settled(&g, accepted, ran);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- Nested spawning ----------------------------------------------------- */

/* Four levels: 4 roots, each node below has 3 children: 4 + 12 + 36 + 108. */
#define NEST_LEVELS 4
#define NEST_ROOTS 4
#define NEST_FAN 3
#define NEST_NODES (4 + 12 + 36 + 108)
#define NEST_ROW 16

static const int nest_offset[NEST_LEVELS] = {0, 4, 16, 52};

struct nest_ctx {
    int done[NEST_NODES];            /* plain writes, read after wait */
    int64_t rows[NEST_NODES][NEST_ROW]; /* plain writes, read after wait */
    int go_failed;                   /* a nested go did not return 0 */
    int level_seen[NEST_NODES];
};

struct nest_arg {
    struct nest_ctx *ctx;
    int level;
    int pos; /* position within its level */
};

static struct nest_arg nest_args[NEST_NODES];

static int nest_task(errgroup *g, void *arg)
{
    struct nest_arg *a = arg;
    struct nest_ctx *c = a->ctx;
    int id = nest_offset[a->level] + a->pos;
    if (a->level + 1 < NEST_LEVELS) {
        for (int j = 0; j < NEST_FAN; j++) {
            int child = nest_offset[a->level + 1] + a->pos * NEST_FAN + j;
            if (errgroup_go(g, nest_task, &nest_args[child]) != 0)
                __atomic_store_n(&c->go_failed, 1, __ATOMIC_RELAXED);
        }
    } else {
        /* Leaves do a little work, so they are likely still running when
         * their ancestors' bodies have returned. */
        volatile int64_t sink = 0;
        for (int k = 0; k < 2000; k++)
            sink += k;
        (void)sink;
    }
    for (int k = 0; k < NEST_ROW; k++)
        c->rows[id][k] = (int64_t)id * 1000 + k;
    c->level_seen[id] = a->level + 1;
    c->done[id] = 1;
    return 0;
}

static void nest_prepare(struct nest_ctx *c)
{
    memset(c, 0, sizeof *c);
    for (int l = 0; l < NEST_LEVELS; l++) {
        int width = NEST_ROOTS;
        for (int k = 0; k < l; k++)
            width *= NEST_FAN;
        for (int p = 0; p < width; p++)
            nest_args[nest_offset[l] + p] = (struct nest_arg){c, l, p};
    }
}

static void nest_check(errgroup *g, const struct nest_ctx *c)
{
    assert_int_equal(c->go_failed, 0);
    for (int l = 0; l < NEST_LEVELS; l++) {
        int end = l + 1 < NEST_LEVELS ? nest_offset[l + 1] : NEST_NODES;
        for (int id = nest_offset[l]; id < end; id++) {
            assert_int_equal(c->done[id], 1);
            assert_int_equal(c->level_seen[id], l + 1);
            for (int k = 0; k < NEST_ROW; k++)
                assert_int_equal(c->rows[id][k], (int64_t)id * 1000 + k);
        }
    }
    assert_counters_settled(g, NEST_NODES, NEST_NODES);
    errgroup_counters cn;
    errgroup_get_counters(g, &cn);
    assert_int_equal(cn.failed, 0);
    assert_int_equal(cn.skipped, 0);
}

static void test_wait_covers_nested_tasks(void **state)
{
    (void)state;
    static struct nest_ctx ctx;
    for (int round = 0; round < 5; round++) {
        nest_prepare(&ctx);
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        int rc = -1, go_rc = 0;
#pragma omp parallel default(none) shared(g, rc, go_rc, nest_args)
#pragma omp single
        {
            for (int r = 0; r < NEST_ROOTS; r++)
                go_rc |= errgroup_go(&g, nest_task, &nest_args[r]);
            rc = errgroup_wait(&g);
        }
        assert_int_equal(go_rc, 0);
        assert_int_equal(rc, 0);
        nest_check(&g, &ctx);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

static void test_wait_covers_nested_tasks_serial(void **state)
{
    (void)state;
    static struct nest_ctx ctx;
    nest_prepare(&ctx);
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    for (int r = 0; r < NEST_ROOTS; r++)
        assert_int_equal(errgroup_go(&g, nest_task, &nest_args[r]), 0);
    assert_int_equal(errgroup_wait(&g), 0);
    nest_check(&g, &ctx);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static int nest_submit(errgroup *g, void *arg)
{
    (void)arg;
    for (int r = 0; r < NEST_ROOTS; r++)
        if (errgroup_go(g, nest_task, &nest_args[r]) != 0)
            return 99;
    return 0;
}

static void test_run_covers_nested_tasks(void **state)
{
    (void)state;
    static struct nest_ctx ctx;
    nest_prepare(&ctx);
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_run(&g, nest_submit, NULL), 0);
    nest_check(&g, &ctx); /* before wait: run itself waited */
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- errgroup_run -------------------------------------------------------- */

struct run_ctx {
    int calls;
    int level;
    int thread;
    int fail_with;     /* the body returns this */
    int use_fail;      /* ... through errgroup_fail */
    int ntasks;        /* tasks the body spawns */
    int done[32];
};

static int run_child(errgroup *g, void *arg)
{
    (void)g;
    *(int *)arg = 1;
    return 0;
}

static int run_body(errgroup *g, void *arg)
{
    struct run_ctx *c = arg;
    c->calls++;
    c->level = omp_get_level();
    c->thread = omp_get_thread_num();
    for (int i = 0; i < c->ntasks; i++) {
        c->done[i] = 0;
        if (errgroup_go(g, run_child, &c->done[i]) != 0)
            return 98;
    }
    if (c->use_fail)
        return errgroup_fail(g, c->fail_with, 77, "run body %d", c->fail_with);
    return c->fail_with;
}

static void test_run_body_error_has_no_index(void **state)
{
    (void)state;
    struct run_ctx c;
    memset(&c, 0, sizeof c);
    c.fail_with = 42;
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_run(&g, run_body, &c), 42);
    assert_int_equal(c.calls, 1);
    EXPECT_FIRST_ERROR(&g, 42, ERRGROUP_NO_INDEX, "");
    assert_int_equal(errgroup_wait(&g), 42);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_run_reusable_and_error_sticky(void **state)
{
    (void)state;
    struct run_ctx c;
    memset(&c, 0, sizeof c);
    c.ntasks = 32;
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);

    /* Outside a region, run opens one: the body runs at level 1. */
    for (int round = 0; round < 3; round++) {
        assert_int_equal(errgroup_run(&g, run_body, &c), 0);
        assert_int_equal(c.calls, round + 1);
        assert_int_equal(c.level, 1);
        for (int i = 0; i < c.ntasks; i++)
            assert_int_equal(c.done[i], 1); /* run waited for the body's tasks */
    }

    c.fail_with = 5;
    c.use_fail = 1;
    assert_int_equal(errgroup_run(&g, run_body, &c), 5);
    assert_int_equal(c.calls, 4);
    int ran_last = 0; /* the body's tasks may be skipped after its failure */
    for (int i = 0; i < c.ntasks; i++)
        ran_last += c.done[i];

    /* Sticky: the group is cancelled, so a later run starts nothing. */
    c.fail_with = 6;
    c.use_fail = 0;
    assert_int_equal(errgroup_run(&g, run_body, &c), 5);
    assert_int_equal(c.calls, 4);

    EXPECT_FIRST_ERROR(&g, 5, 77, "run body 5");
    assert_int_equal(errgroup_wait(&g), 5);
    assert_int_equal(errgroup_run(&g, run_body, &c), ERRGROUP_ECLOSED);
    assert_int_equal(c.calls, 4);
    assert_counters_settled(&g, 4 * 32, 3 * 32 + ran_last);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_run_inside_region_uses_caller(void **state)
{
    (void)state;
    struct run_ctx c;
    memset(&c, 0, sizeof c);
    c.ntasks = 32;
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    int rc = -1, my_thread = -1, my_level = -1, all_done = 0;
#pragma omp parallel default(none) shared(g, c, rc, my_thread, my_level, all_done)
#pragma omp single
    {
        my_thread = omp_get_thread_num();
        my_level = omp_get_level();
        rc = errgroup_run(&g, run_body, &c);
        all_done = 1;
        for (int i = 0; i < c.ntasks; i++)
            all_done &= c.done[i];
    }
    assert_int_equal(rc, 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(my_level, 1);
    assert_int_equal(c.level, my_level); /* no new region */
    assert_int_equal(c.thread, my_thread);
    assert_int_equal(all_done, 1);       /* checked right after run returned */
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_run_canceled_group_runs_nothing(void **state)
{
    (void)state;
    struct run_ctx c;
    memset(&c, 0, sizeof c);
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_cancel(&g), 0);
    assert_int_equal(errgroup_run(&g, run_body, &c), ERRGROUP_ECANCELED);
    int rc = -1;
#pragma omp parallel default(none) shared(g, c, rc)
#pragma omp single
    rc = errgroup_run(&g, run_body, &c);
    assert_int_equal(rc, ERRGROUP_ECANCELED);
    assert_int_equal(c.calls, 0);
    assert_int_equal(errgroup_wait(&g), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- Counters -------------------------------------------------------------- */

struct mixed_arg {
    int fail;
    int ran;
};

static int mixed_task(errgroup *g, void *arg)
{
    (void)g;
    struct mixed_arg *a = arg;
    __atomic_store_n(&a->ran, 1, __ATOMIC_RELAXED);
    return a->fail;
}

static void test_counters_after_wait(void **state)
{
    (void)state;
    enum { N = 100 };
    struct mixed_arg args[N];

    /* Nothing fails: everything runs. */
    for (int i = 0; i < N; i++)
        args[i] = (struct mixed_arg){0, 0};
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    int rc = -1;
#pragma omp parallel default(none) shared(g, args, rc)
#pragma omp single
    {
        for (int i = 0; i < N; i++)
            errgroup_go(&g, mixed_task, &args[i]);
        rc = errgroup_wait(&g);
    }
    assert_int_equal(rc, 0);
    errgroup_counters c;
    assert_int_equal(errgroup_get_counters(&g, &c), 0);
    assert_int_equal(c.submitted, N);
    assert_int_equal(c.started, N);
    assert_int_equal(c.finished, N);
    assert_int_equal(c.failed, 0);
    assert_int_equal(c.skipped, 0);
    assert_int_equal(errgroup_destroy(&g), 0);

    /* Every fourth fails: failed counts the failing bodies that ran. */
    for (int i = 0; i < N; i++)
        args[i] = (struct mixed_arg){i % 4 == 3 ? 7 : 0, 0};
    assert_int_equal(errgroup_init(&g), 0);
    int accepted = 0;
#pragma omp parallel default(none) shared(g, args, rc, accepted)
#pragma omp single
    {
        for (int i = 0; i < N; i++)
            accepted += errgroup_go(&g, mixed_task, &args[i]) == 0;
        rc = errgroup_wait(&g);
    }
    assert_int_equal(rc, 7);
    int ran = 0, failed = 0;
    for (int i = 0; i < N; i++) {
        ran += args[i].ran;
        failed += args[i].ran && args[i].fail;
    }
    assert_true(failed >= 1);
    assert_int_equal(errgroup_get_counters(&g, &c), 0);
    assert_int_equal(c.submitted, accepted);
    assert_int_equal(c.started, ran);
    assert_int_equal(c.finished, ran);
    assert_int_equal(c.failed, failed);
    assert_int_equal(c.skipped, accepted - ran);
    assert_int_equal(errgroup_destroy(&g), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wait_returns_error_of_a_failing_task),
        cmocka_unit_test(test_go_fallback_error_has_ordinal),
        cmocka_unit_test(test_go_refused_uses_no_ordinal),
        cmocka_unit_test(test_current_index),
        cmocka_unit_test(test_go_serial_ordinals_and_fallback),
        cmocka_unit_test(test_go_outside_region_runs_at_once),
        cmocka_unit_test(test_go_canceled_group_runs_nothing),
        cmocka_unit_test(test_go_after_error_runs_nothing),
        cmocka_unit_test(test_go_queued_tasks_skipped_and_released_once),
        cmocka_unit_test(test_go_cancel_skips_unstarted_tasks),
        cmocka_unit_test(test_wait_covers_nested_tasks),
        cmocka_unit_test(test_wait_covers_nested_tasks_serial),
        cmocka_unit_test(test_run_covers_nested_tasks),
        cmocka_unit_test(test_run_body_error_has_no_index),
        cmocka_unit_test(test_run_reusable_and_error_sticky),
        cmocka_unit_test(test_run_inside_region_uses_caller),
        cmocka_unit_test(test_run_canceled_group_runs_nothing),
        cmocka_unit_test(test_counters_after_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
