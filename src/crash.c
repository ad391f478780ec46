/*
 * Crash modes: SIGSEGV, SIGBUS, SIGFPE and SIGILL inside a group body.
 *
 * Signal handlers are process-wide, groups are not. The handler therefore
 * looks at the faulting thread's innermost frame (errgroup__frame_top, an
 * initial-exec TLS read: async-signal-safe): if that body runs under a crash
 * mode, its guard says which task or chunk it is and, for RECOVER, where to
 * jump back to. Anything else is passed to the handler that was installed
 * before ours.
 *
 * The handlers are installed when the first group sets a mode and the old
 * ones are restored when the last such group lets go (refcount under a
 * mutex). They run with SA_NODEFER, so that a recovered thread can crash and
 * recover again without restoring a signal mask (sigsetjmp(.., 0) is then
 * enough: no system call per body), and SA_ONSTACK on a per-thread alternate
 * stack, so that a stack overflow is reported too.
 */
#define _GNU_SOURCE /* sigaltstack, SA_ONSTACK */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__has_include)
#  if __has_include(<execinfo.h>)
#    include <execinfo.h>
#    define EG_HAVE_BACKTRACE 1
#  endif
#endif

static const int eg_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
#define EG_NSIG ((int)(sizeof eg_signals / sizeof eg_signals[0]))

/* Process-wide handler state (not error state): the handlers we replaced and
 * how many groups have a crash mode. Guarded by eg_mutex; the handler only
 * reads eg_old, which is written before our handler is installed and not
 * changed while it is. */
static pthread_mutex_t eg_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction eg_old[EG_NSIG];
static int eg_refs;

#define EG_ALTSTACK_SIZE (64 * 1024)

/* Set once per thread: this thread has an alternate signal stack (its own
 * one, or ours, which lives as long as the thread and is never freed).
 * Initial-exec, like the frame stack: read once per guarded body, so it
 * must not cost a __tls_get_addr call in the shared library. */
static _Thread_local int eg_altstack_ready __attribute__((tls_model("initial-exec")));

static int eg_altstack(void)
{
    if (eg_altstack_ready)
        return 0;
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE)) {
        eg_altstack_ready = 1; /* the program's own: keep it */
        return 0;
    }
    stack_t st = {.ss_sp = malloc(EG_ALTSTACK_SIZE), .ss_size = EG_ALTSTACK_SIZE, .ss_flags = 0};
    if (st.ss_sp == NULL)
        return ERRGROUP_ENOMEM;
    if (sigaltstack(&st, NULL) != 0) {
        free(st.ss_sp);
        return ERRGROUP_ENOMEM;
    }
    eg_altstack_ready = 1;
    return 0;
}

static int eg_sig_slot(int sig)
{
    for (int i = 0; i < EG_NSIG; i++)
        if (eg_signals[i] == sig)
            return i;
    return 0;
}

static const char *eg_sig_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    default: return "signal";
    }
}

/* ---- Async-signal-safe output ------------------------------------------ */

struct eg_out {
    char buf[256];
    size_t len;
};

static void eg_put(struct eg_out *o, const char *s)
{
    while (*s != '\0' && o->len < sizeof o->buf)
        o->buf[o->len++] = *s++;
}

static void eg_put_int(struct eg_out *o, int64_t v)
{
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        tmp[n++] = '-';
    while (n > 0 && o->len < sizeof o->buf)
        o->buf[o->len++] = tmp[--n];
}

static void eg_put_hex(struct eg_out *o, uintptr_t v)
{
    char tmp[2 * sizeof v];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v % 16];
        v /= 16;
    } while (v != 0);
    eg_put(o, "0x");
    while (n > 0 && o->len < sizeof o->buf)
        o->buf[o->len++] = tmp[--n];
}

static void eg_write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void eg_report(const struct eg_guard *gd, int sig, void *addr)
{
    struct eg_out o = {.len = 0};
    if (gd->is_task) {
        eg_put(&o, "errgroup: task ");
        eg_put_int(&o, gd->lo);
    } else {
        eg_put(&o, "errgroup: loop chunk [");
        eg_put_int(&o, gd->lo);
        eg_put(&o, ", ");
        eg_put_int(&o, gd->hi);
        eg_put(&o, ")");
    }
    eg_put(&o, " crashed: signal ");
    eg_put_int(&o, sig);
    eg_put(&o, " (");
    eg_put(&o, eg_sig_name(sig));
    eg_put(&o, ") at address ");
    eg_put_hex(&o, (uintptr_t)addr);
    eg_put(&o, "\n");
    eg_write_all(o.buf, o.len);
#ifdef EG_HAVE_BACKTRACE
    void *frames[64];
    int n = backtrace(frames, 64); /* loaded at install time: no allocation here */
    eg_write_all("errgroup: backtrace:\n", 21);
    backtrace_symbols_fd(frames, n, STDERR_FILENO);
#endif
}

/* ---- The handler -------------------------------------------------------- */

static void eg_set_default(int sig)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
}

/* Not ours: do what the previous handler would have done. */
static void eg_chain(int sig, siginfo_t *si, void *uc)
{
    const struct sigaction *old = &eg_old[eg_sig_slot(sig)];
    if (old->sa_flags & SA_SIGINFO) {
        old->sa_sigaction(sig, si, uc);
    } else if (old->sa_handler == SIG_IGN) {
        return;
    } else if (old->sa_handler == SIG_DFL) {
        /* A fault re-executes and dies by the default action (core dump
         * kept); a sent signal is sent again, unblocked (SA_NODEFER). */
        eg_set_default(sig);
        if (si == NULL || si->si_code <= 0)
            raise(sig);
    } else {
        old->sa_handler(sig);
    }
}

static void eg_handler(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    struct eg_frame *f = errgroup__frame_top;
    struct eg_guard *gd = f != NULL ? f->guard : NULL;
    /* si_code > 0: raised by the kernel for this thread's own instruction;
     * kill, raise and sigqueue give <= 0 and are not crashes. */
    if (gd == NULL || si == NULL || si->si_code <= 0) {
        eg_chain(sig, si, uc);
        errno = saved;
        return;
    }
    if (gd->mode == ERRGROUP_CRASH_RECOVER) {
        gd->sig = sig;
        gd->addr = si->si_addr;
        f->guard = NULL;
        siglongjmp(gd->jump, 1);
    }
    eg_report(gd, sig, si->si_addr);
    /* Returning re-executes the faulting instruction under the default
     * action: the process dies by this signal, with its core dump. */
    eg_set_default(sig);
    errno = saved;
}

/* ---- Installing --------------------------------------------------------- */

static int eg_acquire(void)
{
    int rc = eg_altstack(); /* the configuring thread at least (ENOMEM here) */
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&eg_mutex);
    if (eg_refs++ == 0) {
#ifdef EG_HAVE_BACKTRACE
        void *warm[1];
        backtrace(warm, 1); /* loads the unwinder now, not in the handler */
#endif
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = eg_handler;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        for (int i = 0; i < EG_NSIG; i++)
            sigaction(eg_signals[i], &sa, &eg_old[i]);
    }
    pthread_mutex_unlock(&eg_mutex);
    return 0;
}

static void eg_release(void)
{
    pthread_mutex_lock(&eg_mutex);
    if (--eg_refs == 0)
        for (int i = 0; i < EG_NSIG; i++)
            sigaction(eg_signals[i], &eg_old[i], NULL);
    pthread_mutex_unlock(&eg_mutex);
}

int errgroup_set_crash_mode(errgroup *g, int mode)
{
    if (g != NULL && mode != ERRGROUP_CRASH_OFF && mode != ERRGROUP_CRASH_REPORT &&
        mode != ERRGROUP_CRASH_RECOVER)
        return ERRGROUP_EINVAL;
    int rc = errgroup__check_config(g);
    if (rc != 0)
        return rc;
    if (mode != ERRGROUP_CRASH_OFF && g->crash_mode_ == ERRGROUP_CRASH_OFF) {
        rc = eg_acquire();
        if (rc != 0)
            return rc;
    } else if (mode == ERRGROUP_CRASH_OFF && g->crash_mode_ != ERRGROUP_CRASH_OFF) {
        eg_release();
    }
    g->crash_mode_ = mode;
    return 0;
}

void errgroup__crash_release(errgroup *g)
{
    if (g->crash_mode_ != ERRGROUP_CRASH_OFF) {
        g->crash_mode_ = ERRGROUP_CRASH_OFF;
        eg_release();
    }
}

/* ---- Running a body under a guard --------------------------------------- */

/* The body was abandoned: record it as the task's error. */
static int eg_crashed(errgroup *g, struct eg_frame *f, const struct eg_guard *gd)
{
    errgroup__frame_top = f; /* the handler jumped from the innermost frame, which is f */
    f->failed = 1;
    int sig = gd->sig;
    /* SA_NODEFER should have left the signal unblocked, but an interposed
     * handler (ThreadSanitizer's) may block it around ours: unblock it here,
     * on the crash path only, or the next crash of this thread would kill
     * the process. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    char msg[ERRGROUP_MESSAGE_MAX];
    snprintf(msg, sizeof msg, "signal %d (%s) at address 0x%llx", sig, eg_sig_name(sig),
             (unsigned long long)(uintptr_t)gd->addr);
    errgroup__record(g, ERRGROUP_ECRASHED, gd->lo, msg);
    return ERRGROUP_ECRASHED;
}

/*
 * Only these two functions call sigsetjmp, and only under RECOVER. savemask
 * 0: the handler runs with SA_NODEFER, so the jump leaves the mask as the
 * body had it. Everything read after the jump is either in *gd (written by
 * the handler through volatile fields) or an argument never modified here.
 */
int errgroup__crash_task(errgroup *g, struct eg_frame *f, errgroup_fn *fn, void *arg,
                         int64_t ordinal)
{
    struct eg_guard gd;
    gd.lo = ordinal;
    gd.hi = ordinal + 1;
    gd.is_task = 1;
    gd.mode = g->crash_mode_;
    gd.sig = 0;
    gd.addr = NULL;
    (void)eg_altstack(); /* without one (ENOMEM) only stack overflows go unreported */
    if (gd.mode == ERRGROUP_CRASH_RECOVER && sigsetjmp(gd.jump, 0) != 0)
        return eg_crashed(g, f, &gd);
    f->guard = &gd;
    int rc = fn(g, arg);
    f->guard = NULL;
    return rc;
}

int errgroup__crash_chunk(errgroup *g, struct eg_frame *f, errgroup_range_fn *body, int64_t lo,
                          int64_t hi, void *arg)
{
    struct eg_guard gd;
    gd.lo = lo;
    gd.hi = hi;
    gd.is_task = 0;
    gd.mode = g->crash_mode_;
    gd.sig = 0;
    gd.addr = NULL;
    (void)eg_altstack();
    if (gd.mode == ERRGROUP_CRASH_RECOVER && sigsetjmp(gd.jump, 0) != 0)
        return eg_crashed(g, f, &gd);
    f->guard = &gd;
    int rc = body(g, lo, hi, arg);
    f->guard = NULL;
    return rc;
}
