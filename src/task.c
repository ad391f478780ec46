/*
 * Tasks: go, try_go, wait, run, and the concurrency limit.
 *
 * Every accepted task runs eg_task: skip-or-run the body, then (limit mode)
 * drain the group's queue while holding the slot, then taskwait for the
 * OpenMP tasks the body spawned. Because every task waits for its own
 * children, a taskwait in the submitting task covers the whole tree.
 *
 * OpenMP's own `cancel taskgroup` is deliberately not used for tasks: it
 * discards queued tasks without running any code, so their argument could not
 * be released and they could not be counted as skipped. A skipped task costs
 * one relaxed load instead.
 */
#include "internal.h"

#include <omp.h>
#include <stdlib.h>

/* A task waiting for a slot (limit mode). */
struct errgroup_pending_ {
    errgroup_fn *fn;
    void *arg;
    int64_t ordinal;
    struct errgroup_pending_ *next;
};

/* The per-task path is inlined by force: with one call level less per task,
 * go + wait on trivial tasks measured about 10% faster (gcc, 1 thread). */
#define EG_HOT static inline __attribute__((always_inline))

/* Run or skip one accepted task's body, inside the OpenMP task's frame. */
EG_HOT void eg_run_one(errgroup *g, struct eg_frame *frame, errgroup_fn *fn, void *arg,
                       int64_t ordinal)
{
    struct errgroup_slot_ *s = eg_slot(g);
    if (eg_skip(g, ordinal)) {
        eg_count(s, &s->skipped, 1);
    } else {
        eg_count(s, &s->started, 1);
        frame->failed = 0;
        int rc = fn(g, arg);
        if (rc != 0) {
            eg_count(s, &s->failed, 1);
            if (!frame->failed)
                errgroup__record(g, rc, ordinal, NULL);
        }
        eg_count(s, &s->finished, 1);
    }
    if (g->release_ != NULL)
        g->release_(arg);
}

/* ---- Limit mode: slots and the queue ---------------------------------- */

static int eg_slot_acquire(errgroup *g)
{
    /* Relaxed: active_ is a counter whose bound is all we need; the queue
     * hand-off that must not be lost is ordered by the lock (see eg_drain). */
    int n = __atomic_load_n(&g->active_, __ATOMIC_RELAXED);
    while (n < g->limit_) {
        if (__atomic_compare_exchange_n(&g->active_, &n, n + 1, 1, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            return 1;
    }
    return 0;
}

static struct errgroup_pending_ *eg_dequeue(errgroup *g)
{
    errgroup__lock(g);
    struct errgroup_pending_ *p = g->head_;
    if (p != NULL) {
        g->head_ = p->next;
        if (g->head_ == NULL)
            g->tail_ = NULL;
    }
    errgroup__unlock(g);
    return p;
}

static int eg_queue_empty(errgroup *g)
{
    errgroup__lock(g);
    int empty = g->head_ == NULL;
    errgroup__unlock(g);
    return empty;
}

static void eg_finish_one(errgroup *g)
{
    /* Relaxed: try_go's bound only; completion itself is ordered by taskwait. */
    __atomic_fetch_sub(&g->unfinished_, 1, __ATOMIC_RELAXED);
}

/*
 * Holding a slot, run queued tasks until the queue is empty, then give the
 * slot back. No hand-off is lost: a submitter enqueues under the lock and
 * then tries for a slot; we give the slot back and then look at the queue
 * under the lock. Whichever of the two lock sections comes second sees the
 * other's effect (the enqueued task, or the freed slot).
 */
static void eg_drain(errgroup *g, struct eg_frame *frame)
{
    for (;;) {
        struct errgroup_pending_ *p;
        while ((p = eg_dequeue(g)) != NULL) {
            eg_run_one(g, frame, p->fn, p->arg, p->ordinal);
            free(p);
            eg_finish_one(g);
        }
        /* Relaxed: the lock taken by eg_queue_empty orders this release of
         * the slot before any later submitter's eg_slot_acquire (see above). */
        __atomic_fetch_sub(&g->active_, 1, __ATOMIC_RELAXED);
        if (eg_queue_empty(g) || !eg_slot_acquire(g))
            return;
    }
}

/* The OpenMP directives live in small functions of their own that are never
 * inlined: clang fetches the thread id (__kmpc_global_thread_num, a
 * __tls_get_addr call in libomp) at the entry of every function containing
 * one, so a directive inlined into the per-task path cost every go and every
 * task body that lookup, even when the directive was not reached. */
static __attribute__((noinline)) void eg_wait_children(void)
{
#pragma omp taskwait
}

EG_HOT void eg_task(errgroup *g, errgroup_fn *fn, void *arg, int64_t ordinal, int in_region)
{
    struct eg_frame frame;
    eg_frame_push(&frame, g, in_region);
    eg_run_one(g, &frame, fn, arg, ordinal);
    if (g->limit_ > 0) {
        eg_finish_one(g);
        eg_drain(g, &frame);
    }
    eg_frame_pop(&frame);
    /* Children spawned by the bodies must finish before this task does. */
    if (frame.spawned)
        eg_wait_children();
}

static __attribute__((noinline)) void eg_spawn(errgroup *g, errgroup_fn *fn, void *arg,
                                               int64_t ordinal)
{
    /* The task (or run/wait) that spawns must wait for this child. Tied tasks
     * keep this thread's frame stack exact; see struct eg_frame. */
    struct eg_frame *top = errgroup__frame_top;
    if (top != NULL)
        top->spawned = 1;
#pragma omp task default(none) firstprivate(g, fn, arg, ordinal)
    eg_task(g, fn, arg, ordinal, 1);
}

/* Start an accepted task: a new OpenMP task inside a parallel region, at
 * once in the caller outside any (the same wrapper either way, so the limit
 * and the queue work identically). */
EG_HOT void eg_start(errgroup *g, errgroup_fn *fn, void *arg, int64_t ordinal)
{
    if (eg_in_region())
        eg_spawn(g, fn, arg, ordinal);
    else
        eg_task(g, fn, arg, ordinal, 0);
}

/* Next ordinal. Relaxed RMW: ordinals need uniqueness and, for one
 * submitting thread, increasing order; both hold for any memory order. */
static int64_t eg_take_ordinal(errgroup *g)
{
    return __atomic_fetch_add(&g->next_ordinal_, 1, __ATOMIC_RELAXED);
}

static int eg_submit_limited(errgroup *g, errgroup_fn *fn, void *arg, int try_only)
{
    /* Relaxed: unfinished_ only bounds try_go; it publishes nothing. */
    if (try_only) {
        int n = __atomic_load_n(&g->unfinished_, __ATOMIC_RELAXED);
        do {
            if (n >= g->limit_)
                return ERRGROUP_EAGAIN;
        } while (!__atomic_compare_exchange_n(&g->unfinished_, &n, n + 1, 1,
                                              __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    } else {
        __atomic_fetch_add(&g->unfinished_, 1, __ATOMIC_RELAXED);
    }
    if (eg_slot_acquire(g)) {
        eg_start(g, fn, arg, eg_take_ordinal(g));
        return 0;
    }
    struct errgroup_pending_ *p = malloc(sizeof *p);
    if (p == NULL) {
        eg_finish_one(g);
        return ERRGROUP_ENOMEM;
    }
    p->fn = fn;
    p->arg = arg;
    p->next = NULL;
    errgroup__lock(g);
    p->ordinal = eg_take_ordinal(g); /* under the lock: queue order is go order */
    if (g->tail_ != NULL)
        g->tail_->next = p;
    else
        g->head_ = p;
    g->tail_ = p;
    errgroup__unlock(g);
    /* The other half of the hand-off in eg_drain: if every slot holder has
     * already drained and left, take a slot and start a queued task ourselves.
     * Same order as eg_drain: give a slot back, then look under the lock. */
    while (eg_slot_acquire(g)) {
        struct errgroup_pending_ *q = eg_dequeue(g);
        if (q != NULL) {
            struct errgroup_pending_ task = *q;
            free(q);
            eg_start(g, task.fn, task.arg, task.ordinal);
            break;
        }
        __atomic_fetch_sub(&g->active_, 1, __ATOMIC_RELAXED); /* as in eg_drain */
        if (eg_queue_empty(g))
            break;
    }
    return 0;
}

static int eg_submit(errgroup *g, errgroup_fn *fn, void *arg, int try_only)
{
    if (fn == NULL)
        return ERRGROUP_EINVAL;
    if (g == NULL || g->magic_ != EG_MAGIC)
        return ERRGROUP_EINVAL;
    /* One relaxed load answers both "closed?" and "anything to look at?"
     * (see eg_check_open and eg_skip for why relaxed is enough). */
    unsigned poll = __atomic_load_n(&g->poll_, __ATOMIC_RELAXED);
    if (poll & EG_POLL_CLOSED)
        return ERRGROUP_ECLOSED;
    /* Probe with the ordinal this task would get; a concurrent go can only
     * make the real one higher, which the task start re-checks anyway. */
    if ((poll & ERRGROUP__POLL_SLOW) &&
        errgroup__canceled_at_slow(g, __atomic_load_n(&g->next_ordinal_, __ATOMIC_RELAXED)))
        return ERRGROUP_ECANCELED;
    if (g->limit_ > 0)
        return eg_submit_limited(g, fn, arg, try_only);
    eg_start(g, fn, arg, eg_take_ordinal(g));
    return 0;
}

int errgroup_go(errgroup *g, errgroup_fn *fn, void *arg)
{
    return eg_submit(g, fn, arg, 0);
}

int errgroup_try_go(errgroup *g, errgroup_fn *fn, void *arg)
{
    return eg_submit(g, fn, arg, 1);
}

int errgroup_wait(errgroup *g)
{
    int rc = eg_check_open(g);
    if (rc != 0)
        return rc;
#pragma omp taskwait
    /* A deadline or parent stop that came before this point counts: look
     * once more, then freeze the outcome. */
    if (__atomic_load_n(&g->poll_, __ATOMIC_RELAXED) & ERRGROUP__POLL_WATCH)
        errgroup__watch(g);
    /* Relaxed: closing is the owner's own step; see eg_check_open. */
    if (__atomic_fetch_or(&g->poll_, EG_POLL_CLOSED, __ATOMIC_RELAXED) & EG_POLL_CLOSED)
        return ERRGROUP_ECLOSED;
    return errgroup__result(g);
}

/* Runs inside a parallel region (run opens one at level 0). */
static void eg_run_body(errgroup *g, errgroup_fn *body, void *arg)
{
    struct eg_frame frame;
    eg_frame_push(&frame, g, 1);
    int rc = body(g, arg);
    eg_frame_pop(&frame);
    if (rc != 0 && !frame.failed)
        errgroup__record(g, rc, ERRGROUP_NO_INDEX, NULL);
#pragma omp taskwait
}

int errgroup_run(errgroup *g, errgroup_fn *body, void *arg)
{
    if (body == NULL)
        return ERRGROUP_EINVAL;
    int rc = eg_check_open(g);
    if (rc != 0)
        return rc;
    if (eg_skip(g, INT64_MIN) == 2) /* cancelled: start nothing new */
        return errgroup__result(g);
    if (!eg_in_region()) {
#pragma omp parallel default(none) firstprivate(g, body, arg)
#pragma omp single
        eg_run_body(g, body, arg);
    } else {
        eg_run_body(g, body, arg);
    }
    return errgroup__result(g);
}
