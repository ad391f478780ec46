/*
 * The crashing program that test_crash.c runs in a child process (never a
 * fork of an OpenMP program: libgomp hangs after fork).
 *
 *   crash_child report  SIG task|loop   crash in task 5 / loop item 37 (chunk [30, 40))
 *   crash_child recover SIG task|loop   crash in tasks 3 and 5 / items 37 and 55, then
 *                                       run a second group
 *   crash_child outside SIG             crash outside any group body
 * SIG: segv, bus, fpe, ill, overflow (stack overflow, a SIGSEGV).
 *
 * The program installs its own handler first ("own handler: signal N",
 * exit 42), so that a crash that is not the library's reaches it.
 */
#define _GNU_SOURCE

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "errgroup.h"

static const char *sig_kind;
static volatile char *bus_page;
/* Not a constant the compiler could see: it must emit the store. */
volatile uintptr_t segv_addr = 0;
static intptr_t crash_a = 5, crash_b = 5; /* the crashing task ordinals */

static void own_handler(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    char msg[] = "own handler: signal 00\n";
    msg[20] = (char)('0' + sig / 10);
    msg[21] = (char)('0' + sig % 10);
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(42);
}

static volatile int keep_recursing = 1;
static int recurse(int depth)
{
    volatile char buf[1024];
    buf[0] = (char)depth;
    if (!keep_recursing)
        return buf[0];
    return recurse(depth + 1) + buf[0]; /* not a tail call */
}

/* The crashes are undefined behaviour on purpose: keep UBSan out of them
 * (the sanitizer builds run this program too), and TSan, which would record
 * the faulting store before it faults and call two crashes a race. */
__attribute__((no_sanitize("undefined"))) __attribute__((no_sanitize("thread"))) static void
crash(void)
{
    if (strcmp(sig_kind, "segv") == 0) {
        *(volatile int *)segv_addr = 1;
    } else if (strcmp(sig_kind, "bus") == 0) {
        bus_page[0] = 1; /* a page beyond the end of an empty file */
    } else if (strcmp(sig_kind, "fpe") == 0) {
        volatile int a = 1, b = 0;
        volatile int c = a / b;
        (void)c;
    } else if (strcmp(sig_kind, "ill") == 0) {
        __builtin_trap();
    } else {
        (void)recurse(0);
    }
}

static int task(errgroup *g, void *arg)
{
    (void)g;
    intptr_t i = (intptr_t)arg;
    if (i == crash_a || i == crash_b)
        crash();
    return 0;
}

static int chunk(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)g;
    const int64_t *crashing = arg;
    for (int64_t i = lo; i < hi; i++)
        if (i == crashing[0] || i == crashing[1])
            crash();
    return 0;
}

static int64_t sum[100];
static int add(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)g;
    (void)arg;
    for (int64_t i = lo; i < hi; i++)
        sum[i] = i;
    return 0;
}

static int check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", what, errgroup_strerror(rc));
        exit(3);
    }
    return rc;
}

/* The group's tasks or loop; returns its wait result. */
static int run_group(errgroup *g, const char *where, const int64_t *items)
{
    if (strcmp(where, "loop") == 0) {
        check(errgroup_set_chunk(g, 10), "set_chunk");
        int rc = errgroup_for(g, 0, 80, chunk, (void *)items);
        int w = errgroup_wait(g);
        return w == rc ? w : -1;
    }
    int rc = -1;
#pragma omp parallel
#pragma omp single
    {
        for (intptr_t i = 0; i < 8; i++)
            if (errgroup_go(g, task, (void *)i) != 0)
                break;
        rc = errgroup_wait(g);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *mode = argv[1], *where = argc > 3 ? argv[3] : "task";
    sig_kind = argv[2];
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core); /* the test wants the signal, not the core */

    char path[] = "/tmp/crash_child_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 2;
    unlink(path);
    bus_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (bus_page == MAP_FAILED)
        return 2;

    struct sigaction own;
    memset(&own, 0, sizeof own);
    own.sa_sigaction = own_handler;
    own.sa_flags = SA_SIGINFO;
    sigemptyset(&own.sa_mask);
    const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    for (int i = 0; i < 4; i++)
        sigaction(sigs[i], &own, NULL);

    errgroup g;
    check(errgroup_init(&g), "init");
    if (strcmp(mode, "outside") == 0) {
        check(errgroup_set_crash_mode(&g, ERRGROUP_CRASH_RECOVER), "set_crash_mode");
        crash();
        return 1; /* not reached: the own handler exits 42 */
    }
    if (strcmp(mode, "report") == 0) {
        static const int64_t items[2] = {37, 37};
        check(errgroup_set_crash_mode(&g, ERRGROUP_CRASH_REPORT), "set_crash_mode");
        run_group(&g, where, items);
        fprintf(stderr, "report: survived the crash\n");
        return 1;
    }
    /* recover: lowest-index + keep-going + a log: both crashes are kept. */
    static const int64_t items[2] = {37, 55};
    crash_a = 3;
    check(errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX), "set_mode");
    check(errgroup_set_keep_going(&g, 1), "set_keep_going");
    check(errgroup_set_error_log(&g, 4), "set_error_log");
    check(errgroup_set_crash_mode(&g, ERRGROUP_CRASH_RECOVER), "set_crash_mode");
    int rc = run_group(&g, where, items);
    errgroup_error log[4];
    int n = errgroup_get_errors(&g, log, 4);
    printf("recovered: rc=%d (%s) n=%d", rc, errgroup_strerror(rc), n);
    for (int i = 0; i < n; i++)
        printf(" [%lld %d '%s']", (long long)log[i].index, log[i].code, log[i].message);
    printf("\n");
    check(errgroup_destroy(&g), "destroy");
    struct sigaction cur;
    sigaction(SIGSEGV, NULL, &cur);
    printf("handlers %s\n", cur.sa_sigaction == own_handler ? "restored" : "NOT restored");
    check(errgroup_init(&g), "init 2");
    check(errgroup_for(&g, 0, 100, add, NULL), "second group");
    check(errgroup_wait(&g), "second wait");
    int64_t total = 0;
    for (int i = 0; i < 100; i++)
        total += sum[i];
    printf("second group: sum=%lld\n", (long long)total);
    check(errgroup_destroy(&g), "destroy 2");
    return 0;
}
