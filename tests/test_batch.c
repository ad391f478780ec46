/*
 * Batch jobs: keep-going mode and the error log (and progress formatting).
 *
 * Bodies only record (per-index arrays, atomics); every assertion runs on the
 * test thread afterwards.
 */
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, unlockpt, ptsname */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include "errgroup.h"
#include "test_util.h"

#define N_ITEMS 100000
static unsigned char ran[N_ITEMS];

/* Item i fails iff i % 97 == 5, with code 100 + i % 7. */
static int fails(int64_t i)
{
    return i % 97 == 5;
}

static int code_of(int64_t i)
{
    return 100 + (int)(i % 7);
}

static int loop_body(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)arg;
    int64_t bad = -1; /* the chunk's first failing item; the rest still runs */
    for (int64_t i = lo; i < hi; i++) {
        __atomic_fetch_add(&ran[i], 1, __ATOMIC_RELAXED);
        if (fails(i) && bad < 0)
            bad = i;
    }
    return bad < 0 ? 0 : errgroup_fail(g, code_of(bad), bad, "item %lld", (long long)bad);
}

static void assert_all_ran_once(int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (ran[i] != 1)
            fail_msg("item %lld ran %d times", (long long)i, ran[i]);
}

/* ---- keep going -------------------------------------------------------- */

static void test_keep_going_loop_runs_every_chunk(void **state)
{
    (void)state;
    for (int mode = 0; mode <= 1; mode++) {
        memset(ran, 0, sizeof ran);
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_mode(&g, mode), 0);
        assert_int_equal(errgroup_set_keep_going(&g, 1), 0);
        assert_int_equal(errgroup_set_chunk(&g, 50), 0);
        int rc = errgroup_for(&g, 0, 10000, loop_body, NULL);
        assert_int_equal(errgroup_canceled(&g), 0);
        assert_int_equal(errgroup_canceled_at(&g, 9999), 0);
        assert_int_equal(errgroup_wait(&g), rc);
        assert_all_ran_once(10000);
        errgroup_counters c;
        assert_int_equal(errgroup_get_counters(&g, &c), 0);
        assert_int_equal(c.finished, 10000);
        assert_int_equal(c.skipped, 0);
        /* Every chunk of 50 holds exactly one failing item or none. */
        int64_t want_failed = 0;
        for (int64_t i = 0; i < 10000; i++)
            want_failed += fails(i);
        assert_int_equal(c.failed, want_failed);
        if (mode == ERRGROUP_LOWEST_INDEX) {
            assert_int_equal(rc, code_of(5));
            EXPECT_FIRST_ERROR(&g, code_of(5), 5, "item 5");
        } else {
            errgroup_error e;
            assert_int_equal(errgroup_first_error(&g, &e), 0);
            assert_true(fails(e.index));
            assert_int_equal(rc, code_of(e.index));
        }
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

static void test_keep_going_loop_check_skips_nothing(void **state)
{
    (void)state;
    memset(ran, 0, sizeof ran);
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX), 0);
    assert_int_equal(errgroup_set_keep_going(&g, 1), 0);
#pragma omp parallel for schedule(dynamic, 64)
    for (int64_t i = 0; i < N_ITEMS; i++) {
        ERRGROUP_LOOP_CHECK(&g, i);
        ran[i]++;
        if (fails(i))
            ERRGROUP_LOOP_FAIL(&g, code_of(i), i, "item %lld", (long long)i);
    }
    assert_int_equal(errgroup_wait(&g), code_of(5));
    assert_all_ran_once(N_ITEMS);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static int task_body(errgroup *g, void *arg)
{
    int64_t i = (int64_t)(intptr_t)arg;
    (void)g;
    __atomic_fetch_add(&ran[i], 1, __ATOMIC_RELAXED);
    return fails(i) ? code_of(i) : 0;
}

static void test_keep_going_go_keeps_accepting(void **state)
{
    (void)state;
    memset(ran, 0, sizeof ran);
    errgroup g;
    int go_rc[2000];
    int rc = -1;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX), 0);
    assert_int_equal(errgroup_set_keep_going(&g, 1), 0);
#pragma omp parallel
#pragma omp single
    {
        for (int i = 0; i < 2000; i++)
            go_rc[i] = errgroup_go(&g, task_body, (void *)(intptr_t)i);
        rc = errgroup_wait(&g);
    }
    for (int i = 0; i < 2000; i++)
        assert_int_equal(go_rc[i], 0);
    assert_all_ran_once(2000);
    assert_int_equal(rc, code_of(5));
    EXPECT_FIRST_ERROR(&g, code_of(5), 5, "");
    assert_int_equal(errgroup_destroy(&g), 0);
}

static int noop(errgroup *g, void *arg)
{
    (void)g;
    (void)arg;
    return 0;
}

static void test_keep_going_cancel_timeout_parent_still_cancel(void **state)
{
    (void)state;
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_keep_going(&g, 1), 0);
    assert_int_equal(errgroup_fail(&g, 7, 3, "bad"), 7);
    assert_int_equal(errgroup_canceled(&g), 0);
    assert_int_equal(errgroup_go(&g, noop, NULL), 0);
    assert_int_equal(errgroup_cancel(&g), 0);
    assert_int_equal(errgroup_canceled(&g), 1);
    assert_int_equal(errgroup_go(&g, noop, NULL), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_wait(&g), 7); /* the error came first */
    assert_int_equal(errgroup_destroy(&g), 0);

    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_keep_going(&g, 1), 0);
    assert_int_equal(errgroup_set_timeout(&g, 1e-9), 0);
    assert_int_equal(errgroup_go(&g, noop, NULL), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_wait(&g), ERRGROUP_ETIMEDOUT);
    assert_int_equal(errgroup_destroy(&g), 0);

    errgroup parent, child;
    assert_int_equal(errgroup_init(&parent), 0);
    assert_int_equal(errgroup_set_keep_going(&parent, 1), 0);
    assert_int_equal(errgroup_init_child(&child, &parent), 0);
    assert_int_equal(errgroup_set_keep_going(&child, 1), 0);
    assert_int_equal(errgroup_fail(&parent, 5, 0, NULL), 5);
    assert_int_equal(errgroup_canceled(&child), 0); /* a parent's error alone is no stop */
    assert_int_equal(errgroup_cancel(&parent), 0);
    assert_int_equal(errgroup_go(&child, noop, NULL), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_wait(&child), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_wait(&parent), 5);
    assert_int_equal(errgroup_destroy(&child), 0);
    assert_int_equal(errgroup_destroy(&parent), 0);
}

/* A running body asks its own group to change configuration: EBUSY. */
static int reconfigure(errgroup *g, void *arg)
{
    int *out = arg;
    out[0] = errgroup_set_keep_going(g, 1);
    out[1] = errgroup_set_error_log(g, 4);
    out[2] = errgroup_set_crash_mode(g, ERRGROUP_CRASH_RECOVER);
    return 0;
}

static void test_batch_setters_follow_config_rules(void **state)
{
    (void)state;
    errgroup g;
    errgroup_error e[2];
    assert_int_equal(errgroup_set_keep_going(NULL, 1), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_error_log(NULL, 1), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_crash_mode(NULL, 0), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_get_errors(NULL, e, 2), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_error_log(&g, -1), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_set_crash_mode(&g, 3), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_get_errors(&g, NULL, 1), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_get_errors(&g, e, -1), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_get_errors(&g, NULL, 0), 0);
    assert_int_equal(errgroup_get_errors(&g, e, 2), 0); /* no log: nothing */
    int inside[3] = {0, 0, 0};
    assert_int_equal(errgroup_go(&g, reconfigure, inside), 0);
    assert_int_equal(inside[0], ERRGROUP_EBUSY);
    assert_int_equal(inside[1], ERRGROUP_EBUSY);
    assert_int_equal(inside[2], ERRGROUP_EBUSY);
    assert_int_equal(errgroup_set_error_log(&g, 8), 0);
    assert_int_equal(errgroup_set_error_log(&g, 0), 0); /* frees it */
    assert_int_equal(errgroup_set_error_log(&g, 2), 0);
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(errgroup_set_keep_going(&g, 1), ERRGROUP_ECLOSED);
    assert_int_equal(errgroup_set_error_log(&g, 1), ERRGROUP_ECLOSED);
    assert_int_equal(errgroup_set_crash_mode(&g, 1), ERRGROUP_ECLOSED);
    assert_int_equal(errgroup_fail(&g, 3, 0, "late"), 3); /* frozen: not logged */
    assert_int_equal(errgroup_get_errors(&g, e, 2), 0);
    assert_int_equal(errgroup_destroy(&g), 0);
    assert_int_equal(errgroup_set_keep_going(&g, 1), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_get_errors(&g, e, 2), ERRGROUP_EINVAL);
}

/* ---- the error log ------------------------------------------------------ */

#define LOG_CAP 100

/* Every item fails, with code 1000 + i % 7 and message "item i". */
static int all_fail(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)arg;
    for (int64_t i = lo; i < hi; i++)
        __atomic_fetch_add(&ran[i], 1, __ATOMIC_RELAXED);
    return errgroup_fail(g, 1000 + (int)(lo % 7), lo, "item %lld", (long long)lo);
}

static void expect_log_lowest(const errgroup *g, int n)
{
    static errgroup_error log[LOG_CAP + 1];
    assert_int_equal(errgroup_get_errors(g, log, LOG_CAP + 1), n);
    for (int k = 0; k < n; k++) {
        char want[32];
        snprintf(want, sizeof want, "item %d", k);
        assert_int_equal(log[k].index, k);
        assert_int_equal(log[k].code, 1000 + k % 7);
        assert_string_equal(log[k].message, want);
    }
}

/* 10^5 failing chunks at 16 threads, all of them offered to a full log at
 * once: the log holds exactly the 100 lowest, in order. */
static void test_error_log_stress_lowest(void **state)
{
    (void)state;
    for (int keep = 0; keep <= 1; keep++) {
        memset(ran, 0, sizeof ran);
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX), 0);
        assert_int_equal(errgroup_set_keep_going(&g, keep), 0);
        assert_int_equal(errgroup_set_error_log(&g, LOG_CAP), 0);
        assert_int_equal(errgroup_set_chunk(&g, 1), 0);
        int rc = -1;
#pragma omp parallel num_threads(16)
#pragma omp single
        rc = errgroup_for(&g, 0, N_ITEMS, all_fail, NULL);
        assert_int_equal(rc, 1000);
        assert_int_equal(errgroup_wait(&g), 1000);
        EXPECT_FIRST_ERROR(&g, 1000, 0, "item 0");
        errgroup_counters c;
        assert_int_equal(errgroup_get_counters(&g, &c), 0);
        if (keep) {
            assert_int_equal(c.failed, N_ITEMS);
            assert_all_ran_once(N_ITEMS);
            expect_log_lowest(&g, LOG_CAP);
        } else {
            /* Without keep-going, what ran above 0 depends on the schedule,
             * but whatever failed was offered: the log is a prefix of 0, 1, ...
             * only if those ran, so check it is sorted, distinct, and real. */
            static errgroup_error log[LOG_CAP];
            int n = errgroup_get_errors(&g, log, LOG_CAP);
            assert_int_equal(n, c.failed < LOG_CAP ? c.failed : LOG_CAP);
            assert_true(n >= 1);
            assert_int_equal(log[0].index, 0);
            for (int k = 0; k < n; k++) {
                assert_true(ran[log[k].index] == 1);
                assert_int_equal(log[k].code, 1000 + log[k].index % 7);
                if (k > 0)
                    assert_true(log[k].index > log[k - 1].index);
            }
        }
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

/* First-error mode with room for all: every failure, sorted, whatever the
 * schedule; with less room: the count is the capacity and each is real. */
static void test_error_log_first_error_mode(void **state)
{
    (void)state;
    int want = 0;
    for (int64_t i = 0; i < N_ITEMS; i++)
        want += fails(i);
    static errgroup_error log[2000];
    for (int cap = 5; cap <= 2000; cap += 1995) {
        memset(ran, 0, sizeof ran);
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_keep_going(&g, 1), 0);
        assert_int_equal(errgroup_set_error_log(&g, cap), 0);
        assert_int_equal(errgroup_set_chunk(&g, 97), 0);
        int rc = -1;
#pragma omp parallel num_threads(16)
#pragma omp single
        rc = errgroup_for(&g, 0, N_ITEMS, loop_body, NULL);
        assert_int_equal(errgroup_wait(&g), rc);
        int n = errgroup_get_errors(&g, log, 2000);
        assert_int_equal(n, cap < want ? cap : want);
        int64_t prev = -1;
        for (int k = 0; k < n; k++) {
            assert_true(fails(log[k].index));
            assert_true(log[k].index > prev);
            assert_int_equal(log[k].code, code_of(log[k].index));
            char msg[32];
            snprintf(msg, sizeof msg, "item %lld", (long long)log[k].index);
            assert_string_equal(log[k].message, msg);
            prev = log[k].index;
        }
        if (cap >= want)
            for (int k = 0, i = 0; i < N_ITEMS; i++)
                if (fails(i))
                    assert_int_equal(log[k++].index, i);
        /* A short copy is the lowest n. */
        errgroup_error two[2];
        assert_int_equal(errgroup_get_errors(&g, two, 2), 2);
        assert_int_equal(two[0].index, log[0].index);
        assert_int_equal(two[1].index, log[1].index);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

/* Ties on the index are ordered by code; tasks' nonzero returns are logged
 * with their ordinal and an empty message. */
static void test_error_log_ties_by_code(void **state)
{
    (void)state;
    errgroup g;
    errgroup_error log[4];
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX), 0);
    assert_int_equal(errgroup_set_error_log(&g, 3), 0);
    errgroup_fail(&g, 9, 4, "b");
    errgroup_fail(&g, 2, 4, "a");
    errgroup_fail(&g, 5, 7, "c");
    errgroup_fail(&g, 1, 8, "dropped: highest");
    errgroup_fail(&g, 3, 1, "d");
    assert_int_equal(errgroup_get_errors(&g, log, 4), 3);
    assert_int_equal(log[0].index, 1);
    assert_int_equal(log[1].code, 2);
    assert_int_equal(log[2].code, 9);
    assert_string_equal(log[2].message, "b");
    /* Sorting for the copy keeps the log usable: a lower index still
     * replaces the highest entry. */
    errgroup_fail(&g, 6, 0, "e");
    assert_int_equal(errgroup_get_errors(&g, log, 4), 3);
    assert_int_equal(log[0].index, 0);
    assert_int_equal(log[1].index, 1);
    assert_int_equal(log[2].index, 4);
    assert_int_equal(log[2].code, 2);
    assert_int_equal(errgroup_wait(&g), 6);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* ---- progress ------------------------------------------------------------ */

/* 100 tasks, items 5 and 102 of fails() among them: 2 failures. */
static void run_100_tasks(errgroup *g)
{
    assert_int_equal(errgroup_init(g), 0);
    assert_int_equal(errgroup_set_keep_going(g, 1), 0);
    memset(ran, 0, sizeof ran);
    int refused = 0;
#pragma omp parallel
#pragma omp single
    {
        for (int i = 0; i < 100; i++)
            refused += errgroup_go(g, task_body, (void *)(intptr_t)(i < 99 ? i : 102)) != 0;
        (void)errgroup_wait(g);
    }
    assert_int_equal(refused, 0);
}

static void test_progress_format_is_exact(void **state)
{
    (void)state;
    errgroup g;
    char buf[128];
    run_100_tasks(&g);
    assert_int_equal(errgroup_progress_format(&g, buf, sizeof buf, 200, 2.0),
                     (int)strlen("100/200 done (50.0%), 2 failed, 50.0/s, ETA 2s"));
    assert_string_equal(buf, "100/200 done (50.0%), 2 failed, 50.0/s, ETA 2s");
    errgroup_progress_format(&g, buf, sizeof buf, 0, 4.0);
    assert_string_equal(buf, "100/100 done (100.0%), 2 failed, 25.0/s");
    errgroup_progress_format(&g, buf, sizeof buf, 400, 0);
    assert_string_equal(buf, "100/400 done (25.0%), 2 failed");
    /* Truncated like snprintf: the full length is returned. */
    assert_int_equal(errgroup_progress_format(&g, buf, 8, 400, 0),
                     (int)strlen("100/400 done (25.0%), 2 failed"));
    assert_string_equal(buf, "100/400");
    assert_int_equal(errgroup_progress_format(&g, NULL, 0, 400, 0),
                     (int)strlen("100/400 done (25.0%), 2 failed"));
    assert_int_equal(errgroup_progress_format(&g, NULL, 4, 0, 0), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_progress_format(NULL, buf, 4, 0, 0), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_destroy(&g), 0);

    errgroup fresh;
    assert_int_equal(errgroup_init(&fresh), 0);
    errgroup_progress_format(&fresh, buf, sizeof buf, 0, 1.0);
    assert_string_equal(buf, "0/0 done, 0 failed");
    assert_int_equal(errgroup_destroy(&fresh), 0);
}

/* Into a file: plain lines only, never a carriage return; the last line is
 * the final count. How many lines come before it depends on timing, so the
 * test does not look at them beyond their form. */
static void test_progress_monitor_writes_plain_lines_to_a_file(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    errgroup g;
    errgroup_progress p;
    assert_int_equal(errgroup_progress_start(NULL, &g, f, 0, 0), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_progress_stop(NULL), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_progress_start(&p, &g, f, 100, 0.01), 0);
    assert_int_equal(errgroup_set_keep_going(&g, 1), 0);
    int refused = 0;
#pragma omp parallel
#pragma omp single
    {
        for (int i = 0; i < 100; i++)
            refused += errgroup_go(&g, task_body, (void *)(intptr_t)(i < 99 ? i : 102)) != 0;
        (void)errgroup_wait(&g);
    }
    assert_int_equal(refused, 0);
    assert_int_equal(errgroup_progress_stop(&p), 0);
    assert_int_equal(errgroup_progress_stop(&p), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_destroy(&g), 0);
    rewind(f);
    char line[256], last[256] = "";
    while (fgets(line, sizeof line, f) != NULL) {
        assert_null(strchr(line, '\r'));
        assert_non_null(strchr(line, '\n'));
        assert_non_null(strstr(line, "/100 done"));
        strcpy(last, line);
    }
    fclose(f);
    assert_true(strncmp(last, "100/100 done (100.0%), 2 failed", 31) == 0);
}

static int slow_task(errgroup *g, void *arg)
{
    (void)g;
    (void)arg;
    const struct timespec ms = {0, 1000 * 1000};
    nanosleep(&ms, NULL);
    return 0;
}

/* On a terminal: only redraws (carriage return, line, erase to end of line),
 * and a single newline, at the end. The number of redraws depends on timing
 * (zero is allowed), so only their form is checked. */
static void test_progress_monitor_redraws_one_line_on_a_terminal(void **state)
{
    (void)state;
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(master >= 0);
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    assert_true(slave >= 0);
    struct termios tio;
    assert_int_equal(tcgetattr(slave, &tio), 0);
    tio.c_oflag &= ~(tcflag_t)OPOST; /* bytes as written: no \n -> \r\n */
    assert_int_equal(tcsetattr(slave, TCSANOW, &tio), 0);
    FILE *tty = fdopen(slave, "w");
    assert_non_null(tty);
    errgroup g;
    errgroup_progress p;
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_progress_start(&p, &g, tty, 400, 0), 0);
    int refused = 0;
#pragma omp parallel
#pragma omp single
    {
        for (int i = 0; i < 400; i++)
            refused += errgroup_go(&g, slow_task, NULL) != 0;
        (void)errgroup_wait(&g);
    }
    assert_int_equal(refused, 0);
    assert_int_equal(errgroup_progress_stop(&p), 0);
    assert_int_equal(errgroup_destroy(&g), 0);
    fclose(tty);
    static char out[65536];
    size_t len = 0;
    ssize_t r;
    /* The slave is closed: read what is buffered until EIO/EOF. */
    while (len < sizeof out - 1 && (r = read(master, out + len, sizeof out - 1 - len)) > 0)
        len += (size_t)r;
    out[len] = '\0';
    close(master);
    const char *final = "\r400/400 done (100.0%), 0 failed, ";
    const char *last = strstr(out, final);
    assert_non_null(last);
    assert_true(len >= 4 && strcmp(out + len - 4, "\033[K\n") == 0);
    assert_ptr_equal(strchr(out, '\n'), out + len - 1); /* one newline, at the end */
    for (const char *c = out; (c = strchr(c, '\r')) != NULL; c++) {
        const char *end = strstr(c, "\033[K");
        assert_non_null(end);
        assert_non_null(strstr(c, " done ("));
        assert_true(strchr(c + 1, '\r') == NULL || strchr(c + 1, '\r') > end);
    }
}

int main(void)
{
    /* The stress tests ask for 16 threads. Start them first: when LLVM's
     * libomp grows its pool after a smaller team existed, LeakSanitizer
     * reports the first team's thread descriptors as leaked (clang ASan). */
    int team = 0;
#pragma omp parallel num_threads(16)
#pragma omp single
    team = omp_get_num_threads();
    (void)team;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_going_loop_runs_every_chunk),
        cmocka_unit_test(test_keep_going_loop_check_skips_nothing),
        cmocka_unit_test(test_keep_going_go_keeps_accepting),
        cmocka_unit_test(test_keep_going_cancel_timeout_parent_still_cancel),
        cmocka_unit_test(test_batch_setters_follow_config_rules),
        cmocka_unit_test(test_error_log_stress_lowest),
        cmocka_unit_test(test_error_log_first_error_mode),
        cmocka_unit_test(test_error_log_ties_by_code),
        cmocka_unit_test(test_progress_format_is_exact),
        cmocka_unit_test(test_progress_monitor_writes_plain_lines_to_a_file),
        cmocka_unit_test(test_progress_monitor_redraws_one_line_on_a_terminal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
