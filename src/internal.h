/*
 * Internal declarations shared by the library's files. Never installed.
 *
 * Cross-file internal symbols are prefixed errgroup__ and hidden (the library
 * is built with hidden visibility); everything else is static.
 *
 * The protocol in one place:
 *   - poll_ holds the bits every task start and loop check reads (STOP,
 *     ERRORED, WATCH) plus CLOSED (set by wait). It only ever gains bits, except
 *     WATCH, which is up exactly while a deadline concerns the group (its own
 *     or an ancestor's, src/tree.c) or a front end's hook is set (hook.h),
 *     and it is not closed.
 *   - A group's STOP includes its ancestors': a stop is pushed down the
 *     tree when it happens (src/tree.c), so no check looks up the parents.
 *   - cause_ says why the group stopped. It goes from 0 to one CAUSE_* value
 *     exactly once (CAS), so the first of {error, cancel, timeout, parent,
 *     wait's freeze} wins and later ones are dropped.
 *   - The error record err_ (and lowest_) is written only under lock_, and is
 *     complete before cause_ becomes CAUSE_ERROR and before poll_ gains
 *     STOP/ERRORED: a thread that sees the flag and then takes the lock sees the
 *     error. Cancel never takes the lock (it must be async-signal-safe).
 *   - A failure that loses the race raises the winner's bits itself before it
 *     returns (they are idempotent), so no errgroup_fail returns while the
 *     group still looks open to its caller.
 */
#ifndef ERRGROUP_INTERNAL_H
#define ERRGROUP_INTERNAL_H

#define _POSIX_C_SOURCE 200809L

#include "errgroup.h"

#include <omp.h>
#include <setjmp.h>
#include <stdint.h>
#include <time.h>

#define ERRGROUP__HIDDEN __attribute__((visibility("hidden")))
#define EG_LIKELY(x) __builtin_expect(!!(x), 1)
#define EG_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* For the functions that create OpenMP tasks, and only those: their
 * firstprivate copy into task memory that libomp recycles without telling
 * ThreadSanitizer was reported as a race against the previous task's read of
 * the same memory (clang, libomp and Archer; ~6-20 reports a run). Task
 * bodies stay instrumented: the sanitizer_planted race test proves it. */
#define EG_NO_TSAN __attribute__((no_sanitize("thread")))

/* poll_ bits beyond the public ERRGROUP__POLL_* ones. */
#define EG_POLL_CLOSED 8u /* errgroup_wait returned */

/* cause_ values. FROZEN: wait closed the group before anything stopped it
 * (claimed by CAS like the others, so a stop racing with wait either comes
 * first and counts, or comes after and changes nothing). */
enum {
    EG_CAUSE_NONE = 0,
    EG_CAUSE_ERROR,
    EG_CAUSE_CANCEL,
    EG_CAUSE_TIMEOUT,
    EG_CAUSE_PARENT,
    EG_CAUSE_FROZEN,
    EG_CAUSE_HOOK /* a front end's hook stopped it (hook.h) */
};

#define EG_MAGIC 0x45524750u /* "ERGP": set by init, cleared by destroy */

/*
 * One thread's progress counters, alone on its cache line. Slot i belongs to
 * the thread with id i + 1 and only that thread writes it; threads with ids
 * beyond nslots_ share the extra last slot, marked `shared`.
 */
struct errgroup_slot_ {
    /* Unsigned: a loop over all of int64_t is 2^64 - 1 iterations, which
     * wraps instead of overflowing; differences stay exact. */
    uint64_t submitted; /* loop iterations only: tasks are counted by next_ordinal_ */
    uint64_t started;
    uint64_t finished;
    uint64_t failed;
    uint64_t skipped;
    uint64_t shared;
    unsigned char pad[64 - 6 * sizeof(uint64_t)];
};

/*
 * An owned slot has a single writer: a load and a store (no locked
 * instruction) cannot lose an update, and readers never see a torn value.
 * The shared slot needs the read-modify-write. Release: errgroup__in_flight
 * reads finished/skipped with acquire before it reads submitted, and a
 * finish it sees must carry the submission that preceded it (the proof is
 * there). A release store is a plain store on x86 and costs no fence.
 */
static inline void eg_count(struct errgroup_slot_ *s, uint64_t *counter, uint64_t n)
{
    if (EG_UNLIKELY(s->shared))
        __atomic_fetch_add(counter, n, __ATOMIC_RELEASE);
    else
        __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n,
                         __ATOMIC_RELEASE);
}

/*
 * The body being run on this thread, so that errgroup_fail can tell the
 * wrapper "this body reported its own error; don't record the fallback".
 * Tasks are tied, so a body runs on one thread, and bodies interleaved on a
 * thread at scheduling points nest like calls: a stack per thread is exact.
 * This is attribution only; the error itself lives in the group.
 */
/*
 * A body run under a crash mode (see crash.c): what the signal handler needs
 * to name it, and for RECOVER where to jump back to. On the wrapper's stack;
 * frame->guard points to it while the body runs.
 */
struct eg_guard {
    int64_t lo, hi;          /* task: ordinal, ordinal + 1; chunk: [lo, hi) */
    int is_task;
    int mode;                /* ERRGROUP_CRASH_REPORT or _RECOVER */
    volatile int sig;        /* set by the handler before it jumps */
    void *volatile addr;
    sigjmp_buf jump;         /* RECOVER only */
};

struct eg_frame {
    errgroup *g;
    struct eg_guard *guard; /* crash mode: the body being run; else NULL */
    int failed;     /* the current body called errgroup_fail on g */
    int spawned;    /* go was called from this frame: the task must taskwait */
    int in_region;  /* pushed inside a parallel region (see eg_in_region) */
    int covered;    /* an enclosing run/for construct of `owed`'s scope waits for
                     * every OpenMP descendant of this task (taskgroup or the
                     * region's barrier), so the task need not taskwait */
    int holds_slot; /* limit mode: this thread holds a slot of g while the frame
                     * is on its stack (see eg_thread_holds_slot in task.c) */
    int64_t *owed;  /* the scope that waits for tasks queued from this frame */
    int64_t index;  /* the running body's index: ordinal, chunk start or
                     * ERRGROUP_NO_INDEX (errgroup_current_index) */
    struct eg_frame *prev;
};

extern _Thread_local struct eg_frame *errgroup__frame_top
    __attribute__((tls_model("initial-exec"))) ERRGROUP__HIDDEN;
extern _Thread_local unsigned errgroup__thread_id
    __attribute__((tls_model("initial-exec"))) ERRGROUP__HIDDEN;

static inline void eg_frame_push(struct eg_frame *f, errgroup *g, int in_region,
                                 int64_t *owed, int covered)
{
    f->g = g;
    f->guard = NULL;
    f->failed = 0;
    f->spawned = 0;
    f->in_region = in_region;
    f->covered = covered;
    f->holds_slot = 0;
    f->owed = owed;
    f->index = ERRGROUP_NO_INDEX;
    f->prev = errgroup__frame_top;
    errgroup__frame_top = f;
}

static inline void eg_frame_pop(struct eg_frame *f)
{
    errgroup__frame_top = f->prev;
}

ERRGROUP__HIDDEN unsigned errgroup__new_thread_id(void);

/* Half-way down this thread's stack (UINTPTR_MAX until first asked, 0 if
 * the bounds are unknown); see eg_stack_low in task.c. */
extern _Thread_local uintptr_t errgroup__stack_guard
    __attribute__((tls_model("initial-exec"))) ERRGROUP__HIDDEN;
ERRGROUP__HIDDEN int errgroup__stack_low_slow(uintptr_t sp);

/*
 * Whether the calling thread is inside a parallel region (omp_get_level() > 0,
 * which is also true in a one-thread team, unlike omp_in_parallel()).
 * omp_get_level() costs two thread-id lookups through __tls_get_addr in
 * LLVM's libomp (about 8 ns), so a frame pushed inside a region answers
 * instead: while that frame is on this thread's stack the thread is still
 * inside the region it was pushed in (tasks are tied; nested regions only
 * raise the level), so the answer cannot have become false. A frame pushed
 * at level 0 says nothing (its body may open a region), so ask the runtime.
 */
static inline int eg_in_region(void)
{
    const struct eg_frame *top = errgroup__frame_top;
    if (top != NULL && top->in_region)
        return 1;
    return omp_get_level() > 0;
}

/* Whether the loop macros' opt-in `cancel for` may run: OMP_CANCELLATION is
 * on and the runtime is libgomp. Decided once per process. */
ERRGROUP__HIDDEN int errgroup__omp_cancel_ok(void);

/* Monotonic clock in nanoseconds (vDSO on Linux: no system call). */
static inline int64_t eg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* This thread's counter slot in g. */
static inline struct errgroup_slot_ *eg_slot(errgroup *g)
{
    unsigned id = errgroup__thread_id;
    if (EG_UNLIKELY(id == 0))
        id = errgroup__new_thread_id();
    return &g->slots_[id <= g->nslots_ ? id - 1 : g->nslots_];
}

/* lock_ guards err_, lowest_ and the limit queue. Holders do bounded work. */
ERRGROUP__HIDDEN void errgroup__lock(errgroup *g);
static inline void errgroup__unlock(errgroup *g)
{
    __atomic_store_n(&g->lock_, 0, __ATOMIC_RELEASE);
}

/* Record an error (already formatted). See the protocol above. */
ERRGROUP__HIDDEN void errgroup__record(errgroup *g, int code, int64_t index, const char *msg);

/* errgroup_set_mode's rule for setters: EINVAL, ECLOSED, EBUSY (in flight). */
ERRGROUP__HIDDEN int errgroup__check_config(const errgroup *g);

/* Called by errgroup_destroy: frees the error log, releases the crash
 * handlers (see batch.c, crash.c). */
ERRGROUP__HIDDEN void errgroup__batch_destroy(errgroup *g);

/* Run a task body / loop chunk under g's crash mode (g->crash_mode_ != 0).
 * Returns the body's code, or ERRGROUP_ECRASHED (already recorded, with
 * frame->failed set) when RECOVER abandoned it. See crash.c. */
ERRGROUP__HIDDEN int errgroup__crash_task(errgroup *g, struct eg_frame *f, errgroup_fn *fn,
                                          void *arg, int64_t ordinal);
ERRGROUP__HIDDEN int errgroup__crash_chunk(errgroup *g, struct eg_frame *f,
                                           errgroup_range_fn *body, int64_t lo, int64_t hi,
                                           void *arg);
/* At destroy: give back g's hold on the crash handlers, if any. */
ERRGROUP__HIDDEN void errgroup__crash_release(errgroup *g);

/* Offer an error to the error log (log_cap_ > 0). Caller holds lock_. */
ERRGROUP__HIDDEN void errgroup__log_add(errgroup *g, int code, int64_t index, const char *msg);

/* 0 = run item `index`; 1 = skip it (lower index failed); 2 = group cancelled. */
ERRGROUP__HIDDEN int errgroup__canceled_at_slow(errgroup *g, int64_t index);

static inline int eg_skip(errgroup *g, int64_t index)
{
    /* Relaxed: a stale 0 only lets one more item start, which the protocol
     * allows (running bodies are never interrupted). */
    if (EG_LIKELY((__atomic_load_n(&g->poll_, __ATOMIC_RELAXED) & ERRGROUP__POLL_SLOW) == 0))
        return 0;
    return errgroup__canceled_at_slow(g, index);
}

/* Look at the deadlines that concern g and its hook now; stop g (and
 * return 1) if one says so, or if g is stopped. */
ERRGROUP__HIDDEN int errgroup__watch(errgroup *g);

/* Claim cause_ and raise STOP on g alone; 1 if this call raised it. */
ERRGROUP__HIDDEN int errgroup__stop_local(errgroup *g, unsigned cause);

/* The parent/child tree (src/tree.c). tree_stopped: g newly has STOP, stop
 * its subtree; deadline_changed: g's deadline changed, update its WATCH and
 * what its subtree inherits. */
ERRGROUP__HIDDEN void errgroup__tree_link(errgroup *child, errgroup *parent);
ERRGROUP__HIDDEN void errgroup__tree_unlink(errgroup *g);
ERRGROUP__HIDDEN void errgroup__tree_stopped(errgroup *g);
ERRGROUP__HIDDEN void errgroup__tree_deadline_changed(errgroup *g);

/* The code wait/run/for return: checks deadline and parent once more. */
ERRGROUP__HIDDEN int errgroup__result(errgroup *g);

/* Unfinished work (tasks and loop iterations), exact: see group.c. */
ERRGROUP__HIDDEN int64_t errgroup__in_flight(const errgroup *g);

/* After a run/for/wait construct's own wait: run or wait for every queued
 * task accounted to the scope `owed` (limit mode), so that the construct
 * returns only after all the work it submitted. See task.c. */
ERRGROUP__HIDDEN void errgroup__settle(errgroup *g, int64_t *owed);

/* Shared argument checks: EINVAL for NULL/uninitialised, ECLOSED after wait. */
static inline int eg_check_open(const errgroup *g)
{
    if (g == NULL || g->magic_ != EG_MAGIC)
        return ERRGROUP_EINVAL;
    /* Relaxed: wait sets CLOSED in the owner's own program order; other
     * threads calling after wait are misusing the group and get best effort. */
    if (__atomic_load_n(&g->poll_, __ATOMIC_RELAXED) & EG_POLL_CLOSED)
        return ERRGROUP_ECLOSED;
    return 0;
}

#endif /* ERRGROUP_INTERNAL_H */
