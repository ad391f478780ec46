/*
 * Crash modes, in child processes: crash_child (tests/crash_child.c) is
 * started with posix_spawn and inherits this test's OpenMP environment
 * (thread count, cancellation), so the ctest matrix covers 1..8 threads for
 * each runtime the library is built with. Each case checks what the child
 * printed and how it ended.
 */
#define _GNU_SOURCE

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errgroup.h"

extern char **environ;

/* Under ThreadSanitizer a stack overflow is not tested: TSan's own handler
 * wrapper runs first and, with clang 14's runtime, fails an internal check
 * or dies on the overflowed thread before ours can run. The library's
 * handler is the same code in every build; the other builds test it. */
#if defined(__SANITIZE_THREAD__)
#  define UNDER_TSAN 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define UNDER_TSAN 1
#  endif
#endif
#ifndef UNDER_TSAN
#  define UNDER_TSAN 0
#endif

struct outcome {
    int exited, code, signaled, sig;
    char out[16384];
};

static void run_child(const char *mode, const char *sig, const char *where, struct outcome *o)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    char *argv[] = {(char *)CRASH_CHILD, (char *)mode, (char *)sig, (char *)where, NULL};
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, CRASH_CHILD, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    size_t len = 0;
    ssize_t r;
    while ((r = read(fds[0], o->out + len, sizeof o->out - 1 - len)) > 0)
        len += (size_t)r;
    o->out[len] = '\0';
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    o->exited = WIFEXITED(status);
    o->code = o->exited ? WEXITSTATUS(status) : -1;
    o->signaled = WIFSIGNALED(status);
    o->sig = o->signaled ? WTERMSIG(status) : 0;
}

static const struct {
    const char *arg, *name;
    int sig;
} cases[] = {
    {"segv", "SIGSEGV", SIGSEGV},
    {"bus", "SIGBUS", SIGBUS},
    {"fpe", "SIGFPE", SIGFPE},
    {"ill", "SIGILL", SIGILL},
    {"overflow", "SIGSEGV", SIGSEGV}, /* must stay last: see NCASES */
};
#define NCASES (sizeof cases / sizeof cases[0] - UNDER_TSAN)

static void expect_contains(const struct outcome *o, const char *what, const char *want)
{
    if (strstr(o->out, want) == NULL)
        fail_msg("%s: output lacks \"%s\":\n%s", what, want, o->out);
}

static void test_crash_report_names_task_and_dies_by_signal(void **state)
{
    (void)state;
    static struct outcome o;
    for (size_t i = 0; i < NCASES; i++) {
        for (int loop = 0; loop <= 1; loop++) {
            char what[64], want[128];
            snprintf(what, sizeof what, "report %s %s", cases[i].arg, loop ? "loop" : "task");
            run_child("report", cases[i].arg, loop ? "loop" : "task", &o);
            if (!o.signaled || o.sig != cases[i].sig)
                fail_msg("%s: ended with exit %d / signal %d, want signal %d:\n%s", what, o.code,
                         o.sig, cases[i].sig, o.out);
            snprintf(want, sizeof want, "errgroup: %s crashed: signal %d (%s) at address 0x",
                     loop ? "loop chunk [30, 40)" : "task 5", cases[i].sig, cases[i].name);
            expect_contains(&o, what, want);
            expect_contains(&o, what, "errgroup: backtrace:");
            if (strstr(o.out, "own handler") != NULL || strstr(o.out, "survived") != NULL)
                fail_msg("%s: wrong handler ran:\n%s", what, o.out);
        }
    }
}

static void test_crash_recover_returns_ecrashed_and_goes_on(void **state)
{
    (void)state;
    static struct outcome o;
    for (size_t i = 0; i < NCASES; i++) {
        for (int loop = 0; loop <= 1; loop++) {
            char what[64], want[256];
            snprintf(what, sizeof what, "recover %s %s", cases[i].arg, loop ? "loop" : "task");
            run_child("recover", cases[i].arg, loop ? "loop" : "task", &o);
            if (!o.exited || o.code != 0)
                fail_msg("%s: ended with exit %d / signal %d, want exit 0:\n%s", what, o.code,
                         o.sig, o.out);
            /* Both crashes, sorted, each with its index and signal. */
            snprintf(want, sizeof want,
                     "recovered: rc=%d (task crashed) n=2 [%d %d 'signal %d (%s) at address 0x",
                     ERRGROUP_ECRASHED, loop ? 30 : 3, ERRGROUP_ECRASHED, cases[i].sig,
                     cases[i].name);
            expect_contains(&o, what, want);
            snprintf(want, sizeof want, "[%d %d 'signal %d (%s) at address 0x", loop ? 50 : 5,
                     ERRGROUP_ECRASHED, cases[i].sig, cases[i].name);
            expect_contains(&o, what, want);
            expect_contains(&o, what, "handlers restored");
            expect_contains(&o, what, "second group: sum=4950");
        }
    }
}

static void test_crash_outside_group_reaches_own_handler(void **state)
{
    (void)state;
    static struct outcome o;
    for (size_t i = 0; i < NCASES; i++) {
        char want[64];
        run_child("outside", cases[i].arg, "task", &o);
        if (!o.exited || o.code != 42)
            fail_msg("outside %s: ended with exit %d / signal %d, want exit 42:\n%s", cases[i].arg,
                     o.code, o.sig, o.out);
        snprintf(want, sizeof want, "own handler: signal %02d", cases[i].sig);
        expect_contains(&o, cases[i].arg, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_report_names_task_and_dies_by_signal),
        cmocka_unit_test(test_crash_recover_returns_ecrashed_and_goes_on),
        cmocka_unit_test(test_crash_outside_group_reaches_own_handler),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
