/*
 * Child groups at depth: the cost of errgroup_canceled() on the deepest of a
 * chain of nested groups (nothing happened; with a deadline on the root), of
 * building the chain (errgroup_init + errgroup_init_child, per level), and of
 * one cancel of the root reaching the whole chain (per level: a stop is
 * pushed down once, so it is linear in the subtree). Each figure is a median
 * over `reps`; the ratio column is against depth 1 measured in the same run,
 * so O(1) in depth reads as ~1.0.
 *
 * usage: bench_tree [REPS]
 */
#include "bench_util.h"

#include "errgroup.h"

enum { POLLS = 1000000 };

struct chain {
    errgroup *gs;
    int depth;
};

static void build(struct chain *c, int depth)
{
    c->depth = depth;
    c->gs = malloc((size_t)depth * sizeof *c->gs);
    if (c->gs == NULL || errgroup_init(&c->gs[0]) != 0)
        abort();
    for (int i = 1; i < depth; i++)
        if (errgroup_init_child(&c->gs[i], &c->gs[i - 1]) != 0)
            abort();
}

static void teardown(struct chain *c)
{
    for (int i = c->depth - 1; i >= 0; i--) {
        errgroup_wait(&c->gs[i]);
        errgroup_destroy(&c->gs[i]);
    }
    free(c->gs);
}

/* ns per errgroup_canceled() on the leaf. */
static double poll_ns(struct chain *c)
{
    errgroup *leaf = &c->gs[c->depth - 1];
    int sum = 0;
    double t0 = bench_now();
    for (int i = 0; i < POLLS; i++)
        sum += errgroup_canceled(leaf);
    double t = bench_now() - t0;
    if (sum != 0)
        abort(); /* nothing was cancelled */
    return t / POLLS * 1e9;
}

int main(int argc, char **argv)
{
    int reps = bench_reps(argc, argv, 7);
    static const int depths[] = {1, 100, 10000, 200000};
    enum { ND = sizeof depths / sizeof depths[0] };
    double poll[ND][BENCH_MAX_REPS], poll_dl[ND][BENCH_MAX_REPS];
    double init[ND][BENCH_MAX_REPS], cancel[ND][BENCH_MAX_REPS];
    bench_header("bench_tree", reps);
    for (int r = 0; r < reps; r++) {
        for (int d = 0; d < ND; d++) {
            struct chain c;
            double t0 = bench_now();
            build(&c, depths[d]);
            init[d][r] = (bench_now() - t0) / depths[d] * 1e9;
            poll[d][r] = poll_ns(&c);
            errgroup_set_timeout(&c.gs[0], 3600);
            poll_dl[d][r] = poll_ns(&c);
            t0 = bench_now();
            errgroup_cancel(&c.gs[0]);
            cancel[d][r] = (bench_now() - t0) / depths[d] * 1e9;
            if (errgroup_canceled(&c.gs[depths[d] - 1]) != 1)
                abort();
            teardown(&c);
        }
    }
    printf("\n### Child groups at depth (ratio: to depth 1 in the same run)\n\n");
    printf("| measure | depth | median | ratio |\n| --- | --- | --- | --- |\n");
    const char *names[] = {"canceled() on the leaf, nothing set", "canceled() on the leaf, deadline on the root",
                           "init (+ init_child), per level", "cancel of the root, per level reached"};
    double (*all[])[BENCH_MAX_REPS] = {poll, poll_dl, init, cancel};
    for (int m = 0; m < 4; m++) {
        double base = bench_median(all[m][0], reps);
        for (int d = 0; d < ND; d++) {
            double v = bench_median(all[m][d], reps);
            printf("| %s | %d | %.2f ns | %.2f |\n", names[m], depths[d], v, v / base);
        }
    }
    return 0;
}
