/* Recording the first error, cancellation, and reading the outcome. */
#include "internal.h"

#include "hook.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/*
 * Claim cause_ for a stop (cancel, timeout, parent) and raise STOP on g
 * alone. Returns 1 if this call set STOP, which makes the caller
 * responsible for g's subtree (see src/tree.c). Lock-free, so
 * errgroup_cancel stays async-signal-safe.
 */
int errgroup__stop_local(errgroup *g, unsigned cause)
{
    /* After wait the outcome is frozen (relaxed: wait freezes cause_ too,
     * which decides the race below). */
    if (__atomic_load_n(&g->poll_, __ATOMIC_RELAXED) & EG_POLL_CLOSED)
        return 0;
    unsigned seen = EG_CAUSE_NONE;
    /* Relaxed CAS: a stop cause carries no data; it only has to be decided
     * once. If an error already won, cause_ keeps it and the stop still
     * raises STOP (a cancel after a lowest-index error stops the rest). */
    if (!__atomic_compare_exchange_n(&g->cause_, &seen, cause, 0, __ATOMIC_RELAXED,
                                     __ATOMIC_RELAXED) &&
        seen == EG_CAUSE_FROZEN)
        return 0; /* wait closed the group first */
    /* Seq_cst (a release and more): a thread that sees STOP with acquire
     * also sees cause_; the total order is what errgroup__tree_stopped's
     * read of kids_ needs. */
    return !(__atomic_fetch_or(&g->poll_, ERRGROUP__POLL_STOP, __ATOMIC_SEQ_CST) &
             ERRGROUP__POLL_STOP);
}

static void eg_stop(errgroup *g, unsigned cause)
{
    if (errgroup__stop_local(g, cause))
        errgroup__tree_stopped(g);
}

/*
 * Has a deadline passed, an ancestor's (dl_src_, see src/tree.c) or g's own?
 * Stops g if so and returns 1. Both are noticed lazily; the ancestor goes
 * first, since a child made under it inherits its state from the start, and
 * its timeout stops its whole subtree, g included, as the parent's stop.
 */
int errgroup__watch(errgroup *g)
{
    /* Relaxed: the pointer names a live ancestor (links change only under
     * the tree lock, and a parent detaches its children when destroyed). */
    errgroup *src = __atomic_load_n(&g->dl_src_, __ATOMIC_RELAXED);
    int64_t now = 0;
    if (src != NULL) {
        int64_t deadline = __atomic_load_n(&src->deadline_ns_, __ATOMIC_RELAXED);
        if (deadline != 0 && (now = eg_now_ns()) >= deadline)
            eg_stop(src, EG_CAUSE_TIMEOUT); /* pushes the stop down to g */
    }
    int64_t deadline = __atomic_load_n(&g->deadline_ns_, __ATOMIC_RELAXED);
    if (deadline != 0 && (now != 0 ? now : eg_now_ns()) >= deadline)
        eg_stop(g, EG_CAUSE_TIMEOUT);
    /* Acquire: pairs with errgroup__set_hook, so hook_arg_ is seen. */
    errgroup__hook_fn *hook = __atomic_load_n(&g->hook_fn_, __ATOMIC_ACQUIRE);
    if (hook != NULL && hook(g, ERRGROUP__HOOK_POLL, g->hook_arg_))
        eg_stop(g, EG_CAUSE_HOOK);
    return (__atomic_load_n(&g->poll_, __ATOMIC_RELAXED) & ERRGROUP__POLL_STOP) != 0;
}

int errgroup__canceled_at_slow(errgroup *g, int64_t index)
{
    unsigned poll = __atomic_load_n(&g->poll_, __ATOMIC_RELAXED);
    if (poll & ERRGROUP__POLL_STOP) {
        /* A hook is told about a stop too (it may have to pass it on). */
        if ((poll & (ERRGROUP__POLL_WATCH | EG_POLL_CLOSED)) == ERRGROUP__POLL_WATCH &&
            __atomic_load_n(&g->hook_fn_, __ATOMIC_RELAXED) != NULL)
            errgroup__watch(g);
        return 2;
    }
    /* Closed: the outcome is frozen (wait clears WATCH, but a reader may
     * have loaded poll_ just before). */
    if ((poll & (ERRGROUP__POLL_WATCH | EG_POLL_CLOSED)) == ERRGROUP__POLL_WATCH &&
        errgroup__watch(g))
        return 2;
    /* Only lowest-index mode has ERRORED without STOP. Relaxed: lowest_ only
     * decreases, so a stale value is higher than the truth and can only let
     * an item run that could have been skipped, never skip one below the
     * lowest failure. */
    if ((poll & ERRGROUP__POLL_ERRORED) && index > __atomic_load_n(&g->lowest_, __ATOMIC_RELAXED))
        return 1;
    return 0;
}

/*
 * Raise the poll_ bits of the cause claimed so far (none if none). The thread
 * that claims cause_ raises them only after its claim, so an errgroup_fail that
 * lost the race, and returned at once, could otherwise leave while
 * errgroup_canceled() still said 0 and let a loop start more chunks. Every
 * recording attempt therefore raises them too before it returns; the bits are
 * idempotent. Acquire on cause_, release on poll_: a thread that sees the bit
 * (acquire) also sees the record the claimer completed before its release
 * claim of cause_, because happens-before is transitive.
 */
static void eg_raise(errgroup *g)
{
    unsigned cause = __atomic_load_n(&g->cause_, __ATOMIC_ACQUIRE);
    if (cause == EG_CAUSE_NONE || cause == EG_CAUSE_FROZEN)
        return;
    /* Keep-going: an error raises nothing, so nothing is skipped (not even
     * above the lowest failure) and the task path stays one load. */
    unsigned bits = cause != EG_CAUSE_ERROR                ? ERRGROUP__POLL_STOP
                    : g->keep_going_                    ? 0u
                    : g->mode_ == ERRGROUP_LOWEST_INDEX ? ERRGROUP__POLL_ERRORED
                                                        : ERRGROUP__POLL_STOP | ERRGROUP__POLL_ERRORED;
    /* Relaxed pre-check: skips the locked instruction once the bits are up.
     * Seq_cst for the same reason as in errgroup__stop_local. */
    if ((__atomic_load_n(&g->poll_, __ATOMIC_RELAXED) & bits) != bits &&
        !(__atomic_fetch_or(&g->poll_, bits, __ATOMIC_SEQ_CST) & ERRGROUP__POLL_STOP) &&
        (bits & ERRGROUP__POLL_STOP))
        errgroup__tree_stopped(g);
}

/* Would an error at `index` be kept? A cheap filter before formatting. */
static int eg_may_win(errgroup *g, int64_t index)
{
    unsigned poll = __atomic_load_n(&g->poll_, __ATOMIC_RELAXED);
    if (poll & EG_POLL_CLOSED)
        return 0; /* after wait the outcome is frozen */
    if (poll & ERRGROUP__POLL_WATCH)
        errgroup__watch(g); /* a passed deadline or cancelled parent came first */
    /* Relaxed: a stale answer only costs a trip to the lock, which decides. */
    unsigned cause = __atomic_load_n(&g->cause_, __ATOMIC_RELAXED);
    if (g->mode_ == ERRGROUP_FIRST_ERROR)
        return cause == EG_CAUSE_NONE;
    if (__atomic_load_n(&g->poll_, __ATOMIC_RELAXED) & ERRGROUP__POLL_STOP)
        return 0;
    return cause == EG_CAUSE_NONE || index < __atomic_load_n(&g->lowest_, __ATOMIC_RELAXED);
}

/* The error at `index` cannot be kept: raise the flags of what beat it. */
static int eg_lost(errgroup *g, int64_t index)
{
    if (eg_may_win(g, index))
        return 0;
    eg_raise(g);
    return 1;
}

void errgroup__record(errgroup *g, int code, int64_t index, const char *msg)
{
    int lost = eg_lost(g, index);
    /* The error log sees every error, the losers too; without a log the
     * filter spares losers the lock. */
    if (lost && g->log_cap_ == 0)
        return;
    errgroup__lock(g);
    if (g->log_cap_ > 0 && !(__atomic_load_n(&g->poll_, __ATOMIC_RELAXED) & EG_POLL_CLOSED))
        errgroup__log_add(g, code, index, msg);
    if (lost) {
        errgroup__unlock(g);
        return; /* eg_lost raised the winner's bits */
    }
    unsigned cause = __atomic_load_n(&g->cause_, __ATOMIC_RELAXED);
    /* Under the lock, a replacement in lowest-index mode cannot slip in
     * after wait closed the group: wait reads the record under the lock
     * after closing. */
    int better = cause == EG_CAUSE_NONE ||
                 (g->mode_ == ERRGROUP_LOWEST_INDEX && cause == EG_CAUSE_ERROR &&
                  index < g->err_.index &&
                  !(__atomic_load_n(&g->poll_, __ATOMIC_RELAXED) &
                    (ERRGROUP__POLL_STOP | EG_POLL_CLOSED)));
    if (better) {
        g->err_.code = code;
        g->err_.index = index;
        size_t len = msg ? strlen(msg) : 0;
        if (len >= sizeof g->err_.message)
            len = sizeof g->err_.message - 1;
        memcpy(g->err_.message, msg ? msg : "", len);
        g->err_.message[len] = '\0';
        /* Relaxed: readers of lowest_ outside the lock use it as a filter only
         * (see errgroup__canceled_at_slow). */
        __atomic_store_n(&g->lowest_, index, __ATOMIC_RELAXED);
        if (cause == EG_CAUSE_NONE) {
            unsigned none = EG_CAUSE_NONE;
            /* Release: publishes err_ to errgroup_first_error's acquire load.
             * Fails only if a lock-free stop (cancel) won meanwhile: then the
             * stop came first and err_ is ignored. */
            __atomic_compare_exchange_n(&g->cause_, &none, EG_CAUSE_ERROR, 0, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED);
        }
    }
    errgroup__unlock(g);
    /* After the record: whoever sees the flag and reads the error finds it. */
    eg_raise(g);
}

int errgroup_fail(errgroup *g, int code, int64_t index, const char *fmt, ...)
{
    if (g == NULL || g->magic_ != EG_MAGIC || code == 0)
        return ERRGROUP_EINVAL;
    struct eg_frame *f = errgroup__frame_top;
    if (f != NULL && f->g == g)
        f->failed = 1; /* the body reported; its wrapper must not add a fallback */
    /* Before formatting: losers are common in a failing loop (unless the
     * error log wants their message). */
    if (g->log_cap_ == 0 && eg_lost(g, index))
        return code;
    char msg[ERRGROUP_MESSAGE_MAX];
    msg[0] = '\0';
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    errgroup__record(g, code, index, msg);
    return code;
}

int errgroup_cancel(errgroup *g)
{
    if (g == NULL || g->magic_ != EG_MAGIC) /* plain loads: async-signal-safe */
        return ERRGROUP_EINVAL;
    eg_stop(g, EG_CAUSE_CANCEL);
    return 0;
}

/* The slow half of canceled/canceled_at: destroy leaves STOP set, so a
 * destroyed group always lands here and is told apart by magic_. */
static int eg_canceled_at_checked(errgroup *g, int64_t index)
{
    if (g->magic_ != EG_MAGIC)
        return ERRGROUP_EINVAL;
    return errgroup__canceled_at_slow(g, index);
}

int errgroup_canceled(errgroup *g)
{
    if (g == NULL)
        return ERRGROUP_EINVAL;
    /* Relaxed: see eg_skip. */
    if (EG_LIKELY((__atomic_load_n(&g->poll_, __ATOMIC_RELAXED) & ERRGROUP__POLL_SLOW) == 0))
        return 0;
    /* INT64_MIN is never above the lowest failure: only a real stop counts. */
    int r = eg_canceled_at_checked(g, INT64_MIN);
    return r < 0 ? r : r == 2;
}

int errgroup_canceled_at(errgroup *g, int64_t index)
{
    if (g == NULL)
        return ERRGROUP_EINVAL;
    if (EG_LIKELY((__atomic_load_n(&g->poll_, __ATOMIC_RELAXED) & ERRGROUP__POLL_SLOW) == 0))
        return 0;
    return eg_canceled_at_checked(g, index);
}

int errgroup_first_error(const errgroup *g, errgroup_error *out)
{
    if (g == NULL || out == NULL || g->magic_ != EG_MAGIC)
        return ERRGROUP_EINVAL;
    /* Acquire: pairs with the release CAS in errgroup__record. */
    unsigned cause = __atomic_load_n(&g->cause_, __ATOMIC_ACQUIRE);
    out->index = ERRGROUP_NO_INDEX;
    out->message[0] = '\0';
    switch (cause) {
    case EG_CAUSE_NONE:
    case EG_CAUSE_FROZEN:
        out->code = 0;
        break;
    case EG_CAUSE_ERROR: {
        /* The lock, because lowest-index mode may still replace the record.
         * Taking it on a const group: lock_ is the group's internal mutable
         * state, and groups are never defined const (init writes them). */
        errgroup *mg = (errgroup *)g;
        errgroup__lock(mg);
        *out = g->err_;
        errgroup__unlock(mg);
        break;
    }
    case EG_CAUSE_CANCEL:
        out->code = ERRGROUP_ECANCELED;
        snprintf(out->message, sizeof out->message, "canceled by errgroup_cancel");
        break;
    case EG_CAUSE_PARENT:
        out->code = ERRGROUP_ECANCELED;
        snprintf(out->message, sizeof out->message, "parent group canceled");
        break;
    case EG_CAUSE_HOOK:
        out->code = ERRGROUP_ECANCELED;
        snprintf(out->message, sizeof out->message, "canceled by a peer");
        break;
    case EG_CAUSE_TIMEOUT:
        out->code = ERRGROUP_ETIMEDOUT;
        snprintf(out->message, sizeof out->message, "timed out after %g s",
                 (double)__atomic_load_n(&g->timeout_ns_, __ATOMIC_RELAXED) / 1e9);
        break;
    }
    return 0;
}

int errgroup__result(errgroup *g)
{
    if (__atomic_load_n(&g->poll_, __ATOMIC_RELAXED) & ERRGROUP__POLL_WATCH)
        errgroup__watch(g);
    errgroup_error e;
    errgroup_first_error(g, &e);
    return e.code;
}
