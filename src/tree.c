/*
 * The tree of parent and child groups: cancellation is pushed down it, and
 * deadlines are inherited through it, so no check ever walks up the parents.
 *
 * Invariants (all links are changed only under the tree lock):
 *   - Whoever newly sets STOP on a group stops its whole subtree (cause
 *     PARENT) before it returns, unless a child already had STOP, whose own
 *     stopper does the same for that child's subtree, or is closed (its
 *     outcome is frozen, and so is what it passes on). Hence a group's STOP
 *     always includes its ancestors' and errgroup_canceled() stays one
 *     relaxed load while nothing happened, at any depth.
 *   - dl_src_ is the ancestor whose deadline comes first (NULL if none has
 *     one), recomputed for a whole subtree when a deadline changes or a
 *     parent is destroyed. A group watches (WATCH) iff it or dl_src_ has a
 *     deadline; the check looks at one or two clocks, not at every level.
 *   - A group outlives its links: destroy unlinks it and detaches its
 *     children (they become roots), so nothing points at freed memory.
 *
 * The lock is one for the process: trees change rarely (init_child, destroy,
 * set_timeout, a group's first stop), each change is O(1) or one walk of the
 * subtree concerned, and one lock makes a walk over several levels safe
 * without holding a lock per level. errgroup_cancel must stay
 * async-signal-safe: a signal handler that interrupts this very thread while
 * it holds the lock cannot wait for it, so it leaves the stopped group on a
 * lock-free stack that the holder drains before it releases the lock (the
 * children are then stopped as soon as the interrupted call finishes).
 */
#include "internal.h"

#include <sched.h>

/* errgroup__thread_id of the holder, 0 when free. Not error state. */
static unsigned eg_tree_owner;
/* Groups newly stopped while this thread held the lock (see above). */
static errgroup *eg_tree_pending;

static unsigned eg_me(void)
{
    unsigned id = errgroup__thread_id; /* a TLS read and an atomic add: signal-safe */
    return id != 0 ? id : errgroup__new_thread_id();
}

static int eg_tree_trylock(unsigned me, unsigned *holder)
{
    *holder = 0;
    /* Acquire: pairs with the release in eg_tree_unlock, so the new holder
     * sees every link the previous one wrote. */
    return __atomic_compare_exchange_n(&eg_tree_owner, holder, me, 0, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

static void eg_walk(errgroup *root, int (*visit)(errgroup *));
static int eg_stop_visit(errgroup *n);

/* Stop the subtrees of groups a signal handler left for us. */
static void eg_tree_drain(void)
{
    /* Acquire: pairs with the release push in eg_tree_defer. */
    errgroup *p = __atomic_exchange_n(&eg_tree_pending, NULL, __ATOMIC_ACQUIRE);
    while (p != NULL) {
        errgroup *next = p->pend_next_;
        eg_walk(p, eg_stop_visit);
        p = next;
    }
}

/* Take the lock. With may_defer, return 0 without it if this thread holds
 * it already: only a signal handler that interrupted the holder gets there,
 * and only errgroup__tree_stopped (errgroup_cancel) may be in one. The other
 * callers (init_child, destroy, set_timeout) are not async-signal-safe and
 * always wait. */
static int eg_tree_lock(int may_defer)
{
    unsigned me = eg_me(), holder;
    for (unsigned spins = 0; !eg_tree_trylock(me, &holder);) {
        if (may_defer && holder == me)
            return 0;
        if (++spins > 64)
            sched_yield(); /* the holder may be descheduled */
    }
    eg_tree_drain();
    return 1;
}

static void eg_tree_unlock(void)
{
    unsigned me = eg_me(), holder;
    do {
        eg_tree_drain();
        /* Release: see eg_tree_trylock. */
        __atomic_store_n(&eg_tree_owner, 0, __ATOMIC_RELEASE);
        /* A handler may have pushed between the drain and the release; if
         * someone else holds the lock now, they drain it. Acquire: pairs
         * with the push. */
    } while (__atomic_load_n(&eg_tree_pending, __ATOMIC_ACQUIRE) != NULL &&
             eg_tree_trylock(me, &holder));
}

static void eg_tree_defer(errgroup *g)
{
    errgroup *head = __atomic_load_n(&eg_tree_pending, __ATOMIC_RELAXED);
    do
        g->pend_next_ = head;
    /* Release: the drainer reads pend_next_ after its acquire exchange. */
    while (!__atomic_compare_exchange_n(&eg_tree_pending, &head, g, 1, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED));
}

/* Visit every group below root, parents before children, without recursion
 * (trees may be 10^5 deep). visit returns whether to go below the group. */
static void eg_walk(errgroup *root, int (*visit)(errgroup *))
{
    errgroup *n = root->kids_;
    while (n != NULL) {
        if (visit(n) && n->kids_ != NULL) {
            n = n->kids_;
            continue;
        }
        while (n->next_kid_ == NULL) {
            n = n->parent_;
            if (n == root)
                return;
        }
        n = n->next_kid_;
    }
}

static int eg_stop_visit(errgroup *n)
{
    return errgroup__stop_local(n, EG_CAUSE_PARENT);
}

void errgroup__tree_stopped(errgroup *g)
{
    /* Seq_cst, as the STOP that our caller set and the kids_ store in
     * errgroup__tree_link: of "set STOP, read kids_" here and "write kids_,
     * read STOP" there, one sees the other, so a child linked concurrently
     * is stopped by one side or both. */
    if (__atomic_load_n(&g->kids_, __ATOMIC_SEQ_CST) == NULL)
        return;
    if (!eg_tree_lock(1)) {
        eg_tree_defer(g);
        return;
    }
    eg_walk(g, eg_stop_visit);
    eg_tree_unlock();
}

/* Of two groups whose own deadlines count, the one whose comes first. */
static errgroup *eg_earlier(errgroup *a, errgroup *b)
{
    /* Relaxed: a deadline changed concurrently is noticed at the next look
     * (set_timeout recomputes the subtree under the lock afterwards). */
    int64_t da = a != NULL ? __atomic_load_n(&a->deadline_ns_, __ATOMIC_RELAXED) : 0;
    int64_t db = b != NULL ? __atomic_load_n(&b->deadline_ns_, __ATOMIC_RELAXED) : 0;
    if (da == 0)
        return db != 0 ? b : NULL;
    return db != 0 && db < da ? b : a;
}

/* WATCH iff a deadline concerns g or g has a hook (hook.h); a closed group
 * no longer watches. */
static void eg_update_watch(errgroup *g)
{
    /* Relaxed: CLOSED is the owner's own step after its last use of the
     * group; a watch raised on a group closing concurrently is cleared by
     * wait itself, which clears WATCH after it closes. */
    if (__atomic_load_n(&g->poll_, __ATOMIC_RELAXED) & EG_POLL_CLOSED)
        return;
    if (__atomic_load_n(&g->deadline_ns_, __ATOMIC_RELAXED) != 0 || g->dl_src_ != NULL ||
        __atomic_load_n(&g->hook_fn_, __ATOMIC_RELAXED) != NULL)
        /* Release: a reader that sees WATCH with acquire sees the deadline. */
        __atomic_fetch_or(&g->poll_, ERRGROUP__POLL_WATCH, __ATOMIC_RELEASE);
    else /* Relaxed: clearing publishes nothing; a stale WATCH only costs a look. */
        __atomic_fetch_and(&g->poll_, ~ERRGROUP__POLL_WATCH, __ATOMIC_RELAXED);
}

static int eg_inherit_visit(errgroup *n)
{
    errgroup *p = n->parent_;
    /* Relaxed: errgroup__watch reads dl_src_ relaxed; either value names a
     * live ancestor. */
    __atomic_store_n(&n->dl_src_, eg_earlier(p, p->dl_src_), __ATOMIC_RELAXED);
    eg_update_watch(n);
    return 1;
}

void errgroup__tree_link(errgroup *child, errgroup *parent)
{
    eg_tree_lock(0);
    child->parent_ = parent;
    child->prev_kid_ = NULL;
    child->next_kid_ = parent->kids_;
    if (parent->kids_ != NULL)
        parent->kids_->prev_kid_ = child;
    /* Seq_cst: see errgroup__tree_stopped. */
    __atomic_store_n(&parent->kids_, child, __ATOMIC_SEQ_CST);
    eg_inherit_visit(child);
    if (__atomic_load_n(&parent->poll_, __ATOMIC_SEQ_CST) & ERRGROUP__POLL_STOP)
        errgroup__stop_local(child, EG_CAUSE_PARENT); /* no children yet */
    eg_tree_unlock();
}

void errgroup__tree_unlink(errgroup *g)
{
    eg_tree_lock(0);
    errgroup *p = g->parent_;
    if (p != NULL) {
        if (g->prev_kid_ != NULL)
            g->prev_kid_->next_kid_ = g->next_kid_;
        else
            __atomic_store_n(&p->kids_, g->next_kid_, __ATOMIC_RELAXED);
        if (g->next_kid_ != NULL)
            g->next_kid_->prev_kid_ = g->prev_kid_;
    }
    /* Children left behind become roots and forget the deadlines above. */
    for (errgroup *k = g->kids_, *next; k != NULL; k = next) {
        next = k->next_kid_;
        k->parent_ = NULL;
        k->next_kid_ = k->prev_kid_ = NULL;
        __atomic_store_n(&k->dl_src_, NULL, __ATOMIC_RELAXED);
        eg_update_watch(k);
        eg_walk(k, eg_inherit_visit);
    }
    /* Relaxed (kids_, dl_src_ here and above): links change under the lock;
     * an unlocked reader of kids_ (errgroup__tree_stopped) seeing either
     * value is fine, since the children it would stop are detached now. */
    __atomic_store_n(&g->kids_, NULL, __ATOMIC_RELAXED);
    g->parent_ = g->next_kid_ = g->prev_kid_ = NULL;
    __atomic_store_n(&g->dl_src_, NULL, __ATOMIC_RELAXED);
    eg_tree_unlock();
}

void errgroup__tree_deadline_changed(errgroup *g)
{
    eg_tree_lock(0);
    eg_update_watch(g);
    eg_walk(g, eg_inherit_visit);
    eg_tree_unlock();
}
