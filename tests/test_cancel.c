/*
 * Cancellation without an error, deadlines, and child groups.
 *
 * Nothing here depends on speed: a timeout test only waits (by polling, with
 * a generous safety cap against hangs) until the group itself says that the
 * deadline passed, and asserts what must hold from then on.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
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

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Poll errgroup_canceled(g) until it says 1. Returns 0 if the cap was hit. */
static int poll_until_canceled(errgroup *g)
{
    double start = now_s();
    while (errgroup_canceled(g) != 1) {
        if (now_s() - start > SAFETY_CAP_S)
            return 0;
        sched_yield();
    }
    return 1;
}

static void assert_counters_settled(errgroup *g)
{
    errgroup_counters c;
    assert_int_equal(errgroup_get_counters(g, &c), 0);
    assert_int_equal(c.finished, c.started);
    assert_int_equal(c.submitted, c.finished + c.skipped);
}

static int ok_body(errgroup *g, void *arg)
{
    (void)g;
    if (arg != NULL)
        __atomic_fetch_add((int *)arg, 1, __ATOMIC_RELAXED);
    return 0;
}

/* ---- errgroup_cancel -------------------------------------------------- */

static void test_cancel_without_error(void **state)
{
    (void)state;
    errgroup g;
    errgroup_error e;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_canceled(&g), 0);
    assert_int_equal(errgroup_canceled_at(&g, 0), 0);
    assert_int_equal(errgroup_cancel(&g), 0);
    assert_int_equal(errgroup_cancel(&g), 0); /* twice is harmless */
    assert_int_equal(errgroup_canceled(&g), 1);
    assert_int_equal(errgroup_canceled_at(&g, 0), 2);
    assert_int_equal(errgroup_canceled_at(&g, -5), 2);
    assert_int_equal(errgroup_canceled_at(&g, INT64_MAX), 2);
    assert_int_equal(errgroup_first_error(&g, &e), 0);
    assert_int_equal(e.code, ERRGROUP_ECANCELED);
    assert_int_equal(e.index, ERRGROUP_NO_INDEX);
    assert_true(e.message[0] != '\0'); /* says why */
    assert_int_equal(errgroup_wait(&g), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_first_error(&g, &e), 0);
    assert_int_equal(e.code, ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_cancel_after_error_keeps_error(void **state)
{
    (void)state;
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_fail(&g, 7, 3, "boom %d", 3), 7);
    assert_int_equal(errgroup_cancel(&g), 0);
    assert_int_equal(errgroup_wait(&g), 7);
    EXPECT_FIRST_ERROR(&g, 7, 3, "boom 3");
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_fail_after_cancel_is_ignored(void **state)
{
    (void)state;
    errgroup g;
    errgroup_error e;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_cancel(&g), 0);
    assert_int_equal(errgroup_fail(&g, 7, 3, "too late"), 7); /* still returns code */
    assert_int_equal(errgroup_wait(&g), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_first_error(&g, &e), 0);
    assert_int_equal(e.code, ERRGROUP_ECANCELED);
    assert_int_equal(e.index, ERRGROUP_NO_INDEX);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* Whether it wins or loses, errgroup_fail returns only once the group shows
 * the failure: cancelled in first-error mode, everything above the failing
 * index skipped in lowest-index mode. (A loser used to return while the
 * winner had claimed the error but not yet raised the flag.) Many threads
 * fail at once, many times; any thread that sees the group still open
 * after its own errgroup_fail returned is counted. */
static void test_fail_returns_with_group_stopped(void **state)
{
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        int open_after_fail = 0;
        for (int round = 0; round < 2000; round++) {
            errgroup g;
            assert_int_equal(errgroup_init(&g), 0);
            if (mode == 1)
                assert_int_equal(errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX), 0);
#pragma omp parallel reduction(+ : open_after_fail)
            {
                int t = omp_get_thread_num();
                int rc = errgroup_fail(&g, 100 + t, t, "thread %d", t);
                int stopped = mode == 0 ? errgroup_canceled(&g) : errgroup_canceled_at(&g, INT64_MAX);
                if (rc != 100 + t || stopped != 1) /* counted: no cmocka asserts off the main thread */
                    open_after_fail++;
            }
            assert_int_equal(errgroup_destroy(&g), 0);
        }
        assert_int_equal(open_after_fail, 0);
    }
}

static void test_canceled_values(void **state)
{
    (void)state;
    errgroup g;
    /* First-error mode: an error cancels. */
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_canceled_at(&g, 10), 0);
    assert_int_equal(errgroup_fail(&g, 1, 10, NULL), 1);
    assert_int_equal(errgroup_canceled(&g), 1);
    assert_int_equal(errgroup_canceled_at(&g, 0), 2);
    assert_int_equal(errgroup_canceled_at(&g, 10), 2);
    assert_int_equal(errgroup_canceled_at(&g, 11), 2);
    assert_int_equal(errgroup_wait(&g), 1);
    assert_int_equal(errgroup_destroy(&g), 0);

    /* Lowest-index mode: an error skips only higher indices. */
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX), 0);
    assert_int_equal(errgroup_fail(&g, 1, 10, NULL), 1);
    assert_int_equal(errgroup_canceled(&g), 0);
    assert_int_equal(errgroup_canceled_at(&g, 9), 0);
    assert_int_equal(errgroup_canceled_at(&g, 10), 0);
    assert_int_equal(errgroup_canceled_at(&g, 11), 1);
    assert_int_equal(errgroup_cancel(&g), 0);
    assert_int_equal(errgroup_canceled(&g), 1);
    assert_int_equal(errgroup_canceled_at(&g, 9), 2);
    assert_int_equal(errgroup_wait(&g), 1); /* the error came first */
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* Tasks spin until they see the cancellation. */
#define NSPIN 16

struct spin_ctx {
    int started;           /* tasks whose body began */
    int ran[NSPIN];
    int saw_cancel[NSPIN]; /* 1: saw it; 0: hit the safety cap */
};

struct spin_arg {
    struct spin_ctx *ctx;
    int i;
};

static int spin_task(errgroup *g, void *arg)
{
    struct spin_arg *a = arg;
    __atomic_store_n(&a->ctx->ran[a->i], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&a->ctx->started, 1, __ATOMIC_RELEASE);
    a->ctx->saw_cancel[a->i] = poll_until_canceled(g);
    return 0;
}

struct canceller {
    errgroup *g;
    struct spin_ctx *ctx;
    int rc;
    int gave_up;
};

/* Another thread: waits until a task is running, then cancels. */
static void *canceller_thread(void *arg)
{
    struct canceller *c = arg;
    double start = now_s();
    while (__atomic_load_n(&c->ctx->started, __ATOMIC_ACQUIRE) == 0) {
        if (now_s() - start > SAFETY_CAP_S) {
            c->gave_up = 1;
            break;
        }
        sched_yield();
    }
    c->rc = errgroup_cancel(c->g);
    return NULL;
}

static void spin_check(errgroup *g, const struct spin_ctx *ctx, int accepted)
{
    int ran = 0;
    for (int i = 0; i < NSPIN; i++) {
        if (ctx->ran[i]) {
            ran++;
            assert_int_equal(ctx->saw_cancel[i], 1);
        }
    }
    assert_true(ran >= 1);
    errgroup_counters c;
    assert_int_equal(errgroup_get_counters(g, &c), 0);
    assert_int_equal(c.submitted, accepted);
    assert_int_equal(c.started, ran);
    assert_counters_settled(g);
}

static void test_cancel_from_another_thread(void **state)
{
    (void)state;
    static struct spin_ctx ctx;
    struct spin_arg args[NSPIN];
    memset(&ctx, 0, sizeof ctx);
    for (int i = 0; i < NSPIN; i++)
        args[i] = (struct spin_arg){&ctx, i};
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    /* A plain thread outside the OpenMP team, so this works with one thread. */
    struct canceller cn = {&g, &ctx, -1, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, canceller_thread, &cn), 0);
    int accepted = 0, stop_rc = 0, rc = -1;
#pragma omp parallel default(none) shared(g, args, accepted, stop_rc, rc)
#pragma omp single
    {
        for (int i = 0; i < NSPIN; i++) {
            int r = errgroup_go(&g, spin_task, &args[i]);
            if (r != 0) {
                stop_rc = r;
                break;
            }
            accepted++;
        }
        rc = errgroup_wait(&g);
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(cn.gave_up, 0);
    assert_int_equal(cn.rc, 0);
    assert_int_equal(rc, ERRGROUP_ECANCELED);
    if (accepted < NSPIN)
        assert_int_equal(stop_rc, ERRGROUP_ECANCELED);
    errgroup_error e;
    assert_int_equal(errgroup_first_error(&g, &e), 0);
    assert_int_equal(e.code, ERRGROUP_ECANCELED);
    spin_check(&g, &ctx, accepted);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- From a signal handler ---------------------------------------------- */

static errgroup *signal_group;
static volatile sig_atomic_t signal_rc = 1;

static void on_sigusr1(int sig)
{
    (void)sig;
    signal_rc = errgroup_cancel(signal_group);
}

struct raise_ctx {
    int raise_rc;
    int canceled_after; /* errgroup_canceled right after raise returned */
};

static int raise_task(errgroup *g, void *arg)
{
    struct raise_ctx *r = arg;
    /* raise() runs the handler on this thread before it returns. */
    r->raise_rc = raise(SIGUSR1);
    r->canceled_after = errgroup_canceled(g);
    return 0;
}

/*
 * One task raises the signal; the others do not wait for it (with one thread
 * a task that waited could keep the raising task from ever running).
 */
static void test_cancel_from_signal_handler(void **state)
{
    (void)state;
    enum { NOK = 8 };
    int ok_calls = 0;
    struct raise_ctx r = {-1, -1};
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    signal_group = &g;
    signal_rc = 1;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);

    int accepted = 0, rc = -1, raise_go = -1;
#pragma omp parallel default(none) shared(g, ok_calls, accepted, rc, r, raise_go)
#pragma omp single
    {
        for (int i = 0; i < NOK; i++)
            accepted += errgroup_go(&g, ok_body, &ok_calls) == 0;
        raise_go = errgroup_go(&g, raise_task, &r);
        rc = errgroup_wait(&g);
    }
    assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
    assert_int_equal(accepted, NOK);
    assert_int_equal(raise_go, 0);
    assert_int_equal(r.raise_rc, 0);
    assert_int_equal(signal_rc, 0);
    assert_int_equal(r.canceled_after, 1);
    assert_int_equal(rc, ERRGROUP_ECANCELED);
    errgroup_error e;
    assert_int_equal(errgroup_first_error(&g, &e), 0);
    assert_int_equal(e.code, ERRGROUP_ECANCELED);
    errgroup_counters c;
    assert_int_equal(errgroup_get_counters(&g, &c), 0);
    assert_int_equal(c.submitted, NOK + 1);
    assert_int_equal(c.started, ok_calls + 1);
    assert_counters_settled(&g);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* The same from the submitting thread: go afterwards is refused. */
static void test_cancel_from_signal_handler_in_owner(void **state)
{
    (void)state;
    int calls = 0;
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    signal_group = &g;
    signal_rc = 1;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    int raise_rc = -1, canceled = -1, go_rc = -1, rc = -1;
#pragma omp parallel default(none) shared(g, calls, raise_rc, canceled, go_rc, rc)
#pragma omp single
    {
        raise_rc = raise(SIGUSR1);
        canceled = errgroup_canceled(&g);
        go_rc = errgroup_go(&g, ok_body, &calls);
        rc = errgroup_wait(&g);
    }
    assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
    assert_int_equal(raise_rc, 0);
    assert_int_equal(signal_rc, 0);
    assert_int_equal(canceled, 1);
    assert_int_equal(go_rc, ERRGROUP_ECANCELED);
    assert_int_equal(calls, 0);
    assert_int_equal(rc, ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- Timeouts ------------------------------------------------------------- */

static void test_timeout_cancels_polling_tasks(void **state)
{
    (void)state;
    static struct spin_ctx ctx;
    struct spin_arg args[NSPIN];
    memset(&ctx, 0, sizeof ctx);
    for (int i = 0; i < NSPIN; i++)
        args[i] = (struct spin_arg){&ctx, i};
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_timeout(&g, 1e-3), 0);
    int accepted = 0, stop_rc = 0, rc = -1;
#pragma omp parallel default(none) shared(g, args, accepted, stop_rc, rc)
#pragma omp single
    {
        for (int i = 0; i < NSPIN; i++) {
            int r = errgroup_go(&g, spin_task, &args[i]);
            if (r != 0) {
                stop_rc = r;
                break;
            }
            accepted++;
        }
        rc = errgroup_wait(&g);
    }
    /* On a slow machine the deadline may pass before the first go. */
    if (accepted < NSPIN)
        assert_int_equal(stop_rc, ERRGROUP_ECANCELED);
    assert_int_equal(rc, ERRGROUP_ETIMEDOUT);
    errgroup_error e;
    assert_int_equal(errgroup_first_error(&g, &e), 0);
    assert_int_equal(e.code, ERRGROUP_ETIMEDOUT);
    assert_int_equal(e.index, ERRGROUP_NO_INDEX);
    assert_true(e.message[0] != '\0');
    for (int i = 0; i < NSPIN; i++)
        if (ctx.ran[i])
            assert_int_equal(ctx.saw_cancel[i], 1);
    errgroup_counters c;
    assert_int_equal(errgroup_get_counters(&g, &c), 0);
    assert_int_equal(c.submitted, accepted);
    assert_counters_settled(&g);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_timeout_then_go_is_canceled(void **state)
{
    (void)state;
    errgroup g;
    int calls = 0;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_timeout(&g, 1e-3), 0);
    assert_int_equal(poll_until_canceled(&g), 1);
    assert_int_equal(errgroup_canceled_at(&g, 0), 2);
    assert_int_equal(errgroup_go(&g, ok_body, &calls), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_try_go(&g, ok_body, &calls), ERRGROUP_ECANCELED);
    int rc_go = -1;
#pragma omp parallel default(none) shared(g, calls, rc_go)
#pragma omp single
    rc_go = errgroup_go(&g, ok_body, &calls);
    assert_int_equal(rc_go, ERRGROUP_ECANCELED);
    assert_int_equal(calls, 0);
    /* An error after the deadline loses to it. */
    assert_int_equal(errgroup_fail(&g, 9, 1, "late"), 9);
    assert_int_equal(errgroup_wait(&g), ERRGROUP_ETIMEDOUT);
    errgroup_error e;
    assert_int_equal(errgroup_first_error(&g, &e), 0);
    assert_int_equal(e.code, ERRGROUP_ETIMEDOUT);
    errgroup_counters c;
    assert_int_equal(errgroup_get_counters(&g, &c), 0);
    assert_int_equal(c.submitted, 0);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_error_before_deadline_wins(void **state)
{
    (void)state;
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    /* The error is recorded while no deadline can have passed (the first
     * timeout is an hour); only then is a short deadline armed and let pass. */
    assert_int_equal(errgroup_set_timeout(&g, 3600.0), 0);
    assert_int_equal(errgroup_fail(&g, 21, 4, "first"), 21);
    assert_int_equal(errgroup_set_timeout(&g, 1e-3), 0);
    sleep_s(5e-3); /* the short deadline has certainly passed */
    assert_int_equal(errgroup_canceled(&g), 1);
    assert_int_equal(errgroup_wait(&g), 21);
    EXPECT_FIRST_ERROR(&g, 21, 4, "first");
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_set_timeout_zero_removes_it(void **state)
{
    (void)state;
    errgroup g;
    int calls = 0;
    assert_int_equal(errgroup_init(&g), 0);
    /* Nobody looks at the group between these two calls, so the deadline
     * cannot have been observed (errgroup.h: it is observed only when someone
     * looks), whatever the speed. */
    assert_int_equal(errgroup_set_timeout(&g, 1e-2), 0);
    assert_int_equal(errgroup_set_timeout(&g, 0.0), 0);
    sleep_s(3e-2); /* the removed deadline would have passed */
    assert_int_equal(errgroup_canceled(&g), 0);
    assert_int_equal(errgroup_go(&g, ok_body, &calls), 0);
    assert_int_equal(calls, 1);
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- Child groups --------------------------------------------------------- */

static void test_child_canceled_by_parent_cancel(void **state)
{
    (void)state;
    errgroup parent, child;
    errgroup_error e;
    int calls = 0;
    assert_int_equal(errgroup_init(&parent), 0);
    assert_int_equal(errgroup_init_child(&child, &parent), 0);
    assert_int_equal(errgroup_canceled(&child), 0);
    assert_int_equal(errgroup_cancel(&parent), 0);
    assert_int_equal(errgroup_canceled(&child), 1);
    assert_int_equal(errgroup_canceled_at(&child, 0), 2);
    assert_int_equal(errgroup_go(&child, ok_body, &calls), ERRGROUP_ECANCELED);
    assert_int_equal(calls, 0);
    assert_int_equal(errgroup_wait(&child), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_first_error(&child, &e), 0);
    assert_int_equal(e.code, ERRGROUP_ECANCELED);
    assert_true(e.message[0] != '\0');
    assert_int_equal(errgroup_destroy(&child), 0);
    assert_int_equal(errgroup_wait(&parent), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_destroy(&parent), 0);
}

static void test_child_canceled_by_parent_error(void **state)
{
    (void)state;
    errgroup parent, child;
    errgroup_error e;
    assert_int_equal(errgroup_init(&parent), 0);
    assert_int_equal(errgroup_init_child(&child, &parent), 0);
    assert_int_equal(errgroup_fail(&parent, 31, 6, "parent failed"), 31);
    assert_int_equal(errgroup_canceled(&child), 1);
    /* The parent's error is not copied into the child. */
    assert_int_equal(errgroup_wait(&child), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_first_error(&child, &e), 0);
    assert_int_equal(e.code, ERRGROUP_ECANCELED);
    assert_int_equal(e.index, ERRGROUP_NO_INDEX);
    assert_string_not_equal(e.message, "parent failed");
    assert_int_equal(errgroup_destroy(&child), 0);
    assert_int_equal(errgroup_wait(&parent), 31);
    assert_int_equal(errgroup_destroy(&parent), 0);
}

static void test_child_canceled_by_parent_timeout(void **state)
{
    (void)state;
    errgroup parent, child;
    assert_int_equal(errgroup_init(&parent), 0);
    assert_int_equal(errgroup_init_child(&child, &parent), 0);
    assert_int_equal(errgroup_set_timeout(&parent, 1e-3), 0);
    /* Polling the child alone must notice the parent's deadline. */
    assert_int_equal(poll_until_canceled(&child), 1);
    assert_int_equal(errgroup_wait(&child), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_destroy(&child), 0);
    assert_int_equal(errgroup_wait(&parent), ERRGROUP_ETIMEDOUT);
    assert_int_equal(errgroup_destroy(&parent), 0);
}

static void test_child_own_error_first_wins(void **state)
{
    (void)state;
    errgroup parent, child;
    assert_int_equal(errgroup_init(&parent), 0);
    assert_int_equal(errgroup_init_child(&child, &parent), 0);
    assert_int_equal(errgroup_fail(&child, 12, 2, "child failed"), 12);
    assert_int_equal(errgroup_canceled(&parent), 0); /* a child error stays in the child */
    assert_int_equal(errgroup_cancel(&parent), 0);
    assert_int_equal(errgroup_wait(&child), 12);
    EXPECT_FIRST_ERROR(&child, 12, 2, "child failed");
    assert_int_equal(errgroup_destroy(&child), 0);
    assert_int_equal(errgroup_wait(&parent), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_destroy(&parent), 0);
}

static void test_child_error_does_not_cancel_parent(void **state)
{
    (void)state;
    errgroup parent, child;
    int calls = 0;
    assert_int_equal(errgroup_init(&parent), 0);
    assert_int_equal(errgroup_init_child(&child, &parent), 0);
    assert_int_equal(errgroup_fail(&child, 12, 2, NULL), 12);
    assert_int_equal(errgroup_cancel(&child), 0);
    assert_int_equal(errgroup_canceled(&child), 1);
    assert_int_equal(errgroup_wait(&child), 12);
    assert_int_equal(errgroup_destroy(&child), 0);
    assert_int_equal(errgroup_canceled(&parent), 0);
    assert_int_equal(errgroup_go(&parent, ok_body, &calls), 0);
    assert_int_equal(calls, 1);
    assert_int_equal(errgroup_wait(&parent), 0);
    assert_int_equal(errgroup_destroy(&parent), 0);
}

static void test_grandchild_canceled_by_grandparent(void **state)
{
    (void)state;
    errgroup top, mid, leaf;
    assert_int_equal(errgroup_init(&top), 0);
    assert_int_equal(errgroup_init_child(&mid, &top), 0);
    assert_int_equal(errgroup_init_child(&leaf, &mid), 0);
    assert_int_equal(errgroup_canceled(&leaf), 0);
    assert_int_equal(errgroup_fail(&top, 3, 0, "top"), 3);
    assert_int_equal(errgroup_canceled(&leaf), 1); /* asked first, before mid */
    assert_int_equal(errgroup_canceled(&mid), 1);
    assert_int_equal(errgroup_wait(&leaf), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_wait(&mid), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_wait(&top), 3);
    assert_int_equal(errgroup_destroy(&leaf), 0);
    assert_int_equal(errgroup_destroy(&mid), 0);
    assert_int_equal(errgroup_destroy(&top), 0);
}

/*
 * The pattern errgroup.h recommends: a parent task owns a child group,
 * spawns sub-tasks in it and returns the child's wait result.
 */
#define NSUB 8
#define NPARENT 4

struct sub_ctx {
    int init_rc[NPARENT];
    int sub_ran[NPARENT][NSUB];
    int child_rc[NPARENT];
    int fail_parent; /* which parent task's child group fails; -1 none */
    int fail_sub;    /* which sub-task in it */
};

struct sub_arg {
    struct sub_ctx *ctx;
    int p, s;
};

static struct sub_arg sub_args[NPARENT][NSUB + 1];

static int sub_task(errgroup *child, void *arg)
{
    struct sub_arg *a = arg;
    struct sub_ctx *c = a->ctx;
    c->sub_ran[a->p][a->s] = 1;
    if (a->p == c->fail_parent && a->s == c->fail_sub)
        return errgroup_fail(child, 55, a->s, "sub %d of %d", a->s, a->p);
    return 0;
}

static int parent_task(errgroup *parent, void *arg)
{
    struct sub_arg *a = arg;
    struct sub_ctx *c = a->ctx;
    errgroup child;
    c->init_rc[a->p] = errgroup_init_child(&child, parent);
    if (c->init_rc[a->p] != 0)
        return c->init_rc[a->p];
    for (int s = 0; s < NSUB; s++)
        if (errgroup_go(&child, sub_task, &sub_args[a->p][s]) != 0)
            break;
    int rc = errgroup_wait(&child);
    c->child_rc[a->p] = rc;
    errgroup_destroy(&child);
    return rc;
}

static void run_parent_tasks(struct sub_ctx *c, errgroup *parent, int *rc)
{
    for (int p = 0; p < NPARENT; p++)
        for (int s = 0; s <= NSUB; s++)
            sub_args[p][s] = (struct sub_arg){c, p, s};
#pragma omp parallel default(none) shared(parent, rc, sub_args)
#pragma omp single
    {
        for (int p = 0; p < NPARENT; p++)
            if (errgroup_go(parent, parent_task, &sub_args[p][NSUB]) != 0)
                break;
        *rc = errgroup_wait(parent);
    }
}

static void test_child_wait_result_becomes_parent_error(void **state)
{
    (void)state;
    static struct sub_ctx c;
    memset(&c, 0, sizeof c);
    c.fail_parent = 2;
    c.fail_sub = 5;
    errgroup parent;
    int rc = -1;
    assert_int_equal(errgroup_init(&parent), 0);
    run_parent_tasks(&c, &parent, &rc);
    assert_int_equal(rc, 55);
    assert_int_equal(c.init_rc[2], 0);
    assert_int_equal(c.child_rc[2], 55);
    assert_int_equal(c.sub_ran[2][5], 1);
    errgroup_error e;
    assert_int_equal(errgroup_first_error(&parent, &e), 0);
    assert_int_equal(e.code, 55);
    assert_int_equal(e.index, 2);       /* the parent task's ordinal */
    assert_string_equal(e.message, ""); /* returned, not errgroup_fail'ed, in the parent */
    /* Siblings whose child groups ran saw either success or the parent's cancel. */
    for (int p = 0; p < NPARENT; p++)
        if (p != 2 && c.init_rc[p] == 0)
            assert_true(c.child_rc[p] == 0 || c.child_rc[p] == ERRGROUP_ECANCELED);
    assert_counters_settled(&parent);
    assert_int_equal(errgroup_destroy(&parent), 0);
}

static void test_child_groups_without_error(void **state)
{
    (void)state;
    static struct sub_ctx c;
    memset(&c, 0, sizeof c);
    c.fail_parent = -1;
    errgroup parent;
    int rc = -1;
    assert_int_equal(errgroup_init(&parent), 0);
    run_parent_tasks(&c, &parent, &rc);
    assert_int_equal(rc, 0);
    for (int p = 0; p < NPARENT; p++) {
        assert_int_equal(c.init_rc[p], 0);
        assert_int_equal(c.child_rc[p], 0);
        for (int s = 0; s < NSUB; s++)
            assert_int_equal(c.sub_ran[p][s], 1);
    }
    errgroup_counters cn;
    assert_int_equal(errgroup_get_counters(&parent, &cn), 0);
    assert_int_equal(cn.submitted, NPARENT); /* sub-tasks count in their child */
    assert_int_equal(cn.finished, NPARENT);
    assert_int_equal(errgroup_destroy(&parent), 0);
}

/* A timeout below one nanosecond is still a timeout, not "no timeout". */
static void test_set_timeout_below_a_nanosecond_still_fires(void **state)
{
    (void)state;
    errgroup g;
    errgroup_error e;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_timeout(&g, 1e-12), 0);
    while (errgroup_canceled(&g) == 0) /* ends once the monotonic clock moves */
        ;
    assert_int_equal(errgroup_wait(&g), ERRGROUP_ETIMEDOUT);
    assert_int_equal(errgroup_first_error(&g, &e), 0);
    assert_int_equal(e.code, ERRGROUP_ETIMEDOUT);
    assert_non_null(strstr(e.message, "timed out after"));
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* After wait the outcome is frozen: a late cancel or error changes nothing. */
static void test_cancel_after_wait_changes_nothing(void **state)
{
    (void)state;
    errgroup g;
    errgroup_error e;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(errgroup_cancel(&g), 0);
    assert_int_equal(errgroup_fail(&g, 7, 3, "late"), 7);
    assert_int_equal(errgroup_first_error(&g, &e), 0);
    assert_int_equal(e.code, 0);
    assert_true(e.index == ERRGROUP_NO_INDEX);
    assert_string_equal(e.message, "");
    assert_int_equal(errgroup_destroy(&g), 0);

    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_fail(&g, 5, 1, "first"), 5);
    assert_int_equal(errgroup_wait(&g), 5);
    assert_int_equal(errgroup_cancel(&g), 0);
    assert_int_equal(errgroup_first_error(&g, &e), 0);
    assert_int_equal(e.code, 5);
    assert_string_equal(e.message, "first");
    assert_int_equal(errgroup_destroy(&g), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_without_error),
        cmocka_unit_test(test_cancel_after_wait_changes_nothing),
        cmocka_unit_test(test_set_timeout_below_a_nanosecond_still_fires),
        cmocka_unit_test(test_cancel_after_error_keeps_error),
        cmocka_unit_test(test_fail_after_cancel_is_ignored),
        cmocka_unit_test(test_canceled_values),
        cmocka_unit_test(test_fail_returns_with_group_stopped),
        cmocka_unit_test(test_cancel_from_another_thread),
        cmocka_unit_test(test_cancel_from_signal_handler),
        cmocka_unit_test(test_cancel_from_signal_handler_in_owner),
        cmocka_unit_test(test_timeout_cancels_polling_tasks),
        cmocka_unit_test(test_timeout_then_go_is_canceled),
        cmocka_unit_test(test_error_before_deadline_wins),
        cmocka_unit_test(test_set_timeout_zero_removes_it),
        cmocka_unit_test(test_child_canceled_by_parent_cancel),
        cmocka_unit_test(test_child_canceled_by_parent_error),
        cmocka_unit_test(test_child_canceled_by_parent_timeout),
        cmocka_unit_test(test_child_own_error_first_wins),
        cmocka_unit_test(test_child_error_does_not_cancel_parent),
        cmocka_unit_test(test_grandchild_canceled_by_grandparent),
        cmocka_unit_test(test_child_wait_result_becomes_parent_error),
        cmocka_unit_test(test_child_groups_without_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
