/*
 * One error group across MPI ranks, built on the core's hook (src/hook.h).
 *
 * The protocol:
 *   - Each rank keeps one MPI_Irecv(MPI_ANY_SOURCE, EGM_TAG) posted on its
 *     duplicate of the communicator, re-posted after each message until it has
 *     received one from every peer.
 *   - A rank whose group stops by itself (an own error, cancel, deadline,
 *     parent) sends one message to every peer, once; later stops are not sent.
 *     Receiving one stops the local group ("canceled by a peer"); in
 *     lowest-index mode an error is instead recorded locally with its own index
 *     (so work above it is skipped, work below still runs and may find a lower
 *     one).
 *   - The polls (sending, MPI_Test) run under st->busy, taken with a try-lock
 *     so that a hot errgroup_canceled() never waits, at most every
 *     EGM_POLL_NS, except that a rank with an unsent own stop sends at once.
 *   - Agreement (wait, run, errgroup_mpi_for, destroy) allgathers each rank's
 *     offer, which carries whether that rank sent; every rank then picks the
 *     same winner (header: "Agreement"). The final agreement (wait, or destroy
 *     without wait) ends sending before the offer is made, so each rank knows
 *     exactly how many messages are still due to it, receives them, then
 *     completes its own sends: no request is left behind and none is
 *     cancelled.
 */
#define _POSIX_C_SOURCE 200809L

#include "errgroup_mpi.h"

#include "hook.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { EGM_TAG = 7201 };
#define EGM_POLL_NS 100000 /* 100 us between polls of the peers */

enum { EGM_NONE = 0, EGM_ERROR = 1, EGM_STOP = 2, EGM_CLOSE = 3 };

/* One stop, as sent to peers and offered in the agreement. */
struct egm_msg {
    int32_t kind;   /* EGM_* */
    int32_t code;
    int64_t index;
    int32_t origin; /* rank where it began */
    int32_t sent;   /* agreement only: the offering rank sent its stop */
    char text[ERRGROUP_MESSAGE_MAX];
};

struct egm_state {
    MPI_Comm comm;
    int rank, size;
    int multiple;     /* MPI_THREAD_MULTIPLE: any thread may poll */
    pthread_t main;   /* otherwise only this one */
    int busy;         /* try-lock around every MPI call on the requests below */
    int64_t next_poll; /* monotonic ns */
    int peer_stop;    /* a peer's stop arrived: POLL answers 1 */
    int sent;         /* our stop went out (out, sreq) */
    int quiet;        /* an agreement fixed the outcome: nothing more to send */
    int finished;     /* final agreement made: no more MPI on the requests */
    int error_rank;
    int nrecv;        /* messages received */
    int have_known;   /* `known` holds a record that began on another rank */
    struct egm_msg known;
    struct egm_msg in, out;
    MPI_Request rreq;
    MPI_Request *sreq; /* size - 1 */
};

static int64_t egm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int egm_hook(errgroup *g, int event, void *arg);

static struct egm_state *egm_state(const errgroup *g)
{
    return errgroup__hook_arg(g, egm_hook);
}

/* Acquire: pairs with egm_unlock, so each holder sees the previous one's
 * MPI state. */
static int egm_trylock(struct egm_state *st)
{
    return __atomic_exchange_n(&st->busy, 1, __ATOMIC_ACQUIRE) == 0;
}

static void egm_lock(struct egm_state *st)
{
    while (!egm_trylock(st))
        sched_yield();
}

static void egm_unlock(struct egm_state *st)
{
    __atomic_store_n(&st->busy, 0, __ATOMIC_RELEASE);
}

/*
 * What this rank offers: the stop that ended its group, with its origin.
 * Returns 0 if the group has not stopped or a peer's notice stopped it.
 * A record equal to `known` (a peer's error recorded here, or an agreed one)
 * keeps that origin.
 */
static int egm_offer(errgroup *g, const struct egm_state *st, struct egm_msg *m)
{
    int cause = errgroup__cause(g);
    if (cause == ERRGROUP__CAUSE_NONE || cause == ERRGROUP__CAUSE_HOOK)
        return 0;
    errgroup_error e;
    if (errgroup_first_error(g, &e) != 0 || e.code == 0)
        return 0;
    memset(m, 0, sizeof *m);
    m->kind = cause == ERRGROUP__CAUSE_ERROR ? EGM_ERROR : EGM_STOP;
    m->code = e.code;
    m->index = e.index;
    m->origin = st->rank;
    memcpy(m->text, e.message, sizeof m->text);
    if (st->have_known && st->known.code == m->code && st->known.index == m->index &&
        strcmp(st->known.text, m->text) == 0) {
        m->kind = st->known.kind;
        m->origin = st->known.origin;
    }
    return 1;
}

/* A peer's stop. Called under busy. */
static void egm_receive(errgroup *g, struct egm_state *st, const struct egm_msg *m)
{
    /* mode_ is configuration, fixed before any work (errgroup_set_mode). */
    if (m->kind == EGM_ERROR && g->mode_ == ERRGROUP_LOWEST_INDEX) {
        if (st->have_known && st->known.index <= m->index)
            return;
        st->known = *m;
        st->have_known = 1;
        errgroup__inject(g, m->code, m->index, m->text);
        return;
    }
    /* Relaxed: POLL only turns it into a local stop; no data rides on it. */
    __atomic_store_n(&st->peer_stop, 1, __ATOMIC_RELAXED);
}

static void egm_post_recv(struct egm_state *st)
{
    MPI_Irecv(&st->in, (int)sizeof st->in, MPI_BYTE, MPI_ANY_SOURCE, EGM_TAG, st->comm, &st->rreq);
}

/* Send our own stop if there is one, then take what peers sent. Under busy. */
static void egm_progress(errgroup *g, struct egm_state *st)
{
    if (st->finished)
        return;
    struct egm_msg m;
    if (!st->sent && !st->quiet && egm_offer(g, st, &m) && m.origin == st->rank) {
        st->out = m;
        for (int r = 0, k = 0; r < st->size; r++)
            if (r != st->rank)
                MPI_Isend(&st->out, (int)sizeof st->out, MPI_BYTE, r, EGM_TAG, st->comm,
                          &st->sreq[k++]);
        /* Relaxed: read unlocked only to decide whether to hurry (POLL). */
        __atomic_store_n(&st->sent, 1, __ATOMIC_RELAXED);
    }
    while (st->rreq != MPI_REQUEST_NULL) {
        int done = 0;
        MPI_Test(&st->rreq, &done, MPI_STATUS_IGNORE);
        if (!done)
            break;
        st->nrecv++;
        struct egm_msg got = st->in;
        if (st->nrecv < st->size - 1)
            egm_post_recv(st);
        egm_receive(g, st, &got);
    }
}

/* Whether this thread may make MPI calls now. */
static int egm_may_call(const struct egm_state *st)
{
    return st->multiple || pthread_equal(pthread_self(), st->main);
}

static int egm_poll(errgroup *g, struct egm_state *st)
{
    /* Relaxed loads: hints; the decisions are made under busy. */
    if (__atomic_load_n(&st->finished, __ATOMIC_RELAXED) || !egm_may_call(st))
        return __atomic_load_n(&st->peer_stop, __ATOMIC_RELAXED);
    /* An unsent stop of our own goes out at once. An error in lowest-index
     * mode may be a peer's, recorded here: it waits for the next poll, so
     * that such a group does not call MPI at every check. */
    int cause = errgroup__cause(g);
    int hurry = !__atomic_load_n(&st->sent, __ATOMIC_RELAXED) &&
                !__atomic_load_n(&st->quiet, __ATOMIC_RELAXED) && cause != ERRGROUP__CAUSE_NONE &&
                cause != ERRGROUP__CAUSE_HOOK &&
                (cause != ERRGROUP__CAUSE_ERROR || g->mode_ != ERRGROUP_LOWEST_INDEX);
    int64_t now = egm_now();
    if ((hurry || now >= __atomic_load_n(&st->next_poll, __ATOMIC_RELAXED)) && egm_trylock(st)) {
        /* Relaxed: only rate-limits; a stale value costs one extra poll. */
        __atomic_store_n(&st->next_poll, now + EGM_POLL_NS, __ATOMIC_RELAXED);
        egm_progress(g, st);
        egm_unlock(st);
    }
    return __atomic_load_n(&st->peer_stop, __ATOMIC_RELAXED);
}

/* a comes before b in the winner order (header: "Agreement"). */
static int egm_before(const struct egm_msg *a, const struct egm_msg *b, int lowest)
{
    if (a->kind != b->kind)
        return a->kind < b->kind; /* EGM_ERROR before EGM_STOP */
    if (a->kind == EGM_ERROR && lowest && a->index != b->index)
        return a->index < b->index;
    return a->origin < b->origin;
}

/* Receive every message still due to us, then complete our sends. */
static void egm_drain(struct egm_state *st, const struct egm_msg *all)
{
    int due = 0;
    for (int r = 0; r < st->size; r++)
        if (r != st->rank && all[r].sent)
            due++;
    due -= st->nrecv;
    if (due > 0) {
        MPI_Wait(&st->rreq, MPI_STATUS_IGNORE);
        for (due--; due > 0; due--)
            MPI_Recv(&st->in, (int)sizeof st->in, MPI_BYTE, MPI_ANY_SOURCE, EGM_TAG, st->comm,
                     MPI_STATUS_IGNORE);
    } else if (st->rreq != MPI_REQUEST_NULL) {
        /* Nothing more will come: complete our own receive with a message to
         * ourselves rather than cancelling it. */
        struct egm_msg close = {.kind = EGM_CLOSE, .origin = st->rank};
        MPI_Request self;
        MPI_Isend(&close, (int)sizeof close, MPI_BYTE, st->rank, EGM_TAG, st->comm, &self);
        MPI_Wait(&st->rreq, MPI_STATUS_IGNORE);
        MPI_Wait(&self, MPI_STATUS_IGNORE);
    }
    st->rreq = MPI_REQUEST_NULL;
    /* One MPI_Wait each: gcc's access checks reject MPICH's
     * MPI_STATUSES_IGNORE passed to MPI_Waitall. */
    for (int k = 0; st->sent && k < st->size - 1; k++)
        MPI_Wait(&st->sreq[k], MPI_STATUS_IGNORE);
}

/* Collective: every rank ends with the same outcome. final: no more messages. */
static int egm_agree(errgroup *g, struct egm_state *st, int final)
{
    struct egm_msg *all = malloc((size_t)st->size * sizeof *all);
    if (all == NULL) {
        fprintf(stderr, "errgroup_mpi: out of memory in a collective call\n");
        abort(); /* leaving the collective would hang every other rank */
    }
    egm_lock(st);
    egm_progress(g, st);
    struct egm_msg mine;
    if (!egm_offer(g, st, &mine))
        memset(&mine, 0, sizeof mine);
    mine.sent = st->sent;
    if (final)
        __atomic_store_n(&st->finished, 1, __ATOMIC_RELAXED); /* read unlocked as a hint */
    MPI_Allgather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE, st->comm);
    int best = -1, code = 0;
    for (int r = 0; r < st->size; r++)
        if (all[r].kind != EGM_NONE &&
            (best < 0 || egm_before(&all[r], &all[best], g->mode_ == ERRGROUP_LOWEST_INDEX)))
            best = r;
    if (best >= 0) {
        errgroup_error e;
        e.code = all[best].code;
        e.index = all[best].index;
        memcpy(e.message, all[best].text, sizeof e.message);
        e.message[sizeof e.message - 1] = '\0';
        st->known = all[best];
        st->have_known = 1;
        __atomic_store_n(&st->quiet, 1, __ATOMIC_RELAXED); /* read unlocked as a hint */
        st->error_rank = all[best].origin;
        errgroup__agree(g, &e);
        code = e.code;
    }
    if (final)
        egm_drain(st, all);
    egm_unlock(st);
    free(all);
    return code;
}

static int egm_hook(errgroup *g, int event, void *arg)
{
    struct egm_state *st = arg;
    switch (event) {
    case ERRGROUP__HOOK_POLL:
        return egm_poll(g, st);
    case ERRGROUP__HOOK_RUN:
        if (!st->finished)
            (void)egm_agree(g, st, 0);
        return 0;
    case ERRGROUP__HOOK_WAIT:
        if (!st->finished)
            (void)egm_agree(g, st, 1);
        return 0;
    case ERRGROUP__HOOK_DESTROY:
        if (!st->finished)
            (void)egm_agree(g, st, 1);
        MPI_Comm_free(&st->comm);
        free(st->sreq);
        free(st);
        return 0;
    default:
        return 0;
    }
}

static const char *egm_level_name(int level)
{
    switch (level) {
    case MPI_THREAD_SINGLE:
        return "MPI_THREAD_SINGLE";
    case MPI_THREAD_FUNNELED:
        return "MPI_THREAD_FUNNELED";
    case MPI_THREAD_SERIALIZED:
        return "MPI_THREAD_SERIALIZED";
    default:
        return "MPI_THREAD_MULTIPLE";
    }
}

int errgroup_mpi_init(errgroup *g, MPI_Comm comm)
{
    if (g == NULL || comm == MPI_COMM_NULL)
        return ERRGROUP_EINVAL;
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (!initialized || finalized) {
        fprintf(stderr, "errgroup_mpi_init: MPI is %s\n",
                finalized ? "already finalized" : "not initialized");
        return ERRGROUP_EINVAL;
    }
    int level = MPI_THREAD_SINGLE, is_main = 0;
    MPI_Query_thread(&level);
    MPI_Is_thread_main(&is_main);
    if (level < MPI_THREAD_FUNNELED) {
        fprintf(stderr,
                "errgroup_mpi_init: MPI thread level %s is too low: initialize MPI with "
                "MPI_Init_thread and MPI_THREAD_FUNNELED (main thread polls) or "
                "MPI_THREAD_MULTIPLE (any thread polls)\n",
                egm_level_name(level));
        return ERRGROUP_EINVAL;
    }
    if (level < MPI_THREAD_MULTIPLE && !is_main) {
        fprintf(stderr, "errgroup_mpi_init: with %s, call it from the main thread\n",
                egm_level_name(level));
        return ERRGROUP_EINVAL;
    }
    int size = 0;
    MPI_Comm_size(comm, &size);
    struct egm_state *st = calloc(1, sizeof *st);
    MPI_Request *sreq = malloc((size_t)(size > 1 ? size - 1 : 1) * sizeof *sreq);
    int rc = st == NULL || sreq == NULL ? ERRGROUP_ENOMEM : errgroup_init(g);
    if (rc != 0) {
        free(st);
        free(sreq);
        return rc;
    }
    st->sreq = sreq;
    st->multiple = level >= MPI_THREAD_MULTIPLE;
    st->main = pthread_self();
    st->error_rank = -1;
    st->rreq = MPI_REQUEST_NULL;
    MPI_Comm_dup(comm, &st->comm);
    MPI_Comm_rank(st->comm, &st->rank);
    MPI_Comm_size(st->comm, &st->size);
    if (st->size > 1)
        egm_post_recv(st);
    rc = errgroup__set_hook(g, egm_hook, st);
    if (rc != 0) { /* cannot happen on a fresh group */
        (void)errgroup_destroy(g);
        return rc;
    }
    return 0;
}

int errgroup_mpi_for(errgroup *g, int64_t begin, int64_t end, errgroup_range_fn *body,
                     void *arg)
{
    struct egm_state *st = egm_state(g);
    if (st == NULL || body == NULL || begin > end)
        return ERRGROUP_EINVAL;
    /* Block r of p: [r*q + min(r, n%p), ...), q = n/p; exact in uint64_t. */
    uint64_t n = (uint64_t)end - (uint64_t)begin, p = (uint64_t)st->size, r = (uint64_t)st->rank;
    uint64_t q = n / p, extra = n % p;
    uint64_t lo = r * q + (r < extra ? r : extra);
    uint64_t len = q + (r < extra);
    int64_t my_begin = (int64_t)((uint64_t)begin + lo);
    int64_t my_end = (int64_t)((uint64_t)begin + lo + len);
    int rc = errgroup_for(g, my_begin, my_end, body, arg);
    if (rc == ERRGROUP_ECLOSED || rc == ERRGROUP_EINVAL)
        return rc; /* the same on every rank: wait is collective */
    return egm_agree(g, st, 0);
}

int errgroup_mpi_error_rank(const errgroup *g)
{
    const struct egm_state *st = egm_state(g);
    return st == NULL ? -1 : st->error_rank;
}

int errgroup_mpi_wait_request(errgroup *g, MPI_Request *req, MPI_Status *status)
{
    if (egm_state(g) == NULL || req == NULL)
        return ERRGROUP_EINVAL;
    for (;;) {
        int done = 0;
        MPI_Test(req, &done, status);
        if (done)
            return 0;
        /* INT64_MAX: in lowest-index mode any known error counts. */
        if (errgroup_canceled_at(g, INT64_MAX) != 0)
            return ERRGROUP_ECANCELED;
        sched_yield();
    }
}
