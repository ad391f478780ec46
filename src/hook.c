/* The front-end hook (see hook.h): install it, and the few calls a front end
 * needs to read and set a group's outcome. */
#include "internal.h"

#include "hook.h"

#include <string.h>


int errgroup__set_hook(errgroup *g, errgroup__hook_fn *fn, void *arg)
{
    if (g == NULL || fn == NULL || g->magic_ != EG_MAGIC || g->hook_fn_ != NULL)
        return ERRGROUP_EINVAL;
    int rc = eg_check_open(g);
    if (rc == 0 && errgroup__in_flight(g) != 0)
        rc = ERRGROUP_EBUSY;
    if (rc != 0)
        return rc;
    g->hook_arg_ = arg;
    /* Release: a thread that sees the hook (acquire, in errgroup__watch) sees
     * its arg, and one that sees WATCH sees the hook. */
    __atomic_store_n(&g->hook_fn_, fn, __ATOMIC_RELEASE);
    __atomic_fetch_or(&g->poll_, ERRGROUP__POLL_WATCH, __ATOMIC_RELEASE);
    return 0;
}

void *errgroup__hook_arg(const errgroup *g, errgroup__hook_fn *fn)
{
    if (g == NULL || g->magic_ != EG_MAGIC ||
        __atomic_load_n(&g->hook_fn_, __ATOMIC_ACQUIRE) != fn)
        return NULL;
    return g->hook_arg_;
}

int errgroup__cause(const errgroup *g)
{
    /* Acquire: pairs with the release claim of an error, so that a caller
     * that then reads the record finds it complete. */
    switch (__atomic_load_n(&g->cause_, __ATOMIC_ACQUIRE)) {
    case EG_CAUSE_ERROR:
        return ERRGROUP__CAUSE_ERROR;
    case EG_CAUSE_CANCEL:
        return ERRGROUP__CAUSE_CANCEL;
    case EG_CAUSE_TIMEOUT:
        return ERRGROUP__CAUSE_TIMEOUT;
    case EG_CAUSE_PARENT:
        return ERRGROUP__CAUSE_PARENT;
    case EG_CAUSE_HOOK:
        return ERRGROUP__CAUSE_HOOK;
    default: /* none, or frozen by wait with none */
        return ERRGROUP__CAUSE_NONE;
    }
}

void errgroup__inject(errgroup *g, int code, int64_t index, const char *msg)
{
    if (g != NULL && g->magic_ == EG_MAGIC && code != 0)
        errgroup__record(g, code, index, msg);
}

void errgroup__agree(errgroup *g, const errgroup_error *e)
{
    if (g == NULL || g->magic_ != EG_MAGIC || e == NULL || e->code == 0)
        return;
    errgroup__lock(g);
    g->err_ = *e;
    g->err_.message[sizeof g->err_.message - 1] = '\0';
    /* Relaxed: a filter only, see errgroup__canceled_at_slow. */
    __atomic_store_n(&g->lowest_, e->index, __ATOMIC_RELAXED);
    /* Release: publishes err_ to errgroup_first_error's acquire load. */
    __atomic_store_n(&g->cause_, EG_CAUSE_ERROR, __ATOMIC_RELEASE);
    errgroup__unlock(g);
    /* The agreed outcome ends the group's work in every mode. Seq_cst (a
     * release and more): a thread that sees the bits sees the record, and
     * errgroup__tree_stopped needs the total order (see eg_stop in error.c). */
    if (!(__atomic_fetch_or(&g->poll_, ERRGROUP__POLL_STOP | ERRGROUP__POLL_ERRORED,
                            __ATOMIC_SEQ_CST) & ERRGROUP__POLL_STOP))
        errgroup__tree_stopped(g);
}
