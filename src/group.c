/* Group lifetime, configuration, counters, version and error texts. */
#include "internal.h"

#include "hook.h"

#include <math.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Thread_local struct eg_frame *errgroup__frame_top;
_Thread_local unsigned errgroup__thread_id;

/* Source of thread ids for counter slots. Not error state: it only spreads
 * threads over slots. Relaxed: any unique value will do. */
static unsigned eg_next_thread_id;

unsigned errgroup__new_thread_id(void)
{
    unsigned id = __atomic_add_fetch(&eg_next_thread_id, 1, __ATOMIC_RELAXED);
    if (id == 0) /* wrapped after 2^32 threads: 0 means "unassigned" */
        id = __atomic_add_fetch(&eg_next_thread_id, 1, __ATOMIC_RELAXED);
    errgroup__thread_id = id;
    return id;
}

void errgroup__lock(errgroup *g)
{
    for (unsigned spins = 0;; ) {
        /* Acquire: pairs with errgroup__unlock's release, so the holder sees
         * everything the previous holder wrote. */
        if (__atomic_exchange_n(&g->lock_, 1, __ATOMIC_ACQUIRE) == 0)
            return;
        while (__atomic_load_n(&g->lock_, __ATOMIC_RELAXED) != 0) {
            /* With more threads than cores the holder may be descheduled. */
            if (++spins > 64)
                sched_yield();
        }
    }
}

/* Owned slots: room for every thread the runtime is likely to start (ids are
 * process-wide, so leave headroom); later threads share the overflow slot. */
static unsigned eg_slot_count(void)
{
    int want = omp_get_num_procs();
    if (omp_get_max_threads() > want)
        want = omp_get_max_threads();
    unsigned n = 16;
    while ((int)n < 2 * want && n < 1024)
        n *= 2;
    return n;
}

int errgroup_init(errgroup *g)
{
    if (g == NULL)
        return ERRGROUP_EINVAL;
    memset(g, 0, sizeof *g);
    g->nslots_ = eg_slot_count();
    size_t bytes = (g->nslots_ + 1) * sizeof *g->slots_;
    g->slots_ = aligned_alloc(64, bytes);
    if (g->slots_ == NULL)
        return ERRGROUP_ENOMEM;
    memset(g->slots_, 0, bytes);
    g->slots_[g->nslots_].shared = 1;
    g->lowest_ = INT64_MAX;
    g->err_.index = ERRGROUP_NO_INDEX;
    g->omp_cancel_ = errgroup__omp_cancel_ok();
    g->magic_ = EG_MAGIC;
    return 0;
}

int errgroup_init_child(errgroup *child, errgroup *parent)
{
    if (child == NULL || parent == NULL || parent->magic_ != EG_MAGIC || child == parent)
        return ERRGROUP_EINVAL;
    int rc = errgroup_init(child);
    if (rc != 0)
        return rc;
    /* Under a cancelled parent: cancelled from the start; under one whose
     * deadline has passed, too (the watch stops that parent). */
    errgroup__tree_link(child, parent);
    /* Relaxed: this thread set the bits it looks for, under the tree lock. */
    if (__atomic_load_n(&child->poll_, __ATOMIC_RELAXED) & ERRGROUP__POLL_WATCH)
        errgroup__watch(child);
    return 0;
}

/* Sums of the counters, modulo 2^64 (see struct errgroup_slot_). */
struct eg_sums {
    uint64_t submitted, started, finished, failed, skipped;
};

static struct eg_sums eg_sum(const errgroup *g)
{
    /* Relaxed loads: statistics; each value is some recent value of a
     * monotonic counter. After wait, taskwait ordered every update before us. */
    struct eg_sums t = {(uint64_t)__atomic_load_n(&g->next_ordinal_, __ATOMIC_RELAXED), 0, 0, 0, 0};
    for (unsigned i = 0; i <= g->nslots_; i++) {
        const struct errgroup_slot_ *s = &g->slots_[i];
        t.submitted += __atomic_load_n(&s->submitted, __ATOMIC_RELAXED);
        t.started += __atomic_load_n(&s->started, __ATOMIC_RELAXED);
        t.finished += __atomic_load_n(&s->finished, __ATOMIC_RELAXED);
        t.failed += __atomic_load_n(&s->failed, __ATOMIC_RELAXED);
        t.skipped += __atomic_load_n(&s->skipped, __ATOMIC_RELAXED);
    }
    return t;
}

/*
 * Exact, without a shared counter on the task path. Every finish and skip
 * is read first (acquire; the counts are stored with release after the
 * task's last touch of g), then every submission. A finish we read belongs
 * to a task whose submission happened before it, hence before our later
 * read of submitted, which therefore includes it: F <= S always. If F == S,
 * each of the S tasks submitted by the time of that read had finished by
 * the time we read its finish, and none can have been submitted between
 * the two reads unfinished, since S would then exceed F: at the moment the
 * finishes were read, nothing was in flight. If F < S something may be.
 */
int64_t errgroup__in_flight(const errgroup *g)
{
    uint64_t ended = 0, submitted = 0;
    for (unsigned i = 0; i <= g->nslots_; i++) {
        const struct errgroup_slot_ *s = &g->slots_[i];
        ended += __atomic_load_n(&s->finished, __ATOMIC_ACQUIRE);
        ended += __atomic_load_n(&s->skipped, __ATOMIC_ACQUIRE);
    }
    submitted = (uint64_t)__atomic_load_n(&g->next_ordinal_, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i <= g->nslots_; i++)
        submitted += __atomic_load_n(&g->slots_[i].submitted, __ATOMIC_ACQUIRE);
    return (int64_t)(submitted - ended); /* exact modulo 2^64 */
}

int errgroup_destroy(errgroup *g)
{
    if (g == NULL || g->magic_ != EG_MAGIC)
        return ERRGROUP_EINVAL;
    int64_t busy = errgroup__in_flight(g);
    if (busy != 0 || g->head_ != NULL) {
        fprintf(stderr,
                "errgroup_destroy: %lld task(s) or iteration(s) still in flight; "
                "call errgroup_wait before errgroup_destroy\n",
                (long long)busy);
        abort();
    }
    if (g->hook_fn_ != NULL) /* last: the hook may still read the outcome */
        (void)g->hook_fn_(g, ERRGROUP__HOOK_DESTROY, g->hook_arg_);
    g->hook_fn_ = NULL;
    errgroup__batch_destroy(g);
    /* Relaxed: a child being linked concurrently would be misuse (destroy
     * runs alone); the unlink itself works under the tree lock. */
    if (g->parent_ != NULL || __atomic_load_n(&g->kids_, __ATOMIC_RELAXED) != NULL)
        errgroup__tree_unlink(g); /* children left become roots */
    free(g->slots_);
    g->slots_ = NULL;
    g->magic_ = 0;
    /* STOP | CLOSED: every call's slow path is entered and checks magic_
     * first (EINVAL), and the loop macros skip; nothing the group pointed
     * to is read again. Relaxed: destroy is the owner's last step. */
    __atomic_store_n(&g->poll_, ERRGROUP__POLL_STOP | EG_POLL_CLOSED, __ATOMIC_RELAXED);
    return 0;
}

/* Configuration is refused once work is in flight or after wait (the
 * setters here and in batch.c and crash.c). */
int errgroup__check_config(const errgroup *g)
{
    int rc = eg_check_open(g);
    if (rc != 0)
        return rc;
    if (errgroup__in_flight(g) != 0)
        return ERRGROUP_EBUSY;
    return 0;
}

int errgroup_set_limit(errgroup *g, int limit)
{
    if (g != NULL && limit < 0)
        return ERRGROUP_EINVAL;
    int rc = errgroup__check_config(g);
    if (rc == 0)
        g->limit_ = limit;
    return rc;
}

int errgroup_set_mode(errgroup *g, int mode)
{
    if (g != NULL && mode != ERRGROUP_FIRST_ERROR && mode != ERRGROUP_LOWEST_INDEX)
        return ERRGROUP_EINVAL;
    int rc = errgroup__check_config(g);
    if (rc == 0)
        g->mode_ = mode;
    return rc;
}

int errgroup_set_release(errgroup *g, errgroup_release_fn *release)
{
    int rc = errgroup__check_config(g);
    if (rc == 0)
        g->release_ = release;
    return rc;
}

int errgroup_set_chunk(errgroup *g, int64_t chunk)
{
    if (g != NULL && chunk < 0)
        return ERRGROUP_EINVAL;
    int rc = eg_check_open(g);
    if (rc == 0)
        g->chunk_ = chunk;
    return rc;
}

int errgroup_set_timeout(errgroup *g, double seconds)
{
    if (g == NULL || g->magic_ != EG_MAGIC || !(seconds >= 0) || !isfinite(seconds))
        return ERRGROUP_EINVAL;
    if (__atomic_load_n(&g->poll_, __ATOMIC_RELAXED) & EG_POLL_CLOSED)
        return ERRGROUP_ECLOSED;
    double ns = seconds * 1e9;
    int64_t span = ns >= (double)INT64_MAX ? INT64_MAX : (int64_t)ns;
    if (seconds > 0 && span == 0)
        span = 1; /* below a nanosecond is still a timeout, not "none" */
    int64_t deadline = 0;
    if (span > 0) {
        int64_t now = eg_now_ns();
        deadline = span >= INT64_MAX - now ? INT64_MAX : now + span;
    }
    /* Relaxed: timeout_ns_ only words the message; set_timeout may run while
     * other threads read the outcome. */
    __atomic_store_n(&g->timeout_ns_, span, __ATOMIC_RELAXED);
    /* Relaxed store, then WATCH with release (in the tree update): a thread
     * that sees WATCH with acquire sees the deadline; one that reads it
     * relaxed and stale only notices the deadline at its next check. */
    __atomic_store_n(&g->deadline_ns_, deadline, __ATOMIC_RELAXED);
    errgroup__tree_deadline_changed(g); /* g's WATCH and what its subtree inherits */
    return 0;
}

/* Counters beyond INT64_MAX (only a loop over most of int64_t gets there)
 * are reported as INT64_MAX. */
static int64_t eg_saturate(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

int errgroup_get_counters(const errgroup *g, errgroup_counters *out)
{
    if (g == NULL || out == NULL || g->magic_ != EG_MAGIC)
        return ERRGROUP_EINVAL;
    struct eg_sums t = eg_sum(g);
    out->submitted = eg_saturate(t.submitted);
    out->started = eg_saturate(t.started);
    out->finished = eg_saturate(t.finished);
    out->failed = eg_saturate(t.failed);
    out->skipped = eg_saturate(t.skipped);
    return 0;
}

const char *errgroup_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
#define EG_STRERROR_CASE(name, value, text)                                    \
    case ERRGROUP_##name:                                                      \
        return text;
        ERRGROUP_ERRNO_MAP(EG_STRERROR_CASE)
#undef EG_STRERROR_CASE
    default:
        return code > 0 ? strerror(code) : "unknown error";
    }
}

unsigned errgroup_version(void)
{
    return ERRGROUP_VERSION_NUMBER;
}

const char *errgroup_version_string(void)
{
    return ERRGROUP_VERSION_STRING;
}
