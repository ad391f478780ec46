/*
 * Lifetime, configuration and misuse: every documented error path of
 * errgroup.h, the abort on destroying a busy group, error messages,
 * errgroup_strerror and the version macros.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <omp.h>

#include "errgroup.h"
#include "test_util.h"

static int ok_body(errgroup *g, void *arg)
{
    (void)g;
    (void)arg;
    return 0;
}

static int ok_range(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)g;
    (void)lo;
    (void)hi;
    (void)arg;
    return 0;
}

static void no_release(void *arg)
{
    (void)arg;
}

static int count_body(errgroup *g, void *arg)
{
    (void)g;
    __atomic_fetch_add((int *)arg, 1, __ATOMIC_RELAXED);
    return 0;
}

/* ---- NULL arguments ---------------------------------------------------- */

static void test_init_null_group(void **state)
{
    (void)state;
    errgroup parent, zeroed;
    assert_int_equal(errgroup_init(NULL), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_init(&parent), 0);
    assert_int_equal(errgroup_init_child(NULL, &parent), ERRGROUP_EINVAL);

    errgroup child;
    assert_int_equal(errgroup_init_child(&child, NULL), ERRGROUP_EINVAL);
    memset(&zeroed, 0, sizeof zeroed); /* never initialised */
    assert_int_equal(errgroup_init_child(&child, &zeroed), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_destroy(&parent), 0);
}

static void test_functions_null_group(void **state)
{
    (void)state;
    errgroup_error e;
    errgroup_counters c;
    assert_int_equal(errgroup_destroy(NULL), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_limit(NULL, 1), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_timeout(NULL, 1.0), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_mode(NULL, ERRGROUP_FIRST_ERROR), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_chunk(NULL, 1), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_release(NULL, no_release), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_go(NULL, ok_body, NULL), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_try_go(NULL, ok_body, NULL), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_wait(NULL), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_run(NULL, ok_body, NULL), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_for(NULL, 0, 10, ok_range, NULL), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_fail(NULL, 5, 0, "x"), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_cancel(NULL), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_canceled(NULL), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_canceled_at(NULL, 0), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_first_error(NULL, &e), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_get_counters(NULL, &c), ERRGROUP_EINVAL);
}

static void test_functions_null_fn_or_out(void **state)
{
    (void)state;
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_go(&g, NULL, NULL), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_try_go(&g, NULL, NULL), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_run(&g, NULL, NULL), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_for(&g, 0, 10, NULL, NULL), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_first_error(&g, NULL), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_get_counters(&g, NULL), ERRGROUP_EINVAL);

    /* None of the refused calls took an ordinal or ran anything. */
    errgroup_counters c;
    assert_int_equal(errgroup_get_counters(&g, &c), 0);
    assert_int_equal(c.submitted, 0);
    assert_int_equal(c.started, 0);
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- Bad configuration values ------------------------------------------ */

static void test_set_functions_bad_values(void **state)
{
    (void)state;
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_limit(&g, -1), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_limit(&g, INT_MIN), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_timeout(&g, -1.0), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_timeout(&g, -1e-9), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_timeout(&g, NAN), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_timeout(&g, INFINITY), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_timeout(&g, -INFINITY), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_mode(&g, 2), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_mode(&g, -1), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_chunk(&g, -1), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_chunk(&g, INT64_MIN), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_for(&g, 10, 9, ok_range, NULL), ERRGROUP_EINVAL);

    /* The refused timeouts armed nothing: the group is not cancelled. */
    assert_int_equal(errgroup_canceled(&g), 0);

    /* Valid values are accepted before the first go. */
    assert_int_equal(errgroup_set_limit(&g, 0), 0);
    assert_int_equal(errgroup_set_limit(&g, 3), 0);
    assert_int_equal(errgroup_set_limit(&g, 0), 0);
    assert_int_equal(errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX), 0);
    assert_int_equal(errgroup_set_mode(&g, ERRGROUP_FIRST_ERROR), 0);
    assert_int_equal(errgroup_set_chunk(&g, 0), 0);
    assert_int_equal(errgroup_set_chunk(&g, 7), 0);
    assert_int_equal(errgroup_set_release(&g, no_release), 0);
    assert_int_equal(errgroup_set_release(&g, NULL), 0);
    assert_int_equal(errgroup_set_timeout(&g, 3600.0), 0);
    assert_int_equal(errgroup_set_timeout(&g, 0.0), 0);
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_fail_code_zero(void **state)
{
    (void)state;
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_fail(&g, 0, 3, "not an error"), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_canceled(&g), 0);
    EXPECT_FIRST_ERROR(&g, 0, ERRGROUP_NO_INDEX, "");
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- After wait --------------------------------------------------------- */

static void test_wait_twice_is_closed(void **state)
{
    (void)state;
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_fail(&g, 17, 4, "first %s", "failure"), 17);
    assert_int_equal(errgroup_wait(&g), 17);
    assert_int_equal(errgroup_wait(&g), ERRGROUP_ECLOSED);

    /* The error stays readable until destroy. */
    EXPECT_FIRST_ERROR(&g, 17, 4, "first failure");
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_wait_twice_without_error_is_closed(void **state)
{
    (void)state;
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(errgroup_wait(&g), ERRGROUP_ECLOSED);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_submit_after_wait_is_closed(void **state)
{
    (void)state;
    errgroup g;
    int calls = 0;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(errgroup_go(&g, count_body, &calls), ERRGROUP_ECLOSED);
    assert_int_equal(errgroup_try_go(&g, count_body, &calls), ERRGROUP_ECLOSED);
    assert_int_equal(errgroup_run(&g, count_body, &calls), ERRGROUP_ECLOSED);
    assert_int_equal(errgroup_for(&g, 0, 100, ok_range, NULL), ERRGROUP_ECLOSED);
    assert_int_equal(errgroup_set_limit(&g, 2), ERRGROUP_ECLOSED);
    assert_int_equal(errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX), ERRGROUP_ECLOSED);
    assert_int_equal(errgroup_set_release(&g, no_release), ERRGROUP_ECLOSED);
    assert_int_equal(errgroup_set_chunk(&g, 8), ERRGROUP_ECLOSED);
    assert_int_equal(errgroup_set_timeout(&g, 1.0), ERRGROUP_ECLOSED);
    assert_int_equal(calls, 0);

    errgroup_counters c;
    assert_int_equal(errgroup_get_counters(&g, &c), 0);
    assert_int_equal(c.submitted, 0);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* The same, inside a parallel region, where go would create a task. */
static void test_submit_after_wait_in_region_is_closed(void **state)
{
    (void)state;
    errgroup g;
    int calls = 0;
    int rc_wait = -1, rc_go = -1, rc_try = -1, rc_run = -1;
    assert_int_equal(errgroup_init(&g), 0);
#pragma omp parallel default(none) shared(g, calls, rc_wait, rc_go, rc_try, rc_run)
#pragma omp single
    {
        rc_wait = errgroup_wait(&g);
        rc_go = errgroup_go(&g, count_body, &calls);
        rc_try = errgroup_try_go(&g, count_body, &calls);
        rc_run = errgroup_run(&g, count_body, &calls);
    }
    assert_int_equal(rc_wait, 0);
    assert_int_equal(rc_go, ERRGROUP_ECLOSED);
    assert_int_equal(rc_try, ERRGROUP_ECLOSED);
    assert_int_equal(rc_run, ERRGROUP_ECLOSED);
    assert_int_equal(calls, 0);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- Configuration while tasks are in flight --------------------------- */

/*
 * The probe task stays in flight until the configuration calls were made.
 * Normally the owner (the thread that called go) makes them while the task
 * spins. If the task runs on the owner's own thread, the owner is stuck
 * below us (inside go, when the runtime runs the task at once, e.g. a
 * serialised team) and cannot make them, so the task makes them itself: it
 * is just as much in flight. Either way nobody waits for a thread that cannot
 * come, at any team size, on either runtime.
 */
struct busy_probe {
    int owner_thread; /* omp_get_thread_num() of the owner */
    int probed;       /* 1 once the calls below were made (acquire/release) */
    int by_task;      /* 1 if the task made them */
    int gave_up;      /* the task hit SAFETY_CAP_S */
    int rc_limit, rc_mode, rc_release;
};

static void probe_config(errgroup *g, struct busy_probe *p)
{
    p->rc_limit = errgroup_set_limit(g, 4);
    p->rc_mode = errgroup_set_mode(g, ERRGROUP_LOWEST_INDEX);
    p->rc_release = errgroup_set_release(g, no_release);
}

static int busy_probe_task(errgroup *g, void *arg)
{
    struct busy_probe *p = arg;
    if (__atomic_load_n(&p->probed, __ATOMIC_ACQUIRE))
        return 0; /* run late, at the owner's wait: the probe is done */
    if (omp_get_thread_num() == p->owner_thread) {
        probe_config(g, p);
        p->by_task = 1;
        __atomic_store_n(&p->probed, 1, __ATOMIC_RELEASE);
        return 0;
    }
    double start = now_s();
    while (!__atomic_load_n(&p->probed, __ATOMIC_ACQUIRE)) {
        if (now_s() - start > SAFETY_CAP_S) {
            __atomic_store_n(&p->gave_up, 1, __ATOMIC_RELAXED);
            break;
        }
        sched_yield(); /* oversubscribed: let the owner run */
    }
    return 0;
}

static void test_set_config_while_in_flight_is_busy(void **state)
{
    (void)state;
    errgroup g;
    struct busy_probe p;
    memset(&p, 0, sizeof p);
    int rc_go = -1, rc_wait = -1;
    assert_int_equal(errgroup_init(&g), 0);
#pragma omp parallel default(none) shared(g, p, rc_go, rc_wait)
#pragma omp single
    {
        p.owner_thread = omp_get_thread_num();
        rc_go = errgroup_go(&g, busy_probe_task, &p);
        if (!__atomic_load_n(&p.probed, __ATOMIC_ACQUIRE)) {
            probe_config(&g, &p);
            __atomic_store_n(&p.probed, 1, __ATOMIC_RELEASE);
        }
        rc_wait = errgroup_wait(&g);
    }
    assert_int_equal(rc_go, 0);
    assert_int_equal(rc_wait, 0);
    assert_int_equal(p.gave_up, 0);
    assert_int_equal(p.rc_limit, ERRGROUP_EBUSY);
    assert_int_equal(p.rc_mode, ERRGROUP_EBUSY);
    assert_int_equal(p.rc_release, ERRGROUP_EBUSY);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* Outside a parallel region the body runs inside go: it is in flight there. */
static int busy_serial_task(errgroup *g, void *arg)
{
    probe_config(g, arg);
    return 0;
}

static void test_set_config_from_running_body_is_busy(void **state)
{
    (void)state;
    errgroup g;
    struct busy_probe p;
    memset(&p, 0, sizeof p);
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_go(&g, busy_serial_task, &p), 0);
    assert_int_equal(p.rc_limit, ERRGROUP_EBUSY);
    assert_int_equal(p.rc_mode, ERRGROUP_EBUSY);
    assert_int_equal(p.rc_release, ERRGROUP_EBUSY);
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- Destroy ----------------------------------------------------------- */

static void test_destroy_twice(void **state)
{
    (void)state;
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(errgroup_destroy(&g), 0);
    assert_int_equal(errgroup_destroy(&g), ERRGROUP_EINVAL);

    /* A destroyed group can be initialised again. */
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_destroyed_group_is_invalid(void **state)
{
    (void)state;
    errgroup g, child;
    errgroup_error e;
    errgroup_counters c;
    int calls = 0;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_destroy(&g), 0);

    assert_int_equal(errgroup_wait(&g), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_first_error(&g, &e), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_get_counters(&g, &c), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_init_child(&child, &g), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_go(&g, count_body, &calls), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_try_go(&g, count_body, &calls), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_run(&g, count_body, &calls), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_for(&g, 0, 10, ok_range, NULL), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_limit(&g, 1), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_mode(&g, ERRGROUP_FIRST_ERROR), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_release(&g, no_release), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_chunk(&g, 1), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_timeout(&g, 1.0), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_fail(&g, 5, 0, "late"), ERRGROUP_EINVAL);
    assert_int_equal(calls, 0);
}

/*
 * Death test. The child process makes no OpenMP threads (go outside a
 * parallel region runs the body at once), so fork is safe whatever the
 * parent's runtime did. The body destroys its own group while it is in
 * flight.
 */
static int destroy_from_body(errgroup *g, void *arg)
{
    (void)arg;
    errgroup_destroy(g);
    return 0;
}

static void test_destroy_in_flight_aborts(void **state)
{
    (void)state;
    errgroup g;
    int fds[2];
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        signal(SIGABRT, SIG_DFL);
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        errgroup_go(&g, destroy_from_body, NULL);
        _exit(0); /* reached only if destroy did not abort */
    }
    close(fds[1]);
    char buf[1024];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fds[0], buf + got, sizeof buf - 1 - got);
        if (n > 0) {
            got += (size_t)n;
            if (got == sizeof buf - 1)
                break;
        } else if (n == 0 || errno != EINTR) {
            break;
        }
    }
    buf[got] = '\0';
    close(fds[0]);
    int status = 0;
    pid_t r;
    do
        r = waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    assert_int_equal(r, pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_true(got > 0); /* it said why on stderr */

    /* The parent's copy has nothing in flight. */
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- Messages ---------------------------------------------------------- */

static void test_fail_long_message_truncated(void **state)
{
    (void)state;
    char long_msg[3 * ERRGROUP_MESSAGE_MAX];
    for (size_t i = 0; i < sizeof long_msg - 1; i++)
        long_msg[i] = (char)('a' + i % 26);
    long_msg[sizeof long_msg - 1] = '\0';

    errgroup g;
    errgroup_error e;
    memset(&e, 0x7f, sizeof e); /* garbage the result must overwrite */
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_fail(&g, 9, 1, "%s", long_msg), 9);
    assert_int_equal(errgroup_first_error(&g, &e), 0);
    assert_int_equal(e.code, 9);
    assert_int_equal(e.index, 1);
    assert_int_equal(e.message[ERRGROUP_MESSAGE_MAX - 1], '\0');
    assert_int_equal(strlen(e.message), ERRGROUP_MESSAGE_MAX - 1);
    assert_memory_equal(e.message, long_msg, ERRGROUP_MESSAGE_MAX - 1);
    assert_int_equal(errgroup_wait(&g), 9);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_fail_message_at_the_limit(void **state)
{
    (void)state;
    /* Exactly MAX - 1 characters fit; the width directive makes MAX. */
    char fits[ERRGROUP_MESSAGE_MAX];
    memset(fits, 'x', sizeof fits - 1);
    fits[sizeof fits - 1] = '\0';

    errgroup g;
    errgroup_error e;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_fail(&g, 3, 0, "%s", fits), 3);
    assert_int_equal(errgroup_first_error(&g, &e), 0);
    assert_string_equal(e.message, fits);
    assert_int_equal(errgroup_destroy(&g), 0);

    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_fail(&g, 3, 0, "%0*d", ERRGROUP_MESSAGE_MAX, 7), 3);
    assert_int_equal(errgroup_first_error(&g, &e), 0);
    assert_int_equal(strlen(e.message), ERRGROUP_MESSAGE_MAX - 1);
    for (size_t i = 0; i < ERRGROUP_MESSAGE_MAX - 1; i++)
        assert_int_equal(e.message[i], '0'); /* the 7 was cut off */
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_fail_many_format_arguments(void **state)
{
    (void)state;
    char want[ERRGROUP_MESSAGE_MAX];
    int x = -42;
    snprintf(want, sizeof want, "%d %u %ld %lld %x %o %c %s %.3f %e %5.1f%% %p %zu %-4s| %+d",
             1, 2u, 3L, 4LL, 255, 8, 'z', "str", 3.14159, 2.5e-8, 99.5, (void *)&x,
             (size_t)12345, "ab", x);

    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_fail(&g, 44, 12,
                                   "%d %u %ld %lld %x %o %c %s %.3f %e %5.1f%% %p %zu %-4s| %+d",
                                   1, 2u, 3L, 4LL, 255, 8, 'z', "str", 3.14159, 2.5e-8, 99.5,
                                   (void *)&x, (size_t)12345, "ab", x),
                     44);
    EXPECT_FIRST_ERROR(&g, 44, 12, want);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_fail_null_format_empty_message(void **state)
{
    (void)state;
    errgroup g;
    errgroup_error e;
    memset(&e, 'q', sizeof e);
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_fail(&g, -77, 5, NULL), -77); /* user codes pass through */
    EXPECT_FIRST_ERROR(&g, -77, 5, "");
    assert_int_equal(errgroup_wait(&g), -77);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_first_error_without_error(void **state)
{
    (void)state;
    errgroup g;
    errgroup_error e;
    memset(&e, 'q', sizeof e);
    assert_int_equal(errgroup_init(&g), 0);
    EXPECT_FIRST_ERROR(&g, 0, ERRGROUP_NO_INDEX, "");
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- strerror and version ---------------------------------------------- */

static void test_strerror_library_codes(void **state)
{
    (void)state;
    static const int codes[] = {
#define CODE(name, value, text) ERRGROUP_##name,
        ERRGROUP_ERRNO_MAP(CODE)
#undef CODE
    };
    static const char *const texts[] = {
#define TEXT(name, value, text) text,
        ERRGROUP_ERRNO_MAP(TEXT)
#undef TEXT
    };
    const size_t n = sizeof codes / sizeof codes[0];
    assert_int_equal(n, 8);
    const char *unknown = errgroup_strerror(-1);
    assert_non_null(unknown);
    for (size_t i = 0; i < n; i++) {
        const char *s = errgroup_strerror(codes[i]);
        assert_non_null(s);
        assert_true(s[0] != '\0');
        assert_string_equal(s, texts[i]);
        assert_string_not_equal(s, unknown);
        assert_string_not_equal(s, errgroup_strerror(0));
        assert_true(codes[i] < 0);
        for (size_t j = 0; j < i; j++) {
            assert_int_not_equal(codes[i], codes[j]);
            assert_string_not_equal(s, errgroup_strerror(codes[j]));
        }
    }
}

static void test_strerror_other_codes(void **state)
{
    (void)state;
    assert_string_equal(errgroup_strerror(0), "success");

    static const int positives[] = {EINVAL, ENOMEM, EDOM, ERANGE, ENOENT, EIO, 1};
    for (size_t i = 0; i < sizeof positives / sizeof positives[0]; i++) {
        char want[256];
        snprintf(want, sizeof want, "%s", strerror(positives[i]));
        assert_string_equal(errgroup_strerror(positives[i]), want);
    }

    static const int unknown[] = {-1, -2, -4000, -4009, -100000, INT_MIN};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = errgroup_strerror(unknown[i]);
        assert_non_null(s);
        assert_string_equal(s, "unknown error");
    }
}

static void test_version_matches_macros(void **state)
{
    (void)state;
    assert_int_equal(ERRGROUP_VERSION_NUMBER, ERRGROUP_VERSION_MAJOR * 10000 +
                                                  ERRGROUP_VERSION_MINOR * 100 +
                                                  ERRGROUP_VERSION_PATCH);
    assert_int_equal(errgroup_version(), ERRGROUP_VERSION_NUMBER);
    assert_non_null(errgroup_version_string());
    assert_string_equal(errgroup_version_string(), ERRGROUP_VERSION_STRING);
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", ERRGROUP_VERSION_MAJOR, ERRGROUP_VERSION_MINOR,
             ERRGROUP_VERSION_PATCH);
    assert_string_equal(ERRGROUP_VERSION_STRING, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_null_group),
        cmocka_unit_test(test_functions_null_group),
        cmocka_unit_test(test_functions_null_fn_or_out),
        cmocka_unit_test(test_set_functions_bad_values),
        cmocka_unit_test(test_fail_code_zero),
        cmocka_unit_test(test_wait_twice_is_closed),
        cmocka_unit_test(test_wait_twice_without_error_is_closed),
        cmocka_unit_test(test_submit_after_wait_is_closed),
        cmocka_unit_test(test_submit_after_wait_in_region_is_closed),
        cmocka_unit_test(test_set_config_while_in_flight_is_busy),
        cmocka_unit_test(test_set_config_from_running_body_is_busy),
        cmocka_unit_test(test_destroy_twice),
        cmocka_unit_test(test_destroyed_group_is_invalid),
        cmocka_unit_test(test_destroy_in_flight_aborts),
        cmocka_unit_test(test_fail_long_message_truncated),
        cmocka_unit_test(test_fail_message_at_the_limit),
        cmocka_unit_test(test_fail_many_format_arguments),
        cmocka_unit_test(test_fail_null_format_empty_message),
        cmocka_unit_test(test_first_error_without_error),
        cmocka_unit_test(test_strerror_library_codes),
        cmocka_unit_test(test_strerror_other_codes),
        cmocka_unit_test(test_version_matches_macros),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
