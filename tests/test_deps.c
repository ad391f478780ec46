/*
 * errgroup_go_deps: OpenMP dependence order between sibling tasks (a chain,
 * a diamond, readers and a writer, a long list), skipped tasks releasing
 * their successors, errors and ordinals, bad arguments.
 *
 * Each body takes a ticket from a shared counter when it runs; a task that
 * depends on another must hold a later ticket. Assertions run on the test
 * thread after the wait.
 *
 * Graphs are built under `omp master`, not `single`: libgomp 12 never frees
 * the dependence table of a worker thread's implicit task (LeakSanitizer).
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <omp.h>

#include "errgroup.h"
#include "test_util.h"

#define ROUNDS 50
#define MAXT 128

struct graph {
    int next_ticket;
    int ticket[MAXT]; /* -1: the body never ran */
    int released[MAXT];
    int fail_at;      /* this task returns 77 (-1: none) */
    int cancel_at;    /* this task calls errgroup_cancel (-1: none) */
    char cell[MAXT];  /* the storage dependences name */
};

struct node {
    struct graph *gr;
    int id;
};


static void release_node(void *arg)
{
    struct node *n = arg;
    __atomic_fetch_add(&n->gr->released[n->id], 1, __ATOMIC_RELAXED);
}

static int node_body(errgroup *g, void *arg)
{
    struct node *n = arg;
    /* A little work, so that a missing dependence shows up as a reordering. */
    for (int k = 0; k < 2000 * (n->id % 3); k++)
        __asm__ __volatile__("" ::: "memory");
    /* Relaxed: a dependence is a happens-before edge, so the predecessor's
     * increment precedes ours in the counter's modification order. */
    n->gr->ticket[n->id] = __atomic_fetch_add(&n->gr->next_ticket, 1, __ATOMIC_RELAXED);
    if (n->id == n->gr->cancel_at)
        errgroup_cancel(g);
    return n->id == n->gr->fail_at ? 77 : 0;
}

static void graph_init(struct graph *gr, struct node *nodes)
{
    memset(gr, 0, sizeof *gr);
    for (int i = 0; i < MAXT; i++) {
        gr->ticket[i] = -1;
        nodes[i] = (struct node){gr, i};
    }
    gr->fail_at = -1;
    gr->cancel_at = -1;
}

/* Chain: task i reads cell[i-1] and writes cell[i]. */
static int submit_chain(errgroup *g, struct graph *gr, struct node *nodes, int n)
{
    int accepted = 0;
    for (int i = 0; i < n; i++) {
        errgroup_dep d[2] = {{&gr->cell[i], ERRGROUP_DEP_OUT},
                             {i > 0 ? &gr->cell[i - 1] : &gr->cell[i], ERRGROUP_DEP_IN}};
        if (errgroup_go_deps(g, node_body, &nodes[i], d, i > 0 ? 2 : 1) != 0)
            break;
        accepted++;
    }
    return accepted;
}

static void test_go_deps_chain_runs_in_order(void **state)
{
    (void)state;
    for (int round = 0; round < ROUNDS; round++) {
        struct graph gr;
        struct node nodes[MAXT];
        graph_init(&gr, nodes);
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        int accepted = 0, rc = -1;
#pragma omp parallel default(none) shared(g, gr, nodes, accepted, rc)
#pragma omp master
        {
            accepted = submit_chain(&g, &gr, nodes, 64);
            rc = errgroup_wait(&g);
        }
        assert_int_equal(accepted, 64);
        assert_int_equal(rc, 0);
        for (int i = 0; i < 64; i++)
            assert_int_equal(gr.ticket[i], i);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

/* Diamond, repeated: top writes a; left and right read a and write b, c;
 * bottom reads b and c. Also a reader fan: 8 readers of a after top, then
 * a writer of a after all of them. */
static void test_go_deps_diamond_and_readers_in_order(void **state)
{
    (void)state;
    for (int round = 0; round < ROUNDS; round++) {
        struct graph gr;
        struct node nodes[MAXT];
        graph_init(&gr, nodes);
        char *a = &gr.cell[0], *b = &gr.cell[1], *c = &gr.cell[2];
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        int rc = -1, bad = 0;
#pragma omp parallel default(none) shared(g, nodes, a, b, c, rc, bad)
#pragma omp master
        {
            errgroup_dep top[1] = {{a, ERRGROUP_DEP_OUT}};
            errgroup_dep left[2] = {{a, ERRGROUP_DEP_IN}, {b, ERRGROUP_DEP_OUT}};
            errgroup_dep right[2] = {{a, ERRGROUP_DEP_IN}, {c, ERRGROUP_DEP_INOUT}};
            errgroup_dep bottom[2] = {{b, ERRGROUP_DEP_IN}, {c, ERRGROUP_DEP_IN}};
            errgroup_dep reader[1] = {{a, ERRGROUP_DEP_IN}};
            errgroup_dep writer[1] = {{a, ERRGROUP_DEP_INOUT}};
            bad |= errgroup_go_deps(&g, node_body, &nodes[0], top, 1);
            bad |= errgroup_go_deps(&g, node_body, &nodes[1], left, 2);
            bad |= errgroup_go_deps(&g, node_body, &nodes[2], right, 2);
            bad |= errgroup_go_deps(&g, node_body, &nodes[3], bottom, 2);
            for (int i = 4; i < 12; i++)
                bad |= errgroup_go_deps(&g, node_body, &nodes[i], reader, 1);
            bad |= errgroup_go_deps(&g, node_body, &nodes[12], writer, 1);
            rc = errgroup_wait(&g);
        }
        assert_int_equal(bad, 0);
        assert_int_equal(rc, 0);
        const int *t = gr.ticket;
        assert_true(t[0] < t[1] && t[0] < t[2]);
        assert_true(t[1] < t[3] && t[2] < t[3]);
        for (int i = 4; i < 12; i++) {
            assert_true(t[0] < t[i]);
            assert_true(t[i] < t[12]);
        }
        /* The writer of a also comes after left and right, which read a. */
        assert_true(t[1] < t[12] && t[2] < t[12]);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

/* More dependences than go_deps partitions on the stack: task 0 writes 40
 * cells, task 1 reads all 40 then writes one more, task 2 reads the last. */
static void test_go_deps_long_list_in_order(void **state)
{
    (void)state;
    for (int round = 0; round < ROUNDS; round++) {
        struct graph gr;
        struct node nodes[MAXT];
        graph_init(&gr, nodes);
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        int rc = -1, bad = 0;
#pragma omp parallel default(none) shared(g, gr, nodes, rc, bad)
#pragma omp master
        {
            errgroup_dep d[41];
            for (int i = 0; i < 40; i++)
                d[i] = (errgroup_dep){&gr.cell[10 + i], ERRGROUP_DEP_OUT};
            bad |= errgroup_go_deps(&g, node_body, &nodes[0], d, 40);
            for (int i = 0; i < 40; i++)
                d[i].kind = ERRGROUP_DEP_IN;
            d[40] = (errgroup_dep){&gr.cell[5], ERRGROUP_DEP_OUT};
            bad |= errgroup_go_deps(&g, node_body, &nodes[1], d, 41);
            bad |= errgroup_go_deps(&g, node_body, &nodes[2], &d[40], 1);
            rc = errgroup_wait(&g);
        }
        assert_int_equal(bad, 0);
        assert_int_equal(rc, 0);
        assert_int_equal(gr.ticket[0], 0);
        assert_int_equal(gr.ticket[1], 1);
        assert_int_equal(gr.ticket[2], 2);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

/* A failure in the middle of a chain: its successors are skipped (never
 * run), still released, and the wait returns instead of hanging. */
static void run_failing_chain(int mode, int fail_at, int cancel_at)
{
    for (int round = 0; round < ROUNDS; round++) {
        struct graph gr;
        struct node nodes[MAXT];
        graph_init(&gr, nodes);
        gr.fail_at = fail_at;
        gr.cancel_at = cancel_at;
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_mode(&g, mode), 0);
        assert_int_equal(errgroup_set_release(&g, release_node), 0);
        int accepted = 0, rc = -1;
#pragma omp parallel default(none) shared(g, gr, nodes, accepted, rc)
#pragma omp master
        {
            accepted = submit_chain(&g, &gr, nodes, 64);
            rc = errgroup_wait(&g);
        }
        int stop = fail_at >= 0 ? fail_at : cancel_at;
        assert_int_equal(rc, fail_at >= 0 ? 77 : ERRGROUP_ECANCELED);
        if (fail_at >= 0)
            EXPECT_FIRST_ERROR(&g, 77, fail_at, "");
        for (int i = 0; i <= stop; i++)
            assert_int_equal(gr.ticket[i], i);
        for (int i = stop + 1; i < 64; i++)
            assert_int_equal(gr.ticket[i], -1);
        /* go may refuse once the group is cancelled; every accepted task
         * was released once, and none that was refused. */
        assert_true(accepted > stop && accepted <= 64);
        for (int i = 0; i < 64; i++)
            assert_int_equal(gr.released[i], i < accepted ? 1 : 0);
        errgroup_counters cn;
        assert_int_equal(errgroup_get_counters(&g, &cn), 0);
        assert_int_equal(cn.submitted, accepted);
        assert_int_equal(cn.started, stop + 1);
        assert_int_equal(cn.finished, stop + 1);
        assert_int_equal(cn.skipped, accepted - stop - 1);
        assert_int_equal(cn.failed, fail_at >= 0 ? 1 : 0);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

static void test_go_deps_skipped_task_releases_successors(void **state)
{
    (void)state;
    run_failing_chain(ERRGROUP_FIRST_ERROR, 20, -1);
    run_failing_chain(ERRGROUP_FIRST_ERROR, -1, 5);
    run_failing_chain(ERRGROUP_LOWEST_INDEX, 20, -1);
    run_failing_chain(ERRGROUP_FIRST_ERROR, 0, -1);
}

/* Independent tasks fail (each writes its own cell): lowest-index mode
 * reports the lowest ordinal whatever the schedule. */
static void test_go_deps_lowest_index_reports_lowest_ordinal(void **state)
{
    (void)state;
    for (int round = 0; round < ROUNDS; round++) {
        struct graph gr;
        struct node nodes[MAXT];
        graph_init(&gr, nodes);
        gr.fail_at = 9;
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX), 0);
        int rc = -1;
#pragma omp parallel default(none) shared(g, gr, nodes, rc)
#pragma omp master
        {
            for (int i = 0; i < 32; i++) {
                errgroup_dep d[1] = {{&gr.cell[i], ERRGROUP_DEP_OUT}};
                if (errgroup_go_deps(&g, node_body, &nodes[i], d, 1) != 0)
                    break;
            }
            rc = errgroup_wait(&g);
        }
        assert_int_equal(rc, 77);
        EXPECT_FIRST_ERROR(&g, 77, 9, "");
        for (int i = 0; i <= 9; i++)
            assert_true(gr.ticket[i] >= 0);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

/* A body may spawn its own sub-graph; the wait covers it (deep wait), and
 * the children are ordered among themselves. */
static struct graph *nest_graph;
static int nest_parent(errgroup *g, void *arg)
{
    (void)arg;
    static struct node kids[8];
    for (int i = 0; i < 8; i++) {
        kids[i] = (struct node){nest_graph, 1 + i};
        errgroup_dep d[1] = {{&nest_graph->cell[0], ERRGROUP_DEP_INOUT}};
        if (errgroup_go_deps(g, node_body, &kids[i], d, 1) != 0)
            return 1;
    }
    return 0;
}

static void test_go_deps_nested_graph_is_waited_for(void **state)
{
    (void)state;
    for (int round = 0; round < ROUNDS; round++) {
        struct graph gr;
        struct node nodes[MAXT];
        graph_init(&gr, nodes);
        nest_graph = &gr;
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        int rc = -1;
#pragma omp parallel default(none) shared(g, rc)
#pragma omp master
        {
            errgroup_dep d[1] = {{&g, ERRGROUP_DEP_OUT}};
            int r = errgroup_go_deps(&g, nest_parent, NULL, d, 1);
            rc = errgroup_wait(&g);
            if (r != 0)
                rc = r;
        }
        assert_int_equal(rc, 0);
        for (int i = 1; i <= 8; i++)
            assert_int_equal(gr.ticket[i], i - 1);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

/* The same chain from an errgroup_run body (its tasks are covered by run's
 * taskgroup), with a failure: order, skipping and the error hold there too. */
static struct graph *run_graph;
static struct node *run_nodes;
static int submit_chain_body(errgroup *g, void *arg)
{
    (void)arg;
    submit_chain(g, run_graph, run_nodes, 64);
    return 0;
}

static void test_go_deps_from_run_body(void **state)
{
    (void)state;
    for (int round = 0; round < ROUNDS; round++) {
        struct graph gr;
        struct node nodes[MAXT];
        graph_init(&gr, nodes);
        gr.fail_at = 40;
        run_graph = &gr;
        run_nodes = nodes;
        errgroup g;
        assert_int_equal(errgroup_init(&g), 0);
        assert_int_equal(errgroup_run(&g, submit_chain_body, NULL), 77);
        EXPECT_FIRST_ERROR(&g, 77, 40, "");
        for (int i = 0; i < 64; i++)
            assert_int_equal(gr.ticket[i], i <= 40 ? i : -1);
        assert_int_equal(errgroup_wait(&g), 77);
        assert_int_equal(errgroup_destroy(&g), 0);
    }
}

/* Outside a parallel region the body runs at once, in call order. */
static void test_go_deps_outside_region_runs_at_once(void **state)
{
    (void)state;
    struct graph gr;
    struct node nodes[MAXT];
    graph_init(&gr, nodes);
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    errgroup_dep d[1] = {{&gr.cell[0], ERRGROUP_DEP_INOUT}};
    assert_int_equal(errgroup_go_deps(&g, node_body, &nodes[0], d, 1), 0);
    assert_int_equal(gr.ticket[0], 0);
    assert_int_equal(errgroup_go_deps(&g, node_body, &nodes[1], NULL, 0), 0);
    assert_int_equal(gr.ticket[1], 1);
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(errgroup_destroy(&g), 0);
}

static void test_go_deps_rejects_bad_arguments(void **state)
{
    (void)state;
    struct graph gr;
    struct node nodes[MAXT];
    graph_init(&gr, nodes);
    errgroup g;
    assert_int_equal(errgroup_init(&g), 0);
    errgroup_dep ok[1] = {{&gr.cell[0], ERRGROUP_DEP_IN}};
    errgroup_dep kind0[1] = {{&gr.cell[0], 0}};
    errgroup_dep kind4[2] = {{&gr.cell[0], ERRGROUP_DEP_IN}, {&gr.cell[1], 4}};
    errgroup_dep null_addr[1] = {{NULL, ERRGROUP_DEP_OUT}};
    assert_int_equal(errgroup_go_deps(&g, node_body, &nodes[0], ok, -1), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_go_deps(&g, node_body, &nodes[0], NULL, 1), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_go_deps(&g, node_body, &nodes[0], kind0, 1), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_go_deps(&g, node_body, &nodes[0], kind4, 2), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_go_deps(&g, node_body, &nodes[0], null_addr, 1), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_go_deps(&g, NULL, &nodes[0], ok, 1), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_go_deps(NULL, node_body, &nodes[0], ok, 1), ERRGROUP_EINVAL);
    /* None of them ran or took an ordinal. */
    for (int i = 0; i < MAXT; i++)
        assert_int_equal(gr.ticket[i], -1);
    errgroup_counters c;
    assert_int_equal(errgroup_get_counters(&g, &c), 0);
    assert_int_equal(c.submitted, 0);
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(errgroup_go_deps(&g, node_body, &nodes[0], ok, 1), ERRGROUP_ECLOSED);
    assert_int_equal(errgroup_destroy(&g), 0);
    assert_int_equal(errgroup_go_deps(&g, node_body, &nodes[0], ok, 1), ERRGROUP_EINVAL);

    /* A limit refuses go_deps, with or without dependences. */
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_set_limit(&g, 2), 0);
    assert_int_equal(errgroup_go_deps(&g, node_body, &nodes[0], ok, 1), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_go_deps(&g, node_body, &nodes[0], NULL, 0), ERRGROUP_EINVAL);
    assert_int_equal(errgroup_go(&g, node_body, &nodes[0]), 0);
    assert_int_equal(errgroup_wait(&g), 0);
    assert_int_equal(gr.ticket[0], 0);
    assert_int_equal(errgroup_destroy(&g), 0);

    /* Cancelled: refused with ECANCELED, nothing runs. */
    assert_int_equal(errgroup_init(&g), 0);
    assert_int_equal(errgroup_cancel(&g), 0);
    assert_int_equal(errgroup_go_deps(&g, node_body, &nodes[1], ok, 1), ERRGROUP_ECANCELED);
    assert_int_equal(gr.ticket[1], -1);
    assert_int_equal(errgroup_wait(&g), ERRGROUP_ECANCELED);
    assert_int_equal(errgroup_destroy(&g), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_go_deps_chain_runs_in_order),
        cmocka_unit_test(test_go_deps_diamond_and_readers_in_order),
        cmocka_unit_test(test_go_deps_long_list_in_order),
        cmocka_unit_test(test_go_deps_skipped_task_releases_successors),
        cmocka_unit_test(test_go_deps_lowest_index_reports_lowest_ordinal),
        cmocka_unit_test(test_go_deps_nested_graph_is_waited_for),
        cmocka_unit_test(test_go_deps_from_run_body),
        cmocka_unit_test(test_go_deps_outside_region_runs_at_once),
        cmocka_unit_test(test_go_deps_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
