/*
 * Tasks: go, try_go, go_deps, wait, run, and the concurrency limit.
 *
 * Every accepted task runs eg_task (go_deps differs only in the depend
 * clauses of its spawn function): skip-or-run the body, then (limit mode)
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

#include "hook.h"

#include <omp.h>
#include <sched.h>
#include <stdlib.h>

/* A task waiting for a slot (limit mode). */
struct errgroup_pending_ {
    errgroup_fn *fn;
    void *arg;
    int64_t ordinal;
    int64_t *owed; /* the scope that waits for it (see errgroup__settle) */
    struct errgroup_pending_ *next;
};

/* The per-task path is inlined by force: with one call level less per task,
 * go + wait on trivial tasks measured about 10% faster (gcc, 1 thread). */
#define EG_HOT static inline __attribute__((always_inline))

/* Run or skip one accepted task's body, inside the task's frame, then
 * release its arg. Returns 1 if the body ran, 0 if it was skipped. Counting
 * the task as finished is the caller's last step (see eg_done). */
EG_HOT int eg_run_one(errgroup *g, struct eg_frame *frame, errgroup_fn *fn, void *arg,
                      int64_t ordinal, struct errgroup_slot_ *s)
{
    int ran = !eg_skip(g, ordinal);
    if (ran) {
        eg_count(s, &s->started, 1);
        frame->failed = 0;
        frame->index = ordinal;
        /* Crash mode off: one load of a read-mostly field per body. */
        int rc = EG_UNLIKELY(g->crash_mode_ != 0) ? errgroup__crash_task(g, frame, fn, arg, ordinal)
                                                  : fn(g, arg);
        if (rc != 0) {
            eg_count(s, &s->failed, 1);
            if (!frame->failed)
                errgroup__record(g, rc, ordinal, NULL);
        }
    }
    if (g->release_ != NULL)
        g->release_(arg);
    return ran;
}

/* A task's last touch of g: from here on errgroup__in_flight no longer
 * counts it, so setters and destroy may change or free the group. */
EG_HOT void eg_done(struct errgroup_slot_ *s, int ran)
{
    if (ran)
        eg_count(s, &s->finished, 1);
    else
        eg_count(s, &s->skipped, 1);
}

/* ---- Limit mode: slots and the queue ---------------------------------- */

/* Without a limit there are as many slots as anyone wants: the queue then
 * holds only tasks deferred by a deep stack (see eg_stack_low). */
static int eg_slot_acquire(errgroup *g)
{
    if (g->limit_ == 0)
        return 1;
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

/* The OpenMP directives live in small functions of their own that are never
 * inlined: clang fetches the thread id (__kmpc_global_thread_num, a
 * __tls_get_addr call in libomp) at the entry of every function containing
 * one, so a directive inlined into the per-task path cost every go and every
 * task body that lookup, even when the directive was not reached. */
static __attribute__((noinline)) void eg_wait_children(void)
{
#pragma omp taskwait
}

/*
 * Run one queued task on this thread, which holds a slot of g. The task
 * belongs to the scope p->owed, whatever construct this thread is in: it
 * counts as covered only when the running frame is covered by that very
 * scope; otherwise it waits for its own OpenMP children here, so that when
 * it leaves the scope's count its whole tree has finished. Leaving the count
 * is the last step: the scope's owner may return as soon as it reads zero.
 */
static void eg_run_queued(errgroup *g, const struct eg_frame *runner,
                          struct errgroup_pending_ *p)
{
    struct errgroup_pending_ t = *p;
    free(p);
    int covered = runner != NULL && runner->covered && runner->owed == t.owed;
    int in_region = runner != NULL ? runner->in_region : eg_in_region();
    struct eg_frame frame;
    eg_frame_push(&frame, g, in_region, t.owed, covered);
    frame.holds_slot = g->limit_ > 0;
    struct errgroup_slot_ *s = eg_slot(g);
    int ran = eg_run_one(g, &frame, t.fn, t.arg, t.ordinal, s);
    eg_frame_pop(&frame);
    if (!covered && frame.spawned)
        eg_wait_children();
    eg_finish_one(g);
    eg_done(s, ran);
    /* Release: the scope's owner reads it with acquire in errgroup__settle
     * and then relies on everything this task did. */
    __atomic_fetch_sub(t.owed, 1, __ATOMIC_RELEASE);
}

/*
 * Holding a slot, run queued tasks until the queue is empty, then give the
 * slot back. No hand-off is lost: a submitter enqueues under the lock and
 * then tries for a slot; we give the slot back and then look at the queue
 * under the lock. Whichever of the two lock sections comes second sees the
 * other's effect (the enqueued task, or the freed slot).
 */
static void eg_drain(errgroup *g, const struct eg_frame *runner)
{
    for (;;) {
        struct errgroup_pending_ *p;
        while ((p = eg_dequeue(g)) != NULL)
            eg_run_queued(g, runner, p);
        /* Relaxed: the lock taken by eg_queue_empty orders this release of
         * the slot before any later submitter's eg_slot_acquire (see above). */
        if (g->limit_ > 0)
            __atomic_fetch_sub(&g->active_, 1, __ATOMIC_RELAXED);
        if (eg_queue_empty(g) || !eg_slot_acquire(g))
            return;
    }
}

/* Does a frame of g below the top of this thread's stack hold a slot? Its
 * body is suspended in a call that this thread is running (tasks are tied),
 * so the thread may run queued tasks of g with that slot without ever
 * executing more than `limit` bodies at once. */
static int eg_thread_holds_slot(const errgroup *g)
{
    for (const struct eg_frame *f = errgroup__frame_top; f != NULL; f = f->prev)
        if (f->g == g && f->holds_slot)
            return 1;
    return 0;
}

/*
 * The end of a run, for or wait: its own taskgroup, barrier or taskwait has
 * covered every OpenMP task it created; what is left are tasks queued from
 * it behind the limit, which other bodies may be running. Help: run queued
 * tasks whenever this thread has or can get a slot. Otherwise wait for them:
 * their runners hold slots and progress, or are deferred OpenMP tasks of the
 * caller (taskwait runs those), or are suspended below us on this thread
 * (then eg_thread_holds_slot lends us their slot).
 */
void errgroup__settle(errgroup *g, int64_t *owed)
{
    /* Acquire: pairs with the release decrement in eg_run_queued. */
    while (__atomic_load_n(owed, __ATOMIC_ACQUIRE) != 0) {
        const struct eg_frame *top = errgroup__frame_top;
        if (eg_thread_holds_slot(g)) {
            struct errgroup_pending_ *p = eg_dequeue(g);
            if (p != NULL) {
                eg_run_queued(g, top, p);
                continue;
            }
        } else if (!eg_queue_empty(g) && eg_slot_acquire(g)) {
            eg_drain(g, top);
            continue;
        }
        if (eg_in_region())
            eg_wait_children();
        sched_yield();
    }
}

EG_HOT void eg_task(errgroup *g, errgroup_fn *fn, void *arg, int64_t ordinal, int in_region,
                    int64_t *owed, int covered)
{
    struct eg_frame frame;
    eg_frame_push(&frame, g, in_region, owed, covered);
    int limited = g->limit_ > 0;
    frame.holds_slot = limited;
    struct errgroup_slot_ *s = eg_slot(g);
    int ran = eg_run_one(g, &frame, fn, arg, ordinal, s);
    if (limited) {
        eg_finish_one(g);
        eg_drain(g, &frame);
    }
    eg_frame_pop(&frame);
    eg_done(s, ran);
    /* Children spawned by the body must finish before this task does,
     * unless an enclosing run or for waits for all of them anyway. */
    if (!covered && frame.spawned)
        eg_wait_children();
}

/* The task (or run/wait) that spawns must wait for the child. Tied tasks
 * keep this thread's frame stack exact; see struct eg_frame. */
EG_HOT void eg_mark_spawned(void)
{
    struct eg_frame *top = errgroup__frame_top;
    if (top != NULL)
        top->spawned = 1;
}

/* The two spawn paths differ only in the depend clauses, which must sit on
 * the directive; both run the same wrapper, eg_task. EG_NO_TSAN: see
 * internal.h. */
static __attribute__((noinline)) EG_NO_TSAN void eg_spawn(errgroup *g, errgroup_fn *fn, void *arg,
                                                          int64_t ordinal, int64_t *owed, int covered)
{
    eg_mark_spawned();
#pragma omp task default(none) firstprivate(g, fn, arg, ordinal, owed, covered)
    eg_task(g, fn, arg, ordinal, 1, owed, covered);
}

/* addrs[0..nin) are `in` dependences, addrs[nin..ndeps) `inout` ones (out
 * and inout order alike). The addresses are evaluated when the task is
 * created, so addrs need only live until this returns. Not const: gcc 12
 * then takes the caller's partly filled buffer for a read of uninitialised
 * memory (-Wmaybe-uninitialized). */
static __attribute__((noinline)) EG_NO_TSAN void
eg_spawn_deps(errgroup *g, errgroup_fn *fn, void *arg, int64_t ordinal, int64_t *owed, int covered,
              const void **addrs, int nin, int ndeps)
{
    eg_mark_spawned();
    const void **outs = addrs + nin;
#pragma omp task default(none) firstprivate(g, fn, arg, ordinal, owed, covered)                  \
    depend(iterator(i = 0:nin), in: *(const char *)addrs[i])                                      \
    depend(iterator(j = 0:ndeps - nin), inout: *(const char *)outs[j])
    eg_task(g, fn, arg, ordinal, 1, owed, covered);
}

/* Where work submitted now is accounted: the calling body's scope, or the
 * group's own (errgroup_wait settles it) for the waiter and foreign callers. */
EG_HOT int64_t *eg_scope(errgroup *g, int *covered)
{
    const struct eg_frame *top = errgroup__frame_top;
    if (top != NULL && top->g == g) {
        *covered = top->covered;
        return top->owed;
    }
    *covered = 0;
    return &g->root_owed_;
}

/* Start an accepted task: a new OpenMP task inside a parallel region, at
 * once in the caller outside any (the same wrapper either way, so the limit
 * and the queue work identically). */
EG_HOT void eg_start(errgroup *g, errgroup_fn *fn, void *arg, int64_t ordinal,
                     const void **addrs, int nin, int ndeps)
{
    int covered;
    int64_t *owed = eg_scope(g, &covered);
    if (!eg_in_region())
        eg_task(g, fn, arg, ordinal, 0, owed, covered);
    else if (ndeps == 0)
        eg_spawn(g, fn, arg, ordinal, owed, covered);
    else
        eg_spawn_deps(g, fn, arg, ordinal, owed, covered, addrs, nin, ndeps);
}

/* Next ordinal. Relaxed RMW: ordinals need uniqueness and, for one
 * submitting thread, increasing order; both hold for any memory order. */
static int64_t eg_take_ordinal(errgroup *g)
{
    return __atomic_fetch_add(&g->next_ordinal_, 1, __ATOMIC_RELAXED);
}

/*
 * Whether this thread has used half of its stack. A chain of nested go
 * nests one stack level per link whenever the runtime runs a child task at
 * once on its creator's stack (LLVM's libomp does in a one-thread team, and
 * libgomp in a taskwait); past the guard, go queues the task instead, and
 * the run, for or wait that settles its scope runs it later at a shallow
 * depth, so any depth of chain ends in a loop, not a stack overflow.
 * Costs a thread-local load and a compare per go.
 */
EG_HOT int eg_stack_low(void)
{
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    return EG_UNLIKELY(sp < errgroup__stack_guard) && errgroup__stack_low_slow(sp);
}

/*
 * Submit through the queue: the limit's slots (limit mode), or a deep stack
 * (deep: never start the task here, never drain here).
 */
static int eg_submit_queued(errgroup *g, errgroup_fn *fn, void *arg, int try_only, int deep)
{
    /* Relaxed: unfinished_ only bounds try_go; it publishes nothing. */
    if (try_only && g->limit_ > 0) {
        int n = __atomic_load_n(&g->unfinished_, __ATOMIC_RELAXED);
        do {
            if (n >= g->limit_)
                return ERRGROUP_EAGAIN;
        } while (!__atomic_compare_exchange_n(&g->unfinished_, &n, n + 1, 1,
                                              __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    } else {
        __atomic_fetch_add(&g->unfinished_, 1, __ATOMIC_RELAXED);
    }
    if (!deep && eg_slot_acquire(g)) {
        eg_start(g, fn, arg, eg_take_ordinal(g), NULL, 0, 0);
        return 0;
    }
    struct errgroup_pending_ *p = malloc(sizeof *p);
    if (p == NULL) {
        eg_finish_one(g);
        return ERRGROUP_ENOMEM;
    }
    int covered;
    p->fn = fn;
    p->arg = arg;
    p->owed = eg_scope(g, &covered);
    p->next = NULL;
    /* Relaxed: the owner reads it after its construct's own wait (taskgroup,
     * barrier or taskwait), which orders this submitter's steps before it. */
    __atomic_fetch_add(p->owed, 1, __ATOMIC_RELAXED);
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
    if (!deep && eg_slot_acquire(g))
        eg_drain(g, errgroup__frame_top);
    return 0;
}

/* go, try_go and go_deps. addrs is NULL for go/try_go; for go_deps it is
 * the partitioned list (see eg_spawn_deps), never NULL, even when empty. */
static int eg_submit(errgroup *g, errgroup_fn *fn, void *arg, int try_only,
                     const void **addrs, int nin, int ndeps)
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
    /* A queued task cannot carry OpenMP dependences: see errgroup_go_deps. */
    if (addrs != NULL && g->limit_ > 0)
        return ERRGROUP_EINVAL;
    /* Probe with the ordinal this task would get; a concurrent go can only
     * make the real one higher, which the task start re-checks anyway. */
    if ((poll & ERRGROUP__POLL_SLOW) &&
        errgroup__canceled_at_slow(g, __atomic_load_n(&g->next_ordinal_, __ATOMIC_RELAXED)))
        return ERRGROUP_ECANCELED;
    /* go_deps never queues, not even on a deep stack: a queued task could
     * not carry its dependences (see errgroup_go_deps). With a limit it was
     * refused above, so limit_ > 0 here means go or try_go. */
    int deep = addrs == NULL && eg_stack_low();
    if (g->limit_ > 0 || deep)
        return eg_submit_queued(g, fn, arg, try_only, deep);
    eg_start(g, fn, arg, eg_take_ordinal(g), addrs, nin, ndeps);
    return 0;
}

int errgroup_go(errgroup *g, errgroup_fn *fn, void *arg)
{
    return eg_submit(g, fn, arg, 0, NULL, 0, 0);
}

int errgroup_try_go(errgroup *g, errgroup_fn *fn, void *arg)
{
    return eg_submit(g, fn, arg, 1, NULL, 0, 0);
}

/* Dependence lists up to this long are partitioned on the stack. */
#define EG_DEPS_ON_STACK 32

int errgroup_go_deps(errgroup *g, errgroup_fn *fn, void *arg, const errgroup_dep *deps, int ndeps)
{
    if (ndeps < 0 || (deps == NULL && ndeps > 0))
        return ERRGROUP_EINVAL;
    for (int i = 0; i < ndeps; i++)
        if (deps[i].addr == NULL || deps[i].kind < ERRGROUP_DEP_IN || deps[i].kind > ERRGROUP_DEP_INOUT)
            return ERRGROUP_EINVAL;
    /* `in` entries first, then out/inout ones from the end backwards. */
    const void *stack[EG_DEPS_ON_STACK];
    const void **addrs = stack;
    if (ndeps > EG_DEPS_ON_STACK) {
        addrs = malloc((size_t)ndeps * sizeof *addrs);
        if (addrs == NULL)
            return ERRGROUP_ENOMEM;
    }
    int nin = 0, back = ndeps;
    for (int i = 0; i < ndeps; i++) {
        if (deps[i].kind == ERRGROUP_DEP_IN)
            addrs[nin++] = deps[i].addr;
        else
            addrs[--back] = deps[i].addr;
    }
    int rc = eg_submit(g, fn, arg, 0, addrs, nin, ndeps);
    if (addrs != stack)
        free(addrs);
    return rc;
}

int errgroup_wait(errgroup *g)
{
    int rc = eg_check_open(g);
    if (rc != 0)
        return rc;
    eg_wait_children();
    errgroup__settle(g, &g->root_owed_);
    /* A deadline or parent stop that came before this point counts: look
     * once more, then freeze the outcome. */
    if (__atomic_load_n(&g->poll_, __ATOMIC_RELAXED) & ERRGROUP__POLL_WATCH)
        errgroup__watch(g);
    /* Relaxed: closing is the owner's own step; see eg_check_open. */
    if (__atomic_fetch_or(&g->poll_, EG_POLL_CLOSED, __ATOMIC_RELAXED) & EG_POLL_CLOSED)
        return ERRGROUP_ECLOSED;
    /* Freeze: a stop racing with this wait (another thread's cancel, a
     * parent's stop) either claimed cause_ first and counts, or finds it
     * taken and changes nothing. Relaxed: cause_'s own modification order
     * decides; the record an error published is read with acquire below. */
    unsigned none = EG_CAUSE_NONE;
    __atomic_compare_exchange_n(&g->cause_, &none, EG_CAUSE_FROZEN, 0, __ATOMIC_RELAXED,
                                __ATOMIC_RELAXED);
    /* Frozen: nothing needs watching any more, so a later deadline cannot
     * change what errgroup_canceled says. */
    __atomic_fetch_and(&g->poll_, ~ERRGROUP__POLL_WATCH, __ATOMIC_RELAXED);
    if (g->hook_fn_ != NULL) /* the owner's own field: set before any work */
        (void)g->hook_fn_(g, ERRGROUP__HOOK_WAIT, g->hook_arg_);
    return errgroup__result(g);
}

/*
 * The body inside a taskgroup, which waits for every task it created and
 * their descendants: tasks spawned under it are `covered` and need not wait
 * for their own children (so a chain of nested go does not nest stacks).
 * The queued tasks of the run's scope are settled inside the taskgroup too,
 * so that they and what they spawn are covered as well (an uncovered task
 * would taskwait, and LLVM's libomp checks each task a taskwait may run
 * against the whole chain of its ancestors: quadratic in a deep chain).
 * Tasks still running when the settle ends may queue more, hence the rounds.
 */
static __attribute__((noinline)) void eg_run_covered(errgroup *g, errgroup_fn *body, void *arg,
                                                     int64_t *owed)
{
    int first = 1;
    do {
#pragma omp taskgroup
        {
            struct eg_frame frame;
            eg_frame_push(&frame, g, 1, owed, 1);
            if (first) {
                int rc = body(g, arg);
                if (rc != 0 && !frame.failed)
                    errgroup__record(g, rc, ERRGROUP_NO_INDEX, NULL);
                first = 0;
            }
            errgroup__settle(g, owed);
            eg_frame_pop(&frame);
        }
        /* Acquire: as in errgroup__settle. */
    } while (__atomic_load_n(owed, __ATOMIC_ACQUIRE) != 0);
}

/* Runs inside a parallel region (run opens one at level 0). */
static void eg_run_body(errgroup *g, errgroup_fn *body, void *arg)
{
    int64_t owed = 0;
    eg_run_covered(g, body, arg, &owed);
}

int errgroup_run(errgroup *g, errgroup_fn *body, void *arg)
{
    if (body == NULL)
        return ERRGROUP_EINVAL;
    int rc = eg_check_open(g);
    if (rc != 0)
        return rc;
    int start = eg_skip(g, INT64_MIN) != 2; /* cancelled: start nothing new */
    if (start && !eg_in_region()) {
        /* master, not single: libgomp 12 never frees the dependence table
         * of a worker thread's implicit task, so go_deps calls from a body
         * that a worker ran leaked 100-800 bytes per run (LeakSanitizer). */
#pragma omp parallel default(none) firstprivate(g, body, arg)
#pragma omp master
        eg_run_body(g, body, arg);
    } else if (start) {
        eg_run_body(g, body, arg);
    }
    if (g->hook_fn_ != NULL) /* on every path: a front end's run may be collective */
        (void)g->hook_fn_(g, ERRGROUP__HOOK_RUN, g->hook_arg_);
    return errgroup__result(g);
}
