/*
 * omp-errgroup: Go's errgroup for OpenMP tasks and loops.
 *
 * A group collects OpenMP tasks (errgroup_go) or loop chunks (errgroup_for,
 * ERRGROUP_LOOP_CHECK). The first failure is recorded once, with its code,
 * index and message; from then on the group is cancelled (unless it keeps
 * going: errgroup_set_keep_going): tasks and chunks
 * that have not started are skipped, running bodies may poll
 * errgroup_canceled(). errgroup_wait() waits for everything and returns the
 * first error. The mechanism is the group's own atomic flag, so behaviour does
 * not depend on OMP_CANCELLATION or on the number of threads.
 *
 * Conventions used by every function below:
 *   - Functions that can fail return int: 0 on success, a negative
 *     ERRGROUP_E* code on failure. Codes returned by task bodies ("user codes",
 *     any nonzero int, typically a positive errno value) pass through unchanged.
 *   - Memory visibility: everything a task body (or loop body) did
 *     happens-before the errgroup_wait/errgroup_run/errgroup_for call that
 *     observes its completion returns.
 *   - A destroyed group is detected by every function that takes a group
 *     (errgroup_cancel, errgroup_canceled and errgroup_canceled_at included):
 *     it returns ERRGROUP_EINVAL without reading anything the group pointed
 *     to. A never-initialised group is detected by a magic number unless its
 *     bytes happen to hold it (zeroed memory never does).
 *   - Misuse that can only be a bug and would otherwise corrupt memory
 *     (destroying a group with tasks in flight) aborts with a message on
 *     stderr. Everything else returns an error code.
 *
 * This header compiles as C11 and as C++, with or without -fopenmp.
 */
#ifndef ERRGROUP_H
#define ERRGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version --------------------------------------------------------- */

#define ERRGROUP_VERSION_MAJOR 0
#define ERRGROUP_VERSION_MINOR 1
#define ERRGROUP_VERSION_PATCH 0
/* One comparable number: major * 10000 + minor * 100 + patch. */
#define ERRGROUP_VERSION_NUMBER                                                \
    (ERRGROUP_VERSION_MAJOR * 10000 + ERRGROUP_VERSION_MINOR * 100 +            \
     ERRGROUP_VERSION_PATCH)
#define ERRGROUP_VERSION_STRING "0.1.0"

/* ---- Portability ----------------------------------------------------- */

#if defined(_WIN32) && defined(ERRGROUP_SHARED)
#  ifdef ERRGROUP_BUILDING
#    define ERRGROUP_API __declspec(dllexport)
#  else
#    define ERRGROUP_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__)
#  define ERRGROUP_API __attribute__((visibility("default")))
#else
#  define ERRGROUP_API
#endif

#if defined(__GNUC__)
#  define ERRGROUP_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#  define ERRGROUP__UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#  define ERRGROUP_PRINTF(fmt, args)
#  define ERRGROUP__UNLIKELY(x) (x)
#endif

/* ---- Error codes ----------------------------------------------------- */

/*
 * Library error codes: negative, far from the small values that C code
 * habitually returns (-1), so that a user's own negative code is never taken
 * for one of ours. X(name, value, text) generates the enum and
 * errgroup_strerror().
 */
#define ERRGROUP_ERRNO_MAP(X)                                                  \
    X(EINVAL, -4001, "invalid argument")                                       \
    X(ECANCELED, -4002, "group canceled")                                      \
    X(ETIMEDOUT, -4003, "group deadline passed")                               \
    X(EAGAIN, -4004, "group concurrency limit reached")                        \
    X(EBUSY, -4005, "group has tasks in flight")                               \
    X(ENOMEM, -4006, "out of memory")                                          \
    X(ECLOSED, -4007, "group already waited for")                             \
    X(EEXCEPTION, -4008, "task threw an exception")                           \
    X(ECRASHED, -4009, "task crashed")

enum errgroup_errno {
#define ERRGROUP__ENUM(name, value, text) ERRGROUP_##name = (value),
    ERRGROUP_ERRNO_MAP(ERRGROUP__ENUM)
#undef ERRGROUP__ENUM
    ERRGROUP__ERRNO_END_ = 0
};

/* ---- Types ----------------------------------------------------------- */

typedef struct errgroup errgroup;

/*
 * A task body. Returns 0 on success, any other value is an error code that
 * becomes the group's first error unless an earlier one exists.
 */
typedef int errgroup_fn(errgroup *g, void *arg);

/* A loop body over the half-open chunk [lo, hi). Same return convention. */
typedef int errgroup_range_fn(errgroup *g, int64_t lo, int64_t hi, void *arg);

/* Releases the argument of a task: see errgroup_set_release(). */
typedef void errgroup_release_fn(void *arg);

#define ERRGROUP_MESSAGE_MAX 256
#define ERRGROUP_NO_INDEX (-1)

/* The group's first error (or why it was cancelled). */
typedef struct errgroup_error {
    int code;         /* 0 = no error */
    int64_t index;    /* task ordinal / iteration that failed, or ERRGROUP_NO_INDEX */
    char message[ERRGROUP_MESSAGE_MAX]; /* NUL-terminated; may be empty; never garbage */
} errgroup_error;

/* Progress counters: see errgroup_get_counters(). */
typedef struct errgroup_counters {
    int64_t submitted; /* tasks accepted by go/try_go + iterations given to errgroup_for */
    int64_t started;   /* tasks / loop iterations whose body began */
    int64_t finished;  /* tasks / loop iterations whose body returned (success or not) */
    int64_t failed;    /* task or chunk bodies that returned nonzero */
    int64_t skipped;   /* tasks / loop iterations never run because the group was cancelled */
} errgroup_counters;

/* Error-selection modes: see errgroup_set_mode(). */
enum errgroup_mode {
    ERRGROUP_FIRST_ERROR = 0,  /* the fastest failure wins (default) */
    ERRGROUP_LOWEST_INDEX = 1  /* the failure with the lowest index wins */
};

/* Crash modes: see errgroup_set_crash_mode(). */
enum errgroup_crash_mode {
    ERRGROUP_CRASH_OFF = 0,     /* crashes are the program's business (default) */
    ERRGROUP_CRASH_REPORT = 1,  /* name the crashing task on stderr, then die as usual */
    ERRGROUP_CRASH_RECOVER = 2  /* abandon the body; the task fails with ERRGROUP_ECRASHED */
};

struct errgroup_pending_;
struct errgroup_slot_;

/*
 * The group. Allocate it yourself (stack, struct member, heap) and pass it to
 * errgroup_init(). All fields are private: read and change them only through
 * the functions and macros in this header. A group must not be copied or
 * moved while initialised.
 */
struct errgroup {
    /* private, read-mostly: polled by every task start and ERRGROUP_LOOP_CHECK */
    unsigned poll_;                 /* ERRGROUP__POLL_* bits */
    unsigned magic_;                /* set by init, cleared by destroy */
    int mode_;                      /* enum errgroup_mode */
    int limit_;                     /* 0 = no limit */
    int omp_cancel_;                /* ERRGROUP_LOOP_OMP_CANCEL may run `cancel for` */
    int64_t chunk_;                 /* errgroup_for chunk size, 0 = automatic */
    int64_t deadline_ns_;           /* monotonic clock; 0 = none */
    int64_t timeout_ns_;            /* as given to errgroup_set_timeout, for the message */
    int keep_going_;                /* errors do not cancel (errgroup_set_keep_going) */
    int crash_mode_;                /* enum errgroup_crash_mode */
    int log_cap_;                   /* error log capacity, 0 = none */
    struct errgroup *parent_;
    struct errgroup *kids_;         /* first child; kids_, next_kid_, prev_kid_: src/tree.c */
    struct errgroup *next_kid_, *prev_kid_;
    struct errgroup *dl_src_;       /* the ancestor whose deadline comes first, or NULL */
    struct errgroup *pend_next_;    /* see src/tree.c */
    errgroup_release_fn *release_;
    struct errgroup_slot_ *slots_;  /* per-thread progress counters */
    unsigned nslots_;
    unsigned char pad0_[64];        /* private: keeps the hot fields below off poll_'s line */
    /* private, written on the hot path */
    int64_t next_ordinal_;
    int64_t lowest_;                /* lowest recorded index (lowest-index mode) */
    unsigned cause_;                /* why the group stopped (see src/internal.h) */
    int lock_;
    int active_;                    /* bodies running (limit mode) */
    int unfinished_;                /* accepted tasks not yet finished (limit mode) */
    struct errgroup_pending_ *head_, *tail_; /* tasks waiting for a slot (limit mode) */
    int64_t root_owed_;             /* queued tasks errgroup_wait must settle (limit mode) */
    errgroup_error err_;
    errgroup_error *log_;           /* error log: log_cap_ entries (see src/batch.c) */
    int log_len_;
    /* private: a front end's hook (src/hook.h); NULL for a plain group */
    int (*hook_fn_)(struct errgroup *g, int event, void *arg);
    void *hook_arg_;
};

/* Bits of poll_ that force ERRGROUP_LOOP_CHECK into errgroup_canceled_at(). */
#define ERRGROUP__POLL_STOP 1u    /* cancelled: skip everything */
#define ERRGROUP__POLL_ERRORED 2u /* an error was recorded (lowest-index mode: skip above it) */
#define ERRGROUP__POLL_WATCH 4u   /* a deadline (own or an ancestor's) or a hook: must be checked */
#define ERRGROUP__POLL_SLOW 7u

/* ---- Lifetime and configuration -------------------------------------- */

/*
 * errgroup_init - initialise a group.
 * Allocates the per-thread progress counters (the only allocation outside the
 * limit queue).
 * Returns 0, ERRGROUP_EINVAL (g is NULL) or ERRGROUP_ENOMEM.
 * Thread safety: the caller must own g; no other call on g may run concurrently.
 */
ERRGROUP_API int errgroup_init(errgroup *g);

/*
 * errgroup_init_child - initialise a group that is cancelled whenever parent
 * is (by an error in first-error mode, errgroup_cancel, its timeout, or its
 * own parent; in lowest-index mode a parent's error alone is not a
 * cancellation, see errgroup_set_mode). A parent already cancelled at this
 * call cancels the child from the start. The
 * parent's error is not copied: the child's wait returns ERRGROUP_ECANCELED
 * unless the child had its own error first. A stop reaches every descendant
 * when it happens (the stopping call marks the whole subtree before it
 * returns), so checks in a child cost the same at any depth; the parent's
 * deadline is inherited. A parent that is closed (waited) passes nothing on
 * any more. Destroying a parent detaches the children it still has: they
 * become top-level groups, keep their state, and no longer follow it; do
 * that only while no call on them runs.
 * A child is the way to give a task its own sub-group: the task body returns
 * the child's errgroup_wait() result, which then becomes a parent error.
 * Returns 0, ERRGROUP_EINVAL (NULL, parent not initialised, child == parent)
 * or ERRGROUP_ENOMEM.
 * Thread safety: as errgroup_init; parent may be in use concurrently.
 */
ERRGROUP_API int errgroup_init_child(errgroup *child, errgroup *parent);

/*
 * errgroup_destroy - release what errgroup_init allocated. The recorded error
 * is gone afterwards.
 * Returns 0, or ERRGROUP_EINVAL (g is NULL or not initialised, e.g. destroyed
 * twice).
 * Aborts (message on stderr) if tasks accepted by go are still unfinished:
 * freeing the group under running tasks would corrupt memory, so call
 * errgroup_wait first.
 * Thread safety: after wait returned; no other call on g may run concurrently.
 */
ERRGROUP_API int errgroup_destroy(errgroup *g);

/*
 * errgroup_set_limit - at most `limit` task bodies of this group run at the
 * same time (0 = no limit, the default). A go at the limit never blocks: the
 * task is accepted, queued in the group, and started when a running body
 * returns (that task's thread runs it). Queued tasks are started in go order.
 * Queueing allocates (48 bytes a task, no bound: use try_go for
 * backpressure): go may then return ERRGROUP_ENOMEM. Whoever runs a queued
 * task, the run, errgroup_for or wait that submitted it returns only after
 * it finished. A body holding a slot may call run or for on its own group
 * (its thread lends the slot); it must not wait by other means (taskwait)
 * for a task it queued in the same limited group.
 * Returns 0, ERRGROUP_EINVAL (NULL, limit < 0), ERRGROUP_EBUSY (tasks in
 * flight), ERRGROUP_ECLOSED (after wait).
 * Thread safety: configuration: call before the first go, from the owner.
 */
ERRGROUP_API int errgroup_set_limit(errgroup *g, int limit);

/*
 * errgroup_set_timeout - cancel the group once `seconds` have passed from
 * this call (0 removes the timeout). Once the deadline passes the group counts
 * as cancelled (go returns ERRGROUP_ECANCELED, tasks not started are skipped,
 * errgroup_canceled returns 1), and if it passes before wait returns and no
 * other error came first, wait returns ERRGROUP_ETIMEDOUT. The deadline is
 * observed when someone looks (go, task and chunk start, errgroup_canceled,
 * wait); running bodies are never interrupted.
 * Returns 0, ERRGROUP_EINVAL (NULL, seconds < 0 or not finite),
 * ERRGROUP_ECLOSED (after wait).
 * Thread safety: any thread, any time before wait.
 */
ERRGROUP_API int errgroup_set_timeout(errgroup *g, double seconds);

/*
 * errgroup_set_mode - choose which error the group reports.
 * ERRGROUP_FIRST_ERROR (default): the first failure to be recorded wins and
 * cancels the group at once.
 * ERRGROUP_LOWEST_INDEX: the failure with the lowest index wins, whatever the
 * thread count or schedule. An error at index k skips only work above k (task
 * ordinals above k, loop chunks starting above k, ERRGROUP_LOOP_CHECK
 * iterations above k); work below k still runs, and a lower failure found
 * there replaces the error. errgroup_canceled() then reports only real
 * cancellation (errgroup_cancel, timeout, parent); use errgroup_canceled_at()
 * to ask about one index. go returns ERRGROUP_ECANCELED once the task would
 * get an ordinal above the lowest failure (so a submit loop stops there too).
 * Deterministic for loops and for tasks submitted from one thread; ordinals
 * of tasks spawned by tasks depend on the schedule.
 * Returns 0, ERRGROUP_EINVAL (NULL, unknown mode), ERRGROUP_EBUSY (tasks in
 * flight), ERRGROUP_ECLOSED (after wait).
 * Thread safety: configuration: call before the first go, from the owner.
 */
ERRGROUP_API int errgroup_set_mode(errgroup *g, int mode);

/*
 * errgroup_set_chunk - number of iterations errgroup_for hands to one body
 * call (0 = automatic, the default: each thread's chunks start at 1024
 * iterations and double up to about 1/8 of the range per thread, at most
 * 32768). An explicit chunk is used as is: chunks start at begin + k * chunk
 * and are chunk long, except the last. Smaller chunks stop sooner after a
 * failure; larger chunks cost less per iteration.
 * Returns 0, ERRGROUP_EINVAL (NULL, chunk < 0), ERRGROUP_ECLOSED (after wait).
 * Thread safety: configuration: not concurrently with errgroup_for on g.
 */
ERRGROUP_API int errgroup_set_chunk(errgroup *g, int64_t chunk);

/*
 * errgroup_set_release - `release(arg)` is called exactly once for the arg of
 * every task accepted by go/try_go: right after its body returns, or instead
 * of the body when the task is skipped. This is how a task that never ran
 * gives back what it owned (pass free for malloc'ed args). NULL (the default)
 * calls nothing. When go returns an error the task was not accepted and the
 * caller still owns arg.
 * Returns 0, ERRGROUP_EINVAL (NULL group), ERRGROUP_EBUSY (tasks in flight),
 * ERRGROUP_ECLOSED (after wait).
 * Thread safety: configuration: call before the first go, from the owner.
 */
ERRGROUP_API int errgroup_set_release(errgroup *g, errgroup_release_fn *release);

/* ---- Tasks ------------------------------------------------------------ */

/*
 * errgroup_go - run fn(g, arg) as a task of the group.
 * Inside a parallel region (any team size) it creates an OpenMP task;
 * outside any parallel region it runs fn at once in the caller. Which queued
 * task runs first is the runtime's choice. Every accepted task gets an
 * ordinal: 0, 1, 2, ... in the order accepted go calls were made on the group
 * (a go that returns an error uses none). A task body may call go on its own
 * group (nested spawning): the task completes only after its children do.
 * Once the calling thread has used half its stack (a deep chain of nested
 * go), go queues the task instead of starting it, as at a limit, and the
 * run, errgroup_for or wait that submitted it runs it at a shallow depth, so
 * a chain of any depth never overflows the stack (ENOMEM if the 48-byte queue
 * node cannot be allocated).
 * If fn returns nonzero without having called errgroup_fail, the error is
 * recorded with the task's ordinal as index and an empty message.
 * Returns 0 (accepted), ERRGROUP_ECANCELED (the group is cancelled: nothing
 * runs, so a submit loop can stop early), ERRGROUP_EINVAL (NULL g or fn),
 * ERRGROUP_ECLOSED (wait already returned), ERRGROUP_ENOMEM (limit or
 * deep-stack queue).
 * Thread safety: the task that will call errgroup_wait, or any task body of
 * the group; concurrent calls are fine.
 *
 * Example:
 *     #pragma omp parallel
 *     #pragma omp single
 *     {
 *         for (int i = 0; i < n; i++)
 *             if (errgroup_go(&g, process, &items[i]) != 0)
 *                 break;
 *         rc = errgroup_wait(&g);
 *     }
 */
ERRGROUP_API int errgroup_go(errgroup *g, errgroup_fn *fn, void *arg);

/*
 * errgroup_try_go - like errgroup_go, but with a limit set it accepts the
 * task only if fewer than `limit` accepted tasks are unfinished. Without a
 * limit it is errgroup_go.
 * Returns as errgroup_go, plus ERRGROUP_EAGAIN (limit reached; nothing runs,
 * the caller keeps arg). Do not retry it in a loop with `taskyield` alone: at
 * one thread on libgomp, where taskyield does nothing, that spins forever.
 * Thread safety: as errgroup_go.
 */
ERRGROUP_API int errgroup_try_go(errgroup *g, errgroup_fn *fn, void *arg);

/* Dependence kinds for errgroup_go_deps (OpenMP's in, out and inout). */
enum errgroup_dep_kind {
    ERRGROUP_DEP_IN = 1,   /* reads addr: after earlier OUT/INOUT siblings on addr */
    ERRGROUP_DEP_OUT = 2,  /* writes addr: after every earlier sibling on addr */
    ERRGROUP_DEP_INOUT = 3 /* as OUT (OpenMP gives out and inout the same order) */
};

/* One dependence: the storage addr names (never dereferenced) and its kind. */
typedef struct errgroup_dep {
    const void *addr;
    int kind; /* enum errgroup_dep_kind */
} errgroup_dep;

/*
 * errgroup_go_deps - errgroup_go with OpenMP task dependences: the task
 * becomes an OpenMP task with `depend(in: ...)` for each ERRGROUP_DEP_IN
 * entry and `depend(inout: ...)` for each OUT/INOUT entry of deps[0..ndeps).
 * Ordering is OpenMP's sibling ordering: the task starts only after every
 * earlier sibling task (a task created by the same parent task: go_deps
 * calls from the same task or body, and raw `omp task depend` tasks there)
 * that it depends on has completed; tasks created by different parent tasks
 * are not ordered. Everything else is errgroup_go: ordinal, skipping after
 * cancellation, release, counters, attribution, and waiting for tasks the
 * body spawns. A skipped task still completes, so its successors are
 * released (and skipped in turn): cancellation never leaves a graph
 * blocked. Outside a parallel region fn runs at once, which respects any
 * order given by the calls. ndeps == 0 gives a task without dependences.
 * The list is read before go_deps returns; it may be reused at once.
 * With a concurrency limit set (errgroup_set_limit) go_deps is refused,
 * whatever ndeps: a queued task could not carry its dependences, and a task
 * waiting for a slot inside a graph could deadlock it. Bound a graph by its
 * team size instead. For the same reason go_deps never queues a task on a
 * deep stack as go does: a chain of go_deps bodies, each creating the next,
 * nests stacks wherever the runtime runs a child at once, as raw OpenMP
 * tasks do.
 * Note: libgomp 12 never frees the dependence table of a worker thread's
 * implicit task, so dependent tasks (go_deps or raw) created directly in a
 * `single` that a worker runs leak 100-800 bytes per parallel region
 * (LeakSanitizer reports it). Build graphs under `master`/`masked` or inside
 * an explicit task; errgroup_run does so itself.
 * Returns as errgroup_go, plus ERRGROUP_EINVAL (ndeps < 0, deps NULL with
 * ndeps > 0, an addr NULL, an unknown kind, or a limit set; nothing runs)
 * and ERRGROUP_ENOMEM (more than 32 dependences and no memory for the list).
 * Thread safety: as errgroup_go.
 *
 * Example (a chain: each task reads the previous one's output):
 *     for (int i = 1; i < n; i++) {
 *         errgroup_dep d[2] = {{&x[i - 1], ERRGROUP_DEP_IN},
 *                              {&x[i], ERRGROUP_DEP_OUT}};
 *         if (errgroup_go_deps(&g, step, &x[i], d, 2) != 0)
 *             break;
 *     }
 *     rc = errgroup_wait(&g);
 */
ERRGROUP_API int errgroup_go_deps(errgroup *g, errgroup_fn *fn, void *arg,
                                  const errgroup_dep *deps, int ndeps);

/*
 * errgroup_wait - wait for every task of the group, including tasks spawned by
 * tasks, then return the first error code: 0, a user code, or
 * ERRGROUP_ECANCELED (errgroup_cancel or a cancelled parent) or
 * ERRGROUP_ETIMEDOUT (deadline). The details are in errgroup_first_error().
 * Afterwards the group is closed: go, try_go, run, for, the setters and a
 * second wait return ERRGROUP_ECLOSED, and the outcome is frozen (a later
 * errgroup_fail, errgroup_cancel, deadline or parent stop changes nothing,
 * errgroup_canceled included); it stays readable until destroy.
 * Returns the code above, ERRGROUP_EINVAL (NULL or not initialised),
 * ERRGROUP_ECLOSED (second wait).
 * Thread safety: exactly the task that made the group's top-level go calls
 * (OpenMP has no task identity to check this), once.
 */
ERRGROUP_API int errgroup_wait(errgroup *g);

/*
 * errgroup_run - the one-call form: opens a parallel region (or, inside one,
 * uses the calling task), calls body(g, arg) once on one thread, waits for
 * every task the body spawned, and returns the group's first error. A body
 * that returns nonzero without errgroup_fail is recorded with
 * ERRGROUP_NO_INDEX. The body itself is not a task of the group: it takes no
 * ordinal and no limit slot, is not counted, and its arg is not given to the
 * release function. The group stays open: run and errgroup_for may be used
 * again; the first error is sticky for the group's life.
 * Returns as errgroup_wait, plus ERRGROUP_EINVAL (NULL body).
 * Thread safety: any thread or task.
 *
 * Example:
 *     static int submit(errgroup *g, void *arg) {
 *         struct job *jobs = arg;
 *         for (int i = 0; i < NJOBS; i++)
 *             if (errgroup_go(g, do_job, &jobs[i]) != 0)
 *                 break;
 *         return 0;
 *     }
 *     rc = errgroup_run(&g, submit, jobs);
 */
ERRGROUP_API int errgroup_run(errgroup *g, errgroup_fn *body, void *arg);

/* ---- Loops ------------------------------------------------------------ */

/*
 * errgroup_for - run body over [begin, end) in chunks, in parallel, stopping
 * at the first error. Each of the W threads starts in its own part of the
 * range (thread k at k / W of it, rounded to a chunk), runs chunks from its
 * front and, when its part is done, takes the back half of another thread's;
 * once the group is cancelled (by this loop, another task, a timeout,
 * errgroup_cancel or a parent) no new chunk starts. Outside a parallel region it opens one;
 * inside one it may be called by a single thread or task (it spawns its own
 * tasks and waits for them). A body reports the failing iteration with
 * `return errgroup_fail(g, code, i, ...)`; a body that returns nonzero without
 * it is recorded with its chunk's first index.
 * Returns the group's first error (0 if none; sticky, like run),
 * ERRGROUP_EINVAL (NULL g or body, begin > end), ERRGROUP_ECLOSED (after
 * wait). begin == end runs nothing. The range may span all of int64_t.
 * Counters count iterations. Note: iteration -1 equals ERRGROUP_NO_INDEX.
 * Thread safety: any thread or task; concurrent calls on one group are fine.
 *
 * Example:
 *     static int check(errgroup *g, int64_t lo, int64_t hi, void *arg) {
 *         const double *x = arg;
 *         for (int64_t i = lo; i < hi; i++)
 *             if (isnan(x[i]))
 *                 return errgroup_fail(g, EDOM, i, "x[%lld] is NaN", (long long)i);
 *         return 0;
 *     }
 *     rc = errgroup_for(&g, 0, n, check, x);
 */
ERRGROUP_API int errgroup_for(errgroup *g, int64_t begin, int64_t end,
                              errgroup_range_fn *body, void *arg);

/* ---- Errors and cancellation ------------------------------------------ */

/*
 * errgroup_fail - record an error with its index and a printf-style message
 * (truncated to ERRGROUP_MESSAGE_MAX - 1 bytes; fmt may be NULL for none).
 * The error wins if it is the group's first (or, in lowest-index mode, the
 * lowest so far); it is stored before the group is marked cancelled, so an
 * error caused by the cancellation itself can never win. Whether it wins or
 * not, by the time it returns the group is marked cancelled (in lowest-index
 * mode: everything above the lowest failure counts as skipped; with
 * errgroup_set_keep_going: nothing is cancelled or skipped), so the
 * caller's next errgroup_canceled() or ERRGROUP_LOOP_CHECK sees it. Call it
 * from the body that fails (on the body's own thread), and return its result.
 * Returns code (so `return errgroup_fail(...)` works), or ERRGROUP_EINVAL
 * (NULL g, or code == 0: nothing is recorded).
 * Thread safety: any thread, any time.
 */
ERRGROUP_API int errgroup_fail(errgroup *g, int code, int64_t index,
                               const char *fmt, ...) ERRGROUP_PRINTF(4, 5);

/*
 * errgroup_fail_str - errgroup_fail with a plain message instead of a format,
 * for callers that cannot call a variadic function (Fortran, other foreign
 * front ends) or that already hold the text. The message is copied
 * (truncated to ERRGROUP_MESSAGE_MAX - 1 bytes); NULL means none.
 * Everything else, the return value and the errors included, is as
 * errgroup_fail.
 * Returns code, or ERRGROUP_EINVAL (NULL g, or code == 0: nothing is
 * recorded).
 * Thread safety: any thread, any time.
 */
ERRGROUP_API int errgroup_fail_str(errgroup *g, int code, int64_t index, const char *message);

/*
 * errgroup_current_index - the index the group gives the body of g that the
 * calling thread is running: the task's ordinal for a go/try_go task, the
 * chunk's first index in an errgroup_for body, ERRGROUP_NO_INDEX in a run
 * body, or when the thread is not inside a body of g (g NULL included). This
 * is the index a nonzero return is recorded with, so a body (or a front end
 * catching an exception in it) can fail with its own index and a message.
 * Thread safety: any thread; it reads only the calling thread's own state.
 */
ERRGROUP_API int64_t errgroup_current_index(const errgroup *g);

/*
 * errgroup_cancel - cancel the group without an error (Ctrl-C, a search that
 * found its answer). wait then returns ERRGROUP_ECANCELED unless an error came
 * first. Running bodies are not interrupted.
 * Child groups are marked cancelled before it returns.
 * Returns 0, ERRGROUP_EINVAL (NULL or destroyed).
 * Thread safety: any thread, any time, and async-signal-safe (atomics, and
 * for a group with children a spin on the process's tree lock; a handler
 * that interrupted this thread inside init_child, destroy or set_timeout
 * leaves the children to be marked when that call returns).
 */
ERRGROUP_API int errgroup_cancel(errgroup *g);

/*
 * errgroup_canceled - 1 if the group is cancelled (error, errgroup_cancel,
 * deadline passed, cancelled parent), 0 if not. In lowest-index mode an error
 * alone does not count: see errgroup_canceled_at. Costs one relaxed load while
 * nothing happened and no deadline (the group's own or an ancestor's) is set,
 * whatever the depth of child groups; with a deadline, a clock read or two.
 * Cheap enough to poll in a hot loop.
 * Returns 1, 0, or ERRGROUP_EINVAL (NULL or destroyed; nonzero, so a polling
 * loop stops).
 * Thread safety: any thread, any time.
 */
ERRGROUP_API int errgroup_canceled(errgroup *g);

/*
 * errgroup_canceled_at - whether work item `index` should be skipped:
 * 0 = run it; 1 = skip it (lowest-index mode: a lower index already failed);
 * 2 = the whole group is cancelled. In first-error mode this is
 * 2 * errgroup_canceled(g).
 * Returns 0, 1, 2, or ERRGROUP_EINVAL (NULL or destroyed).
 * Thread safety: any thread, any time.
 */
ERRGROUP_API int errgroup_canceled_at(errgroup *g, int64_t index);

/*
 * errgroup_first_error - copy the group's error into *out. Without an error
 * *out is {0, ERRGROUP_NO_INDEX, ""}. After errgroup_cancel, a cancelled parent
 * or a deadline it holds ERRGROUP_ECANCELED / ERRGROUP_ETIMEDOUT with a message
 * saying which. While tasks run it returns the error recorded so far.
 * Returns 0, ERRGROUP_EINVAL (NULL g or out, or g not initialised).
 * Thread safety: any thread, any time (not from a signal handler).
 */
ERRGROUP_API int errgroup_first_error(const errgroup *g, errgroup_error *out);

/*
 * errgroup_get_counters - progress so far. Each field is monotonic and cheap
 * to read at any time (one relaxed load per thread slot); the fields are read
 * one after another, so while work runs they need not add up. After wait:
 * submitted == finished + skipped and started == finished. A count beyond
 * INT64_MAX (only a loop over most of int64_t) reads as INT64_MAX.
 * ERRGROUP_LOOP_CHECK loops are not counted (their check stays one load).
 * Returns 0, ERRGROUP_EINVAL (NULL g or out, or g not initialised).
 * Thread safety: any thread, any time.
 */
ERRGROUP_API int errgroup_get_counters(const errgroup *g, errgroup_counters *out);

/*
 * errgroup_strerror - text for a code: a library code's description, the C
 * library's strerror() text for a positive code, "success" for 0, and
 * "unknown error" otherwise. Never NULL.
 * Thread safety: any thread.
 */
ERRGROUP_API const char *errgroup_strerror(int code);

/*
 * errgroup_sizeof - sizeof(errgroup) in the built library, for front ends
 * that reserve the group's storage without seeing this header (the Fortran
 * module checks its opaque type against it in errgroup_init). The storage
 * must also be aligned to 8 bytes.
 * Returns the size in bytes; never fails.
 * Thread safety: any thread.
 */
ERRGROUP_API size_t errgroup_sizeof(void);

/* Runtime version: ERRGROUP_VERSION_NUMBER and _STRING of the built library. */
ERRGROUP_API unsigned errgroup_version(void);
ERRGROUP_API const char *errgroup_version_string(void);

/* ---- Batch jobs: keep going, error log, crashes, progress -------------- */

/*
 * errgroup_set_keep_going - with on != 0, an error is recorded (first-error
 * or lowest-index selection as set with errgroup_set_mode) but does not
 * cancel the group: every accepted task and every loop chunk runs, go keeps
 * accepting, errgroup_canceled() stays 0 and ERRGROUP_LOOP_CHECK skips
 * nothing because of an error; wait returns the selected error.
 * errgroup_cancel, the timeout and a cancelled parent still cancel. A child
 * of a keep-going group is not cancelled by the parent's errors (they do not
 * cancel the parent). Default off.
 * Returns 0, ERRGROUP_EINVAL (NULL or not initialised), ERRGROUP_EBUSY
 * (tasks in flight), ERRGROUP_ECLOSED (after wait).
 * Thread safety: configuration: call before the first go, from the owner.
 */
ERRGROUP_API int errgroup_set_keep_going(errgroup *g, int on);

/*
 * errgroup_set_error_log - keep up to `capacity` errors with code, index and
 * message (0, the default: only the selected error, see errgroup_first_error).
 * In first-error mode the log keeps the first `capacity` errors recorded; in
 * lowest-index mode the `capacity` lowest (index, code) pairs. Every error a
 * body reports (errgroup_fail, or a nonzero return) is offered to the log,
 * including those that lose the first-error race and those recorded after
 * the group was cancelled; counters.failed still counts every failing body.
 * The log is one array allocated here (capacity * sizeof(errgroup_error));
 * recording never allocates and costs O(log capacity) under the group's lock.
 * Setting it again replaces the log (its contents are dropped); 0 frees it.
 * It is freed by errgroup_destroy.
 * Returns 0, ERRGROUP_EINVAL (NULL, not initialised, capacity < 0),
 * ERRGROUP_ENOMEM (the array), ERRGROUP_EBUSY (tasks in flight),
 * ERRGROUP_ECLOSED (after wait).
 * Thread safety: configuration: call before the first go, from the owner.
 */
ERRGROUP_API int errgroup_set_error_log(errgroup *g, int capacity);

/*
 * errgroup_get_errors - copy up to n logged errors into out, sorted by index
 * (ties: by code), lowest first. The report is the same for every thread
 * count and schedule whenever the set of failures is (in first-error mode
 * with more failures than the capacity, which ones were kept is not).
 * Returns the number copied (0..n), or ERRGROUP_EINVAL (NULL g, NULL out with
 * n > 0, n < 0, g not initialised).
 * Thread safety: any thread, any time (not from a signal handler); while
 * tasks run it returns what was logged so far.
 */
ERRGROUP_API int errgroup_get_errors(const errgroup *g, errgroup_error *out, int n);

/*
 * errgroup_set_crash_mode - what happens when a body of this group crashes
 * with SIGSEGV, SIGBUS, SIGFPE or SIGILL raised synchronously by its own
 * code (signals sent with kill or raise are not crashes).
 * ERRGROUP_CRASH_OFF (default): nothing; the program's handlers apply.
 * ERRGROUP_CRASH_REPORT: one report is written to stderr (write(2) only)
 * naming the task ordinal or loop chunk [lo, hi), the signal and the faulting
 * address, followed by a backtrace; then the default action proceeds (the
 * process dies by that signal, dumping core where enabled).
 * ERRGROUP_CRASH_RECOVER: the body is abandoned by siglongjmp, the task or
 * chunk ends with ERRGROUP_ECRASHED (index: the ordinal or the chunk's first
 * index; message "signal 11 (SIGSEGV) at address 0x..."), the group treats it
 * as any error, and the process goes on. What it cannot promise: the
 * abandoned body's locks stay locked and its memory stays allocated; a crash
 * inside malloc, stdio or another library leaves that library's state
 * corrupt (a later call may deadlock or crash); a crash inside an OpenMP
 * construct the body opened itself (its own parallel region or raw omp task)
 * is undefined: on the thread of an enclosing body of the group the jump
 * crosses the runtime's frames, which leaves the runtime inconsistent (expect
 * a hang); on a thread with no body of a crash-mode group the program's own
 * handler runs. Use it for crashes in the body's own compute code.
 * Only the innermost group body on a thread counts: a crash in the body of a
 * child group without a crash mode is not caught by its parent's mode. The
 * errgroup_run body and the release function are not covered.
 * The handlers (on a per-thread alternate signal stack of 64 KiB, made once
 * per thread that runs such a body unless it has one, so that a stack
 * overflow can be reported too) are installed when the first group sets a
 * mode and the previous ones are restored when no group has a mode any more
 * (errgroup_destroy or a set to OFF); a crash-like signal outside any such
 * body is passed to the handler that was installed before. Install your own
 * handlers for these signals before setting a mode, not while one is set.
 * Cost per body: OFF one load; REPORT a few ns; RECOVER also a sigsetjmp
 * without the signal mask (no system call). Measured in bench/bench_crash.c.
 * Returns 0, ERRGROUP_EINVAL (NULL, not initialised, unknown mode),
 * ERRGROUP_ENOMEM (the alternate stack), ERRGROUP_EBUSY (tasks in flight),
 * ERRGROUP_ECLOSED (after wait).
 * Thread safety: configuration: call before the first go, from the owner.
 */
ERRGROUP_API int errgroup_set_crash_mode(errgroup *g, int mode);

/*
 * errgroup_progress_format - one progress line for g into buf (at most n
 * bytes, NUL-terminated, truncated if needed), e.g.
 *     "7500/10000 done (75.0%), 3 failed, 1250.0/s, ETA 2s"
 * done = finished + skipped; total <= 0 means "what was submitted so far";
 * elapsed_s is the time since the work started (the rate and the ETA are
 * left out when it is <= 0 or nothing is done yet). Reads the counters only:
 * costs the task path nothing.
 * Returns the length of the full line (as snprintf), ERRGROUP_EINVAL (NULL g,
 * NULL buf with n > 0, g not initialised).
 * Thread safety: any thread, any time.
 */
ERRGROUP_API int errgroup_progress_format(const errgroup *g, char *buf, size_t n,
                                          int64_t total, double elapsed_s);

/*
 * A progress monitor: a thread of the library that prints
 * errgroup_progress_format lines for one group while it runs. On a terminal
 * it redraws one line (carriage return) about 5 times a second; into a file
 * or pipe it writes a plain line every interval_s seconds (default 5). Fields
 * are private.
 */
typedef struct errgroup_progress {
    const errgroup *g_;
    FILE *out_;
    int64_t total_;
    int64_t start_ns_;
    double interval_s_;
    int tty_;
    int stop_;
    uint64_t thread_[2]; /* pthread_t */
} errgroup_progress;

/*
 * errgroup_progress_start - start printing progress of g to out (usually
 * stderr) until errgroup_progress_stop. total as for
 * errgroup_progress_format; interval_s <= 0 means 5 seconds (used for
 * files and pipes only).
 * Returns 0, ERRGROUP_EINVAL (NULL p, g or out, g not initialised),
 * ERRGROUP_ENOMEM (no thread could be created).
 * Thread safety: the caller owns p, which must stay in place (not be moved or
 * freed) until errgroup_progress_stop; g may be in use, and must outlive the
 * monitor.
 *
 * Example:
 *     errgroup_progress p;
 *     errgroup_progress_start(&p, &g, stderr, nfiles, 0);
 *     rc = errgroup_for(&g, 0, nfiles, parse, files);
 *     errgroup_progress_stop(&p);
 */
ERRGROUP_API int errgroup_progress_start(errgroup_progress *p, const errgroup *g, FILE *out,
                                         int64_t total, double interval_s);

/*
 * errgroup_progress_stop - print the final line (ending it with a newline)
 * and stop the monitor thread; returns after it has exited (within about
 * 50 ms). Call it before errgroup_destroy.
 * Returns 0, ERRGROUP_EINVAL (NULL p or not started).
 * Thread safety: the caller of errgroup_progress_start.
 */
ERRGROUP_API int errgroup_progress_stop(errgroup_progress *p);

/* ---- Annotating an existing `omp for` loop ----------------------------- */

/*
 * Make an existing `#pragma omp parallel for` / `omp for` loop error-aware:
 *
 *     errgroup g;
 *     errgroup_init(&g);
 *     #pragma omp parallel for schedule(dynamic, 256)
 *     for (int64_t i = 0; i < n; i++) {
 *         ERRGROUP_LOOP_CHECK(&g, i);
 *         if (newton(&cell[i]) != 0)
 *             ERRGROUP_LOOP_FAIL(&g, EDOM, i, "cell %lld did not converge", (long long)i);
 *     }
 *     rc = errgroup_wait(&g);
 *
 * ERRGROUP_LOOP_CHECK(g, i) skips iteration i once the group is cancelled (or,
 * in lowest-index mode, once a lower index failed). Its cost while nothing
 * failed is one relaxed load and a predicted branch; with a timeout or a
 * parent group set it also calls errgroup_canceled_at() (a clock read).
 * ERRGROUP_LOOP_FAIL(g, code, i, fmt, ...) records the error (errgroup_fail)
 * and skips the rest of the iteration. After a failure each thread skips its
 * remaining iterations at the cost of one check each. Without -fopenmp the
 * loop is serial and both macros `break` out of it once the group is
 * cancelled.
 *
 * OpenMP cancellation is opt-in: define ERRGROUP_LOOP_OMP_CANCEL before
 * including this header and, once the group is cancelled (never merely
 * because of an error in lowest-index mode), the macros also execute
 * `#pragma omp cancel for`, so that with OMP_CANCELLATION=true threads leave
 * the loop at once. It is off by default because both runtimes mishandle it:
 * gcc 12 warns "'cancel for' inside 'nowait' for construct" on a combined
 * `parallel for` (the cancel still works, but no -W option silences the
 * warning, so -Werror builds fail: write `omp parallel` + `omp for`), and
 * LLVM's libomp 14 breaks the next worksharing loop after a cancelled dynamic
 * or guided loop (it silently skips iterations, hangs, or fails an internal
 * assertion). The library therefore executes the cancel
 * only when the runtime is libgomp; with libomp the macros fall back to
 * skipping. Measured in bench/bench_loop.c.
 *
 * Rules: use them directly in the body of a worksharing loop (with the
 * opt-in: one without `nowait` or `ordered`, where OpenMP forbids `cancel
 * for`); in other loops write `if (errgroup_canceled_at(g, i)) continue;`.
 * Each expands to one `if` statement without `else`, containing `continue`:
 * do not follow the macro with an `else` (put braces around the `if` it sits
 * in), and do not wrap it in another loop or a switch. `g` and `i` may be
 * evaluated more than once. After a failure the values of reduction and
 * lastprivate variables are unspecified (skipped iterations contribute
 * nothing).
 */
#if defined(_OPENMP) && defined(ERRGROUP_LOOP_OMP_CANCEL)
#  define ERRGROUP__LOOP_STOP(g)                                               \
    if ((g)->omp_cancel_) {                                                    \
        _Pragma("omp cancel for")                                              \
    }                                                                          \
    continue;
#elif defined(_OPENMP)
#  define ERRGROUP__LOOP_STOP(g) continue;
#else
#  define ERRGROUP__LOOP_STOP(g) break;
#endif

#define ERRGROUP_LOOP_CHECK(g, i)                                              \
    if (ERRGROUP__UNLIKELY(errgroup__poll(g) != 0)) {                          \
        int errgroup__skip_ = errgroup__skip_at((g), (int64_t)(i));            \
        if (errgroup__skip_ == 2) {                                            \
            ERRGROUP__LOOP_STOP(g)                                             \
        }                                                                      \
        if (errgroup__skip_ != 0)                                              \
            continue;                                                          \
    }

#define ERRGROUP_LOOP_FAIL(g, code, i, ...)                                    \
    if (((void)errgroup_fail((g), (code), (int64_t)(i), __VA_ARGS__), 1)) {    \
        if (errgroup_canceled_at((g), (int64_t)(i)) == 2) {                    \
            ERRGROUP__LOOP_STOP(g)                                             \
        }                                                                      \
        continue;                                                              \
    }

/* Private: the inline half of ERRGROUP_LOOP_CHECK. A relaxed load suffices:
 * the flag only decides whether to look closer; errgroup_canceled_at() does
 * the ordered reads. */
static inline unsigned errgroup__poll(errgroup *g)
{
#if defined(__GNUC__)
    return __atomic_load_n(&g->poll_, __ATOMIC_RELAXED) & ERRGROUP__POLL_SLOW;
#else
    (void)g;
    return ERRGROUP__POLL_SLOW; /* no inline atomics: always ask the library */
#endif
}

/* Private: errgroup_canceled_at() without a call once the group is stopped,
 * so that skipping the rest of a cancelled loop costs a load per iteration. */
static inline int errgroup__skip_at(errgroup *g, int64_t i)
{
    return (errgroup__poll(g) & ERRGROUP__POLL_STOP) ? 2 : errgroup_canceled_at(g, i);
}

/* ---- Annotating an existing `omp task depend` graph ------------------- */

/*
 * Make an existing graph of raw OpenMP tasks error-aware without rewriting
 * it into callbacks:
 *
 *     errgroup g;
 *     errgroup_init(&g);
 *     #pragma omp parallel
 *     #pragma omp master
 *     {
 *         for (int k = 0; k < nt; k++) {
 *             #pragma omp task depend(inout: A[k][k])
 *             ERRGROUP_TASK_BODY(&g, k) {
 *                 int info = potrf(A[k][k]);
 *                 if (info != 0)
 *                     ERRGROUP_TASK_FAIL(&g, EDOM, k * nb + info - 1,
 *                                        "not positive definite");
 *                 ... more of the body, skipped after a failure ...
 *             }
 *             ... trsm, syrk, gemm tasks, each with ERRGROUP_TASK_BODY ...
 *         }
 *         rc = errgroup_wait(&g);
 *     }
 *
 * ERRGROUP_TASK_BODY(g, i) { ... } runs the block unless
 * errgroup_canceled_at(g, i) says skip (the group is cancelled or, in
 * lowest-index mode, an index below i failed; pass ERRGROUP_NO_INDEX to skip
 * only on cancellation). Put it first in the task's structured block: the
 * task itself still runs and completes, so its dependences are released and
 * its successors run their own check and skip as well; cancellation never
 * leaves the graph blocked, and it does not depend on OMP_CANCELLATION. The
 * check costs one relaxed load and a predicted branch while nothing failed
 * (with a timeout or parent also a clock read).
 * ERRGROUP_TASK_FAIL(g, code, i, fmt, ...) records the error (errgroup_fail)
 * and leaves the block. Both compile to plain C without OpenMP.
 *
 * Rules: ERRGROUP_TASK_BODY expands to a `for` statement that runs its block
 * at most once, so `break` (and ERRGROUP_TASK_FAIL, which uses it) leaves
 * the block; use ERRGROUP_TASK_FAIL directly in that block, not inside a
 * loop or switch of its own (there call errgroup_fail and leave by your own
 * means). ERRGROUP_TASK_FAIL is one `if` statement without `else`: do not
 * follow it with an `else`. `g` and `i` may be evaluated more than once.
 * Raw tasks are not tasks of the group: they take no ordinal and are not
 * counted or released.
 *
 * Waiting rule. errgroup_wait begins with a `taskwait`, so it waits for the
 * raw tasks that the calling task created itself (in the example: every
 * task of the graph), not for tasks those tasks created. Tasks deeper down,
 * or created by other tasks or threads, must be finished by OpenMP first:
 * end a `#pragma omp taskgroup` around them (it waits for all descendants)
 * or the parallel region (its barrier), then call errgroup_wait. Called with
 * no go at all, errgroup_wait returns the group's outcome: 0, the error
 * recorded by errgroup_fail (the first, or the lowest index), or
 * ERRGROUP_ECANCELED / ERRGROUP_ETIMEDOUT; then the group is closed as after
 * any wait. Raw tasks and errgroup_go_deps tasks created by the same parent
 * task are siblings: their dependences order them against each other.
 */
#define ERRGROUP_TASK_BODY(g, i)                                               \
    for (int errgroup__task_run_ = errgroup__task_runs((g), (int64_t)(i));     \
         errgroup__task_run_; errgroup__task_run_ = 0)

#define ERRGROUP_TASK_FAIL(g, code, i, ...)                                    \
    if (((void)errgroup_fail((g), (code), (int64_t)(i), __VA_ARGS__), 1))      \
        break;

/* Private: the check of ERRGROUP_TASK_BODY (1 = run the body). */
static inline int errgroup__task_runs(errgroup *g, int64_t i)
{
    return ERRGROUP__UNLIKELY(errgroup__poll(g) != 0) ? errgroup__skip_at(g, i) == 0 : 1;
}

#ifdef __cplusplus
}
#endif

#endif /* ERRGROUP_H */
