/*
 * errgroup_mpi under mpiexec: test_mpi NP LEVEL, where NP is the world size
 * the run must have (asserted: a mismatched launcher runs NP one-rank worlds)
 * and LEVEL is "multiple" or "funneled" (the MPI thread level asked for).
 * Every rank runs every test in the same order; the test thread asserts.
 */
#define _POSIX_C_SOURCE 200809L
#include <errgroup_mpi.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test_util.h"

static int world_rank, world_size, expected_size;

/* What a rank ended with; compared across ranks. */
struct outcome {
    int rc, code, error_rank;
    int64_t index;
    char message[ERRGROUP_MESSAGE_MAX];
};

/* Every rank has exactly the outcome of rank 0; returns it. */
static struct outcome expect_same_everywhere(const errgroup *g, int rc)
{
    struct outcome mine;
    memset(&mine, 0, sizeof mine);
    errgroup_error e;
    assert_int_equal(errgroup_first_error(g, &e), 0);
    mine.rc = rc;
    mine.code = e.code;
    mine.index = e.index;
    mine.error_rank = errgroup_mpi_error_rank(g);
    memcpy(mine.message, e.message, sizeof mine.message);
    struct outcome *all = calloc((size_t)world_size, sizeof *all);
    assert_non_null(all);
    MPI_Allgather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE,
                  MPI_COMM_WORLD);
    for (int r = 0; r < world_size; r++) {
        assert_int_equal(all[r].rc, all[0].rc);
        assert_int_equal(all[r].code, all[0].code);
        assert_int_equal(all[r].index, all[0].index);
        assert_int_equal(all[r].error_rank, all[0].error_rank);
        assert_string_equal(all[r].message, all[0].message);
    }
    assert_int_equal(mine.rc, mine.code);
    free(all);
    return mine;
}

/* A task that runs until the group is cancelled (the safety cap only turns a
 * hang into a failed assertion). *arg: bodies run minus bodies that saw the
 * cancel, 0 when all did. */
static int spin_until_canceled(errgroup *g, void *arg)
{
    __atomic_fetch_sub((int *)arg, 1, __ATOMIC_RELAXED);
    double give_up = now_s() + SAFETY_CAP_S;
    while (!errgroup_canceled(g) && now_s() < give_up)
        sched_yield();
    if (errgroup_canceled(g) == 1)
        __atomic_fetch_add((int *)arg, 1, __ATOMIC_RELAXED);
    return 0;
}

struct plan {
    int fail_rank; /* -1: every rank fails */
    int how;       /* 0 fail, 1 cancel, 2 timeout */
    int saw;       /* spinners that ran minus those that saw the cancel */
};

static int fail_task(errgroup *g, void *arg)
{
    struct plan *p = arg;
    if (p->how == 1)
        return errgroup_cancel(g);
    if (p->how == 2) { /* and watch it pass: the deadline is noticed when someone looks */
        int rc = errgroup_set_timeout(g, 0.02);
        double give_up = now_s() + SAFETY_CAP_S;
        while (errgroup_canceled(g) == 0 && now_s() < give_up)
            sched_yield();
        return rc;
    }
    return errgroup_fail(g, 100 + world_rank, ERRGROUP_NO_INDEX, "rank %d failed", world_rank);
}

static int submit(errgroup *g, void *arg)
{
    struct plan *p = arg;
    /* The failing rank only fails (a spinner could take its only thread).
     * The others spin on every thread of the team, the main thread
     * included, which under FUNNELED is the only one that polls. */
    if (p->fail_rank < 0 || p->fail_rank == world_rank) {
        (void)errgroup_go(g, fail_task, p);
        return 0;
    }
    for (int i = 0; i < omp_get_num_threads(); i++)
        if (errgroup_go(g, spin_until_canceled, &p->saw) != 0)
            return 0;
    return 0;
}

static void run_plan(int fail_rank, int how, int want_code)
{
    errgroup g;
    assert_int_equal(errgroup_mpi_init(&g, MPI_COMM_WORLD), 0);
    struct plan p = {fail_rank, how, 0};
    int rc = errgroup_run(&g, submit, &p);
    assert_int_equal(p.saw, 0); /* every spinner that ran was stopped by a cancel */
    struct outcome o = expect_same_everywhere(&g, rc);
    int wrc = errgroup_wait(&g);
    assert_int_equal(wrc, rc);
    expect_same_everywhere(&g, wrc);
    if (fail_rank >= 0) {
        assert_int_equal(o.error_rank, fail_rank);
        if (want_code == 0)
            want_code = 100 + fail_rank;
    } else {
        assert_true(o.error_rank >= 0 && o.error_rank < world_size);
        want_code = 100 + o.error_rank; /* one that really failed */
    }
    assert_int_equal(o.code, want_code);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_world_size_is_expected(void **state)
{
    (void)state;
    assert_int_equal(world_size, expected_size);
}

static void test_wait_no_error(void **state)
{
    (void)state;
    errgroup g;
    assert_int_equal(errgroup_mpi_init(&g, MPI_COMM_WORLD), 0);
    int rc = errgroup_wait(&g);
    assert_int_equal(rc, 0);
    struct outcome o = expect_same_everywhere(&g, rc);
    assert_int_equal(o.error_rank, -1);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_error_on_rank0_stops_all(void **state)
{
    (void)state;
    run_plan(0, 0, 0);
}

static void test_error_on_last_rank_stops_all(void **state)
{
    (void)state;
    run_plan(world_size - 1, 0, 0);
}

static void test_errors_on_all_ranks_agree_on_one(void **state)
{
    (void)state;
    for (int rep = 0; rep < 20; rep++)
        run_plan(-1, 0, 0);
}

static void test_cancel_on_last_rank_is_ecanceled_everywhere(void **state)
{
    (void)state;
    run_plan(world_size - 1, 1, ERRGROUP_ECANCELED);
}

static void test_deadline_on_rank0_is_etimedout_everywhere(void **state)
{
    (void)state;
    run_plan(0, 2, ERRGROUP_ETIMEDOUT);
}

/* Nobody has sent anything when every rank records its error (a rank sends
 * only at a check after its own failure), so all offer: rank 0 wins. */
static void test_wait_all_fail_before_any_check_lowest_rank_wins(void **state)
{
    (void)state;
    errgroup g;
    assert_int_equal(errgroup_mpi_init(&g, MPI_COMM_WORLD), 0);
    assert_int_equal(errgroup_fail(&g, 100 + world_rank, world_rank, "rank %d", world_rank),
                     100 + world_rank);
    MPI_Barrier(MPI_COMM_WORLD);
    int rc = errgroup_wait(&g);
    struct outcome o = expect_same_everywhere(&g, rc);
    assert_int_equal(rc, 100);
    assert_int_equal(o.index, 0);
    assert_string_equal(o.message, "rank 0");
    assert_int_equal(o.error_rank, 0);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* The failure comes while the owner is already inside errgroup_wait. */
static int late_fail(errgroup *g, void *arg)
{
    (void)arg;
    const struct timespec pause = {0, 20000000};
    nanosleep(&pause, NULL);
    return errgroup_fail(g, 77, 5, "late on rank %d", world_rank);
}

static void test_failure_during_wait(void **state)
{
    (void)state;
    for (int target = 0; target < world_size; target++) {
        errgroup g;
        assert_int_equal(errgroup_mpi_init(&g, MPI_COMM_WORLD), 0);
        int saw = 0, rc = 0;
#pragma omp parallel num_threads(2)
#pragma omp master
        {
            /* As many spinners as threads: one runs on the main thread,
             * which under FUNNELED is the only one that polls the peers (a
             * main thread blocked in the wait does not). */
            if (world_rank == target)
                (void)errgroup_go(&g, late_fail, NULL);
            else
                for (int i = 0; i < omp_get_num_threads(); i++)
                    (void)errgroup_go(&g, spin_until_canceled, &saw);
            rc = errgroup_wait(&g);
        }
        assert_int_equal(saw, 0); /* ran minus saw the cancel */
        struct outcome o = expect_same_everywhere(&g, rc);
        assert_int_equal(rc, 77);
        assert_int_equal(o.error_rank, target);
        assert_int_equal(o.index, 5);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

/* Lowest-index mode: failures at these global indices; the agreed one is
 * exactly the lowest, for every world size. */
static const int64_t bad[] = {9000, 4711, 40000, 12345};

static int check_items(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)arg;
    for (int64_t i = lo; i < hi; i++)
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
            if (i == bad[k])
                return errgroup_fail(g, 42, i, "item %lld is bad", (long long)i);
    return 0;
}

static void test_mpi_for_lowest_index_is_exact(void **state)
{
    (void)state;
    for (int rep = 0; rep < 10; rep++) {
        errgroup g;
        assert_int_equal(errgroup_mpi_init(&g, MPI_COMM_WORLD), 0);
        assert_int_equal(errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX), 0);
        assert_int_equal(errgroup_set_chunk(&g, 64), 0);
        int rc = errgroup_mpi_for(&g, 0, 50000, check_items, NULL);
        struct outcome o = expect_same_everywhere(&g, rc);
        assert_int_equal(rc, 42);
        assert_int_equal(o.index, 4711);
        assert_string_equal(o.message, "item 4711 is bad");
        /* The owner of 4711 in the block split of [0, 50000). */
        int64_t q = 50000 / world_size, extra = 50000 % world_size, owner = 0;
        for (int64_t r = 0, lo = 0; r < world_size; r++) {
            int64_t len = q + (r < extra);
            if (4711 >= lo && 4711 < lo + len)
                owner = r;
            lo += len;
        }
        assert_int_equal(o.error_rank, owner);
        assert_int_equal(errgroup_destroy(&g), 0); /* collective, without wait */
    }
}

static int count_items(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)g;
    __atomic_fetch_add((int64_t *)arg, hi - lo, __ATOMIC_RELAXED);
    return 0;
}

static void test_mpi_for_splits_the_range(void **state)
{
    (void)state;
    errgroup g;
    assert_int_equal(errgroup_mpi_init(&g, MPI_COMM_WORLD), 0);
    int64_t mine = 0, total = 0;
    assert_int_equal(errgroup_mpi_for(&g, -3, 1000, count_items, &mine), 0);
    MPI_Allreduce(&mine, &total, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    assert_int_equal(total, 1003);
    assert_true(mine == 1003 / world_size || mine == 1003 / world_size + 1);
    assert_int_equal(errgroup_mpi_for(&g, 0, 0, count_items, &mine), 0);
    assert_int_equal(errgroup_mpi_for(&g, 5, 0, count_items, &mine), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(errgroup_mpi_for(&g, 0, 10, count_items, &mine), ERRGROUP_ECLOSED);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* A rank waiting for a message the failed rank never sends gets ECANCELED. */
static void test_wait_request_returns_ecanceled(void **state)
{
    (void)state;
    errgroup g;
    assert_int_equal(errgroup_mpi_init(&g, MPI_COMM_WORLD), 0);
    int rc;
    if (world_rank == 0) {
        (void)errgroup_fail(&g, 55, 0, "rank 0 will not send");
        rc = 55;
    } else {
        int buf = 0;
        MPI_Request req;
        MPI_Irecv(&buf, 1, MPI_INT, 0, 99, MPI_COMM_WORLD, &req);
        rc = errgroup_mpi_wait_request(&g, &req, MPI_STATUS_IGNORE);
        assert_int_equal(rc, ERRGROUP_ECANCELED);
        assert_true(req != MPI_REQUEST_NULL); /* left active */
        MPI_Status st;
        MPI_Cancel(&req);
        MPI_Wait(&req, &st);
        int cancelled = 0;
        MPI_Test_cancelled(&st, &cancelled);
        assert_true(cancelled);
    }
    int wrc = errgroup_wait(&g);
    assert_int_equal(wrc, 55);
    expect_same_everywhere(&g, wrc);
    (void)rc;
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_wait_request_completes(void **state)
{
    (void)state;
    errgroup g;
    assert_int_equal(errgroup_mpi_init(&g, MPI_COMM_WORLD), 0);
    int next = (world_rank + 1) % world_size, prev = (world_rank + world_size - 1) % world_size;
    int out = world_rank, in = -1;
    MPI_Request sreq, rreq;
    MPI_Irecv(&in, 1, MPI_INT, prev, 98, MPI_COMM_WORLD, &rreq);
    MPI_Isend(&out, 1, MPI_INT, next, 98, MPI_COMM_WORLD, &sreq);
    MPI_Status st;
    assert_int_equal(errgroup_mpi_wait_request(&g, &rreq, &st), 0);
    assert_true(rreq == MPI_REQUEST_NULL);
    assert_int_equal(st.MPI_SOURCE, prev);
    assert_int_equal(in, prev);
    assert_int_equal(errgroup_mpi_wait_request(&g, &sreq, MPI_STATUS_IGNORE), 0);
    assert_int_equal(errgroup_mpi_wait_request(NULL, &sreq, MPI_STATUS_IGNORE), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_mpi_wait_request(&g, NULL, MPI_STATUS_IGNORE), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(errgroup_destroy(&g), 0);
}

/* Internal messages never match a user's MPI_ANY_SOURCE/ANY_TAG receive. */
static void test_user_wildcard_receive_sees_no_internal_message(void **state)
{
    (void)state;
    errgroup g;
    assert_int_equal(errgroup_mpi_init(&g, MPI_COMM_WORLD), 0);
    (void)errgroup_fail(&g, 9, 0, "stop");
    assert_int_equal(errgroup_canceled(&g), 1); /* this check sends our stop */
    MPI_Barrier(MPI_COMM_WORLD);
    int flag = 1;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
    assert_false(flag);
    assert_int_equal(errgroup_wait(&g), 9);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static int never_run(errgroup *g, void *arg)
{
    (void)g;
    *(int *)arg = 1;
    return 0;
}

/* Once a peer's stop arrived, this rank's go and errgroup_for start nothing. */
static void test_remote_stop_makes_go_ecanceled(void **state)
{
    (void)state;
    errgroup g;
    assert_int_equal(errgroup_mpi_init(&g, MPI_COMM_WORLD), 0);
    int last = world_size - 1, ran = 0;
    if (world_rank == last) {
        assert_int_equal(errgroup_fail(&g, 31, 3, "from the last rank"), 31);
        assert_int_equal(errgroup_canceled(&g), 1); /* sends */
    } else {
        double give_up = now_s() + SAFETY_CAP_S;
        while (errgroup_canceled(&g) != 1 && now_s() < give_up)
            sched_yield();
        assert_int_equal(errgroup_canceled(&g), 1);
        errgroup_error e;
        assert_int_equal(errgroup_first_error(&g, &e), 0);
        assert_int_equal(e.code, ERRGROUP_ECANCELED); /* derived, until the agreement */
        assert_string_equal(e.message, "canceled by a peer");
        assert_int_equal(errgroup_go(&g, never_run, &ran), ERRGROUP_ECANCELED);
    }
    int rc = errgroup_wait(&g);
    assert_int_equal(ran, 0);
    struct outcome o = expect_same_everywhere(&g, rc);
    assert_int_equal(rc, 31);
    assert_int_equal(o.index, 3);
    assert_string_equal(o.message, "from the last rank");
    assert_int_equal(o.error_rank, last);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_misuse_is_einval(void **state)
{
    (void)state;
    assert_int_equal(errgroup_mpi_init(NULL, MPI_COMM_WORLD), ERRGROUP_EINVAL);
    errgroup g;
    assert_int_equal(errgroup_mpi_init(&g, MPI_COMM_NULL), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_mpi_error_rank(&g), -1);
    assert_int_equal(errgroup_mpi_for(&g, 0, 1, count_items, NULL), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_destroy(&g), 0);
    assert_int_equal(errgroup_mpi_error_rank(NULL), -1);
}

/* Under FUNNELED only the main thread may initialise. */
static void test_funneled_init_off_main_thread_is_einval(void **state)
{
    (void)state;
    int level = 0;
    MPI_Query_thread(&level);
    if (level >= MPI_THREAD_MULTIPLE)
        skip();
    int rc = 0;
#pragma omp parallel num_threads(2)
    if (omp_get_thread_num() == 1) {
        errgroup g;
        rc = errgroup_mpi_init(&g, MPI_COMM_WORLD);
    }
    if (omp_get_max_threads() >= 2)
        assert_int_equal(rc, ERRGROUP_EINVAL);
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[2], "multiple") != 0 && strcmp(argv[2], "funneled") != 0)) {
        fprintf(stderr, "usage: test_mpi NP multiple|funneled\n");
        return 2;
    }
    int want = strcmp(argv[2], "multiple") == 0 ? MPI_THREAD_MULTIPLE : MPI_THREAD_FUNNELED;
    int provided = 0;
    MPI_Init_thread(&argc, &argv, want, &provided);
    if (provided < want) {
        fprintf(stderr, "MPI gave thread level %d < %d\n", provided, want);
        MPI_Finalize();
        return 1;
    }
    expected_size = atoi(argv[1]);
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_world_size_is_expected),
        cmocka_unit_test(test_wait_no_error),
        cmocka_unit_test(test_error_on_rank0_stops_all),
        cmocka_unit_test(test_error_on_last_rank_stops_all),
        cmocka_unit_test(test_errors_on_all_ranks_agree_on_one),
        cmocka_unit_test(test_cancel_on_last_rank_is_ecanceled_everywhere),
        cmocka_unit_test(test_deadline_on_rank0_is_etimedout_everywhere),
        cmocka_unit_test(test_wait_all_fail_before_any_check_lowest_rank_wins),
        cmocka_unit_test(test_failure_during_wait),
        cmocka_unit_test(test_mpi_for_lowest_index_is_exact),
        cmocka_unit_test(test_mpi_for_splits_the_range),
        cmocka_unit_test(test_wait_request_returns_ecanceled),
        cmocka_unit_test(test_wait_request_completes),
        cmocka_unit_test(test_user_wildcard_receive_sees_no_internal_message),
        cmocka_unit_test(test_remote_stop_makes_go_ecanceled),
        cmocka_unit_test(test_misuse_is_einval),
        cmocka_unit_test(test_funneled_init_off_main_thread_is_einval),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return failed == 0 ? 0 : 1;
}
