/*
 * The core's hook for front ends that extend a group beyond one process
 * (src/mpi/). Never installed; MPI-free. The functions are exported from the
 * library (a front end may be a separate shared library) but are not public
 * API: their names carry the internal prefix errgroup__.
 *
 * A group with a hook has the WATCH poll bit set for its whole open life, so
 * that errgroup_canceled(), task and chunk starts reach the slow path, which
 * calls the hook; a plain group never pays for it (hook_fn_ is only read on
 * the slow path, after the poll bits already said "look closer").
 */
#ifndef ERRGROUP_HOOK_H
#define ERRGROUP_HOOK_H

#include "errgroup.h"

/* Events passed to the hook. */
enum {
    /* From errgroup_canceled & co. (also once stopped, until wait closes the
     * group), any thread, possibly reentrant: return 1 to stop g with an
     * ECANCELED cause ("canceled by a peer"), 0 otherwise. Must be cheap. */
    ERRGROUP__HOOK_POLL = 1,
    /* errgroup_run finished its local work (also when it started nothing). */
    ERRGROUP__HOOK_RUN = 2,
    /* errgroup_wait finished and closed g; the local outcome is final. */
    ERRGROUP__HOOK_WAIT = 3,
    /* errgroup_destroy, before anything is freed. */
    ERRGROUP__HOOK_DESTROY = 4
};

typedef int errgroup__hook_fn(errgroup *g, int event, void *arg);

/* Install fn(g, event, arg) on an initialised, idle g. Returns 0,
 * ERRGROUP_EINVAL (NULL, not initialised, a hook already set),
 * ERRGROUP_EBUSY, ERRGROUP_ECLOSED. Thread safety: configuration. */
ERRGROUP_API int errgroup__set_hook(errgroup *g, errgroup__hook_fn *fn, void *arg);

/* The arg given with fn, or NULL if g is not initialised or has another hook. */
ERRGROUP_API void *errgroup__hook_arg(const errgroup *g, errgroup__hook_fn *fn);

/* What decided g's outcome so far. */
enum {
    ERRGROUP__CAUSE_NONE = 0,
    ERRGROUP__CAUSE_ERROR,   /* an error record (errgroup_fail, a body, errgroup__inject) */
    ERRGROUP__CAUSE_CANCEL,  /* errgroup_cancel */
    ERRGROUP__CAUSE_TIMEOUT, /* the deadline */
    ERRGROUP__CAUSE_PARENT,  /* a cancelled parent */
    ERRGROUP__CAUSE_HOOK     /* the hook's POLL returned 1 */
};
ERRGROUP_API int errgroup__cause(const errgroup *g);

/* Record an error as errgroup_fail would, without touching the calling
 * body's attribution (the hook may run inside any body). */
ERRGROUP_API void errgroup__inject(errgroup *g, int code, int64_t index, const char *msg);

/* Replace g's outcome with *e (e->code != 0), even after wait: from then on
 * errgroup_first_error returns *e and g counts as cancelled. For outcomes
 * agreed on with peers. Thread safety: the owner, with no body running. */
ERRGROUP_API void errgroup__agree(errgroup *g, const errgroup_error *e);

#endif /* ERRGROUP_HOOK_H */
