/*
 * Promises under adversarial use: run/for/wait return only after the work
 * they submitted, even when a limit queues it and another construct's body
 * frees the slot; "in flight" is exact; a destroyed group answers EINVAL
 * without reading what it pointed to; the outcome is frozen after wait; a
 * deep chain of nested go works under errgroup_run.
 */
#define _GNU_SOURCE /* RTLD_DEFAULT */

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>

#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <omp.h>

#include "errgroup.h"
#include "test_util.h"

/* ---- run waits for its own queued task ------------------------------- */

struct two_runs {
    errgroup g;
    int holder_running; /* thread 0's task holds the only slot */
    int queued;         /* thread 1's go has been accepted (queued) */
    int rc[2];
    int ran7;           /* thread 1's failing task has run */
};

static int hold_slot(errgroup *g, void *arg)
{
    (void)g;
    struct two_runs *t = arg;
    __atomic_store_n(&t->holder_running, 1, __ATOMIC_RELEASE);
    double t0 = now_s();
    while (!__atomic_load_n(&t->queued, __ATOMIC_ACQUIRE) && now_s() - t0 < SAFETY_CAP_S)
        sched_yield();
    return 0;
}

static int fail7(errgroup *g, void *arg)
{
    (void)g;
    struct two_runs *t = arg;
    __atomic_store_n(&t->ran7, 1, __ATOMIC_RELEASE);
    return 7;
}

static int submit_hold(errgroup *g, void *arg)
{
    return errgroup_go(g, hold_slot, arg);
}

static int submit_fail7(errgroup *g, void *arg)
{
    struct two_runs *t = arg;
    int rc = errgroup_go(g, fail7, arg);
    __atomic_store_n(&t->queued, 1, __ATOMIC_RELEASE);
    return rc;
}

/* Two threads of one region each call errgroup_run on the same group ("any
 * thread or task"): thread 0's task holds the only slot while thread 1's
 * run queues a failing task behind it. */
static void test_run_returns_after_its_queued_task(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        struct two_runs t;
        memset(&t, 0, sizeof t);
        assert_int_equal(errgroup_init(&t.g), 0);
        assert_int_equal(errgroup_set_limit(&t.g, 1), 0);
        int team = 0;
#pragma omp parallel num_threads(2) default(shared)
        {
#pragma omp single nowait
            team = omp_get_num_threads();
            if (omp_get_num_threads() == 2) {
                if (omp_get_thread_num() == 0) {
                    t.rc[0] = errgroup_run(&t.g, submit_hold, &t);
                } else {
                    double t0 = now_s();
                    while (!__atomic_load_n(&t.holder_running, __ATOMIC_ACQUIRE) &&
                           now_s() - t0 < SAFETY_CAP_S)
                        sched_yield();
                    t.rc[1] = errgroup_run(&t.g, submit_fail7, &t);
                    /* What this run returned must already be true of its task. */
                    if (!__atomic_load_n(&t.ran7, __ATOMIC_ACQUIRE))
                        t.rc[1] = -1;
                }
            }
        }
        if (team != 2) { /* OMP_DYNAMIC gave one thread */
            errgroup_wait(&t.g);
            errgroup_destroy(&t.g);
            skip();
        }
        assert_int_equal(t.rc[1], 7); /* its own task ran and failed */
        assert_int_equal(errgroup_wait(&t.g), 7);
        assert_int_equal(errgroup_destroy(&t.g), 0);
    }
}

/* ---- for waits for tasks its bodies queued --------------------------- */

#define FOR_N 64

struct for_go {
    int ran[FOR_N];
};

static int mark(errgroup *g, void *arg)
{
    (void)g;
    __atomic_store_n((int *)arg, 1, __ATOMIC_RELAXED);
    return 0;
}

static int body_go(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    struct for_go *f = arg;
    for (int64_t i = lo; i < hi; i++)
        if (errgroup_go(g, mark, &f->ran[i]) != 0)
            return 1;
    return 0;
}

static void test_for_returns_after_tasks_its_bodies_queued(void **state)
{
    (void)state;
    for (int inside = 0; inside < 2; inside++) {
        for (int round = 0; round < 20; round++) {
            struct for_go f;
            memset(&f, 0, sizeof f);
            errgroup g;
            assert_int_equal(errgroup_init(&g), 0);
            assert_int_equal(errgroup_set_limit(&g, 1), 0);
            assert_int_equal(errgroup_set_chunk(&g, 1), 0);
            int rc = -1, missing = 0;
            if (inside) {
#pragma omp parallel
#pragma omp single
                {
                    rc = errgroup_for(&g, 0, FOR_N, body_go, &f);
                    for (int i = 0; i < FOR_N; i++)
                        missing += !__atomic_load_n(&f.ran[i], __ATOMIC_RELAXED);
                }
            } else {
                rc = errgroup_for(&g, 0, FOR_N, body_go, &f);
                for (int i = 0; i < FOR_N; i++)
                    missing += !__atomic_load_n(&f.ran[i], __ATOMIC_RELAXED);
            }
            assert_int_equal(rc, 0);
            assert_int_equal(missing, 0);
            assert_int_equal(errgroup_wait(&g), 0);
            assert_int_equal(errgroup_destroy(&g), 0);
        }
    }
}

/* A body that holds the only slot runs errgroup_run on its own group: the
 * nested run's task is queued behind the slot this very body holds. The
 * nested run must neither deadlock nor return before that task ran. */
static int nested_submit(errgroup *g, void *arg)
{
    return errgroup_go(g, mark, arg);
}

static int outer_body(errgroup *g, void *arg)
{
    int *flags = arg;
    int rc = errgroup_run(g, nested_submit, &flags[0]);
    flags[1] = __atomic_load_n(&flags[0], __ATOMIC_RELAXED); /* ran before run returned? */
    return rc;
}

static void test_nested_run_inside_limited_body(void **state)
{
    (void)state;
    int flags[2] = {0, 0};
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_limit(&g, 1), 0);
    int rc = -1;
#pragma omp parallel
#pragma omp single
    {
        errgroup_go(&g, outer_body, flags);
        rc = errgroup_wait(&g);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(flags[1], 1);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- "in flight" is exact --------------------------------------------- */

struct busy {
    int stop;
    int running;
};

static int long_task(errgroup *g, void *arg)
{
    (void)g;
    struct busy *b = arg;
    __atomic_store_n(&b->running, 1, __ATOMIC_RELEASE);
    double t0 = now_s();
    while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE) && now_s() - t0 < SAFETY_CAP_S)
        ;
    return 0;
}

static int tiny(errgroup *g, void *arg)
{
    (void)g;
    (void)arg;
    return 0;
}

/* While one task provably runs, a stream of tasks is spawned and finishes
 * on other threads: every setter call must say EBUSY. */
static void test_setters_busy_while_a_task_runs(void **state)
{
    (void)state;
    if (omp_get_max_threads() < 3)
        skip();
    struct busy b = {0, 0};
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    long accepted = 0, tries = 0;
    int team = 0;
#pragma omp parallel
#pragma omp single
    if ((team = omp_get_num_threads()) >= 3) { /* OMP_DYNAMIC may give fewer */
        errgroup_go(&g, long_task, &b);
        while (!__atomic_load_n(&b.running, __ATOMIC_ACQUIRE))
            ;
#pragma omp task default(shared)
        {
            /* The stream: spawned and finished between the checker's reads. */
            for (int i = 0; i < 200000; i++)
                errgroup_go(&g, tiny, NULL);
        }
        for (int i = 0; i < 200000; i++) {
            tries++;
            if (errgroup_set_mode(&g, ERRGROUP_FIRST_ERROR) != ERRGROUP_EBUSY)
                accepted++;
        }
        __atomic_store_n(&b.stop, 1, __ATOMIC_RELEASE);
#pragma omp taskwait
    }
    errgroup_wait(&g);
    assert_int_equal(errgroup_destroy(&g), 0);
    if (team < 3)
        skip();
    assert_int_equal(tries, 200000);
    assert_int_equal(accepted, 0);
}

/* ---- destroyed groups --------------------------------------------------- */

static void test_destroyed_child_touches_nothing(void **state)
{
    (void)state;
    errgroup *parent = malloc(sizeof *parent);
    assert_non_null(parent);
    errgroup child;
    assert_int_equal(errgroup_init(parent), 0);
    assert_int_equal(errgroup_init_child(&child, parent), 0);
    assert_int_equal(errgroup_wait(&child), 0);
    assert_int_equal(errgroup_destroy(&child), 0);
    assert_int_equal(errgroup_wait(parent), 0);
    assert_int_equal(errgroup_destroy(parent), 0);
    memset(parent, 0xA5, sizeof *parent);
    free(parent); /* under ASan, any read of it is a report */
    assert_int_equal(errgroup_canceled(&child), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_canceled_at(&child, 3), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_cancel(&child), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_go(&child, tiny, NULL), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_fail(&child, 5, 0, "x"), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_wait(&child), ERRGROUP_EINVAL);
    errgroup_error e;
    assert_int_equal(errgroup_first_error(&child, &e), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_destroy(&child), ERRGROUP_EINVAL);
}

/* ---- the frozen outcome -------------------------------------------------- */

static void test_outcome_frozen_after_parent_cancel(void **state)
{
    (void)state;
    errgroup parent, child;
    assert_int_equal(errgroup_init(&parent), 0);
    assert_int_equal(errgroup_init_child(&child, &parent), 0);
    assert_int_equal(errgroup_wait(&child), 0);
    assert_int_equal(errgroup_cancel(&parent), 0);
    assert_int_equal(errgroup_canceled(&parent), 1);
    assert_int_equal(errgroup_canceled(&child), 0);
    assert_int_equal(errgroup_canceled_at(&child, 0), 0);
    EXPECT_FIRST_ERROR(&child, 0, ERRGROUP_NO_INDEX, "");
    assert_int_equal(errgroup_destroy(&child), 0);
    assert_int_equal(errgroup_wait(&parent), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_destroy(&parent), 0);
}

static void test_outcome_frozen_after_deadline(void **state)
{
    (void)state;
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_timeout(&g, 0.02), 0);
    int rc = errgroup_wait(&g); /* 0, or ETIMEDOUT on a very slow machine */
    struct timespec ts = {0, 60 * 1000 * 1000};
    nanosleep(&ts, NULL); /* the deadline has now passed in any case */
    assert_int_equal(errgroup_canceled(&g), rc != 0);
    errgroup_error e;
    assert_int_equal(errgroup_first_error(&g, &e), 0);
    assert_int_equal(e.code, rc);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- deep trees of groups ------------------------------------------------ */

/* Each level a child of the one above: building, cancelling and querying
 * must not walk the chain (the old recursive walk hung near 10^5). */
static void test_deep_child_chain(void **state)
{
    (void)state;
    const int depth = getenv("ERRGROUP_STRESS_QUICK") ? 20000 : 200000;
    errgroup *gs = malloc((size_t)depth * sizeof *gs);
    assert_non_null(gs);
    assert_int_equal(errgroup_init(&gs[0]), 0);
    for (int i = 1; i < depth; i++)
        assert_int_equal(errgroup_init_child(&gs[i], &gs[i - 1]), 0);
    errgroup *leaf = &gs[depth - 1];
    assert_int_equal(errgroup_canceled(leaf), 0);
    assert_int_equal(errgroup_go(leaf, tiny, NULL), 0);
    /* A level in the middle cancels everything below it, nothing above. */
    assert_int_equal(errgroup_cancel(&gs[depth / 2]), 0);
    assert_int_equal(errgroup_canceled(leaf), 1);
    assert_int_equal(errgroup_canceled(&gs[depth / 2 + 1]), 1);
    assert_int_equal(errgroup_canceled(&gs[depth / 2 - 1]), 0);
    assert_int_equal(errgroup_canceled(&gs[0]), 0);
    assert_int_equal(errgroup_go(leaf, tiny, NULL), ERRGROUP_ECANCELED);
    /* A group made under a cancelled one starts cancelled. */
    errgroup late;
    assert_int_equal(errgroup_init_child(&late, leaf), 0);
    assert_int_equal(errgroup_canceled(&late), 1);
    assert_int_equal(errgroup_wait(&late), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_destroy(&late), 0);
    for (int i = depth - 1; i >= 0; i--) {
        int want = i > depth / 2 ? ERRGROUP_ECANCELED : 0;
        if (i == depth / 2)
            want = ERRGROUP_ECANCELED;
        assert_int_equal(errgroup_wait(&gs[i]), want);
        assert_int_equal(errgroup_destroy(&gs[i]), 0);
    }
    free(gs);
}

/* A deadline set on the root after the tree exists reaches the deepest
 * group, which notices it by itself, and it counts as the root's timeout. */
static void test_deep_child_inherits_later_deadline(void **state)
{
    (void)state;
    enum { DEPTH = 5000 };
    errgroup *gs = malloc(DEPTH * sizeof *gs);
    assert_non_null(gs);
    assert_int_equal(errgroup_init(&gs[0]), 0);
    for (int i = 1; i < DEPTH; i++)
        assert_int_equal(errgroup_init_child(&gs[i], &gs[i - 1]), 0);
    assert_int_equal(errgroup_set_timeout(&gs[0], 1e-3), 0);
    while (errgroup_canceled(&gs[DEPTH - 1]) == 0)
        sched_yield();
    assert_int_equal(errgroup_canceled(&gs[DEPTH - 1]), 1);
    assert_int_equal(errgroup_canceled(&gs[0]), 1); /* the root timed out */
    for (int i = DEPTH - 1; i >= 0; i--) {
        assert_int_equal(errgroup_wait(&gs[i]), i == 0 ? ERRGROUP_ETIMEDOUT : ERRGROUP_ECANCELED);
        assert_int_equal(errgroup_destroy(&gs[i]), 0);
    }
    free(gs);
}

/* Destroying a parent first detaches its child: the child keeps working
 * and never reads the freed parent (ASan would report it). */
static void test_parent_destroyed_first_detaches_child(void **state)
{
    (void)state;
    errgroup *parent = malloc(sizeof *parent);
    assert_non_null(parent);
    errgroup child, grandchild;
    assert_int_equal(errgroup_init(parent), 0);
    assert_int_equal(errgroup_set_timeout(parent, 3600), 0);
    assert_int_equal(errgroup_init_child(&child, parent), 0);
    assert_int_equal(errgroup_init_child(&grandchild, &child), 0);
    assert_int_equal(errgroup_wait(parent), 0);
    assert_int_equal(errgroup_destroy(parent), 0);
    memset(parent, 0xA5, sizeof *parent);
    free(parent);
    assert_int_equal(errgroup_canceled(&grandchild), 0);
    assert_int_equal(errgroup_go(&grandchild, tiny, NULL), 0);
    assert_int_equal(errgroup_cancel(&child), 0);
    assert_int_equal(errgroup_canceled(&grandchild), 1);
    assert_int_equal(errgroup_wait(&grandchild), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_wait(&child), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_destroy(&child), 0); /* grandchild detaches too */
    assert_int_equal(errgroup_canceled(&grandchild), 1);
    assert_int_equal(errgroup_destroy(&grandchild), 0);
}

/* A cancel from a signal handler that interrupts this very thread while it
 * holds the tree lock (here: inside set_timeout's walk over 256 children)
 * cannot wait for the lock; the children must still be marked once the
 * interrupted call returns. */
enum { SIG_PAIRS = 300, HUB_KIDS = 256 };
static errgroup sig_parent[SIG_PAIRS], sig_kid[SIG_PAIRS];
static volatile sig_atomic_t sig_next;

static void cancel_next_pair(int sig)
{
    (void)sig;
    int k = sig_next;
    if (k < SIG_PAIRS) {
        errgroup_cancel(&sig_parent[k]);
        sig_next = k + 1;
    }
}

struct sender {
    pthread_t target;
    int done;
};

static void *send_signals(void *arg)
{
    struct sender *s = arg;
    struct timespec ts = {0, 50 * 1000};
    for (int i = 0; i < SIG_PAIRS; i++) {
        pthread_kill(s->target, SIGUSR2);
        nanosleep(&ts, NULL);
    }
    __atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void test_cancel_from_handler_inside_tree_update(void **state)
{
    (void)state;
    for (int k = 0; k < SIG_PAIRS; k++) {
        assert_int_equal(errgroup_init(&sig_parent[k]), 0);
        assert_int_equal(errgroup_init_child(&sig_kid[k], &sig_parent[k]), 0);
    }
    errgroup hub;
    errgroup *kids = malloc(HUB_KIDS * sizeof *kids);
    assert_non_null(kids);
    assert_int_equal(errgroup_init(&hub), 0);
    for (int i = 0; i < HUB_KIDS; i++)
        assert_int_equal(errgroup_init_child(&kids[i], &hub), 0);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = cancel_next_pair;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR2, &sa, &old), 0);
    struct sender snd = {pthread_self(), 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, send_signals, &snd), 0);
    for (int i = 0; !__atomic_load_n(&snd.done, __ATOMIC_ACQUIRE); i++)
        assert_int_equal(errgroup_set_timeout(&hub, i % 2 ? 3600 : 0), 0);
    pthread_join(th, NULL);
    assert_int_equal(sigaction(SIGUSR2, &old, NULL), 0);
    int handled = sig_next;
    assert_true(handled > 0); /* pending signals may merge, but not all */
    for (int k = 0; k < SIG_PAIRS; k++) {
        assert_int_equal(errgroup_canceled(&sig_kid[k]), k < handled);
        errgroup_wait(&sig_kid[k]);
        assert_int_equal(errgroup_destroy(&sig_kid[k]), 0);
        errgroup_wait(&sig_parent[k]);
        assert_int_equal(errgroup_destroy(&sig_parent[k]), 0);
    }
    for (int i = 0; i < HUB_KIDS; i++) {
        errgroup_wait(&kids[i]);
        assert_int_equal(errgroup_destroy(&kids[i]), 0);
    }
    errgroup_wait(&hub);
    assert_int_equal(errgroup_destroy(&hub), 0);
    free(kids);
}

/* ---- depth --------------------------------------------------------------- */

static int64_t chain_depth;

static int chain(errgroup *g, void *arg)
{
    int64_t i = (int64_t)(intptr_t)arg;
    if (i + 1 < chain_depth)
        return errgroup_go(g, chain, (void *)(intptr_t)(i + 1));
    return 0;
}

static int chain_start(errgroup *g, void *arg)
{
    (void)arg;
    return errgroup_go(g, chain, (void *)(intptr_t)0);
}

static void test_deep_go_chain_under_run(void **state)
{
    (void)state;
    /* Past half its stack a thread's go queues the task for the run's
     * settle, so the chain never overflows, on either runtime. LLVM's libomp
     * with two or more threads is itself quadratic in such a chain (a raw
     * task chain: 6 s at 3*10^4 on 2 cores), so it gets a shorter one. */
    int libomp = dlsym(RTLD_DEFAULT, "__kmpc_global_thread_num") != NULL;
    int quick = getenv("ERRGROUP_STRESS_QUICK") != NULL;
    chain_depth = libomp && omp_get_max_threads() > 1 ? 10000 : quick ? 100000 : 1000000;
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_run(&g, chain_start, NULL), 0);
    errgroup_counters c;
    assert_int_equal(errgroup_get_counters(&g, &c), 0);
    assert_int_equal(c.finished, chain_depth);
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* The same chain of go outside any region: each go runs its task at once,
 * nested, until the stack guard queues one for wait. */
static void test_deep_go_chain_outside_region(void **state)
{
    (void)state;
    chain_depth = getenv("ERRGROUP_STRESS_QUICK") ? 100000 : 1000000;
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_go(&g, chain, (void *)(intptr_t)0), 0);
    assert_int_equal(errgroup_wait(&g), 0);
    errgroup_counters c;
    assert_int_equal(errgroup_get_counters(&g, &c), 0);
    assert_int_equal(c.finished, chain_depth);
    assert_int_equal(errgroup_destroy(&g), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_returns_after_its_queued_task),
        cmocka_unit_test(test_for_returns_after_tasks_its_bodies_queued),
        cmocka_unit_test(test_nested_run_inside_limited_body),
        cmocka_unit_test(test_setters_busy_while_a_task_runs),
        cmocka_unit_test(test_destroyed_child_touches_nothing),
        cmocka_unit_test(test_outcome_frozen_after_parent_cancel),
        cmocka_unit_test(test_outcome_frozen_after_deadline),
        cmocka_unit_test(test_deep_child_chain),
        cmocka_unit_test(test_deep_child_inherits_later_deadline),
        cmocka_unit_test(test_parent_destroyed_first_detaches_child),
        cmocka_unit_test(test_cancel_from_handler_inside_tree_update),
        cmocka_unit_test(test_deep_go_chain_under_run),
        cmocka_unit_test(test_deep_go_chain_outside_region),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
