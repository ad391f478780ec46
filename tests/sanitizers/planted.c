/*
 * Self-check for the sanitizer setups: a clean run proves something only if
 * the same setup catches a real bug. `planted race`: 64 tasks of a group
 * write one plain int without synchronisation, which ThreadSanitizer +
 * Archer MUST report. `planted leak`: 64 tasks each allocate a buffer and
 * drop the only pointer to it, which LeakSanitizer MUST report with the
 * runtime options our tests use. CI fails if the report is missing.
 */
#include <errgroup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unguarded;

static int entered; /* relaxed only: it must not order the race away */

static int racy(errgroup *g, void *arg)
{
    (void)g;
    (void)arg;
    /* Overlap with a second body, so that the race happens even when the
     * machine is loaded and one thread would otherwise run every task. The
     * spin is bounded: a lone body gives up after about 10^8 loads. */
    __atomic_fetch_add(&entered, 1, __ATOMIC_RELAXED);
    for (long spins = 0; spins < 100000000L && __atomic_load_n(&entered, __ATOMIC_RELAXED) < 2; spins++)
        ;
    unguarded++; /* the planted race */
    return 0;
}

static int leaky(errgroup *g, void *arg)
{
    (void)g;
    (void)arg;
    char *volatile buf = malloc(4096); /* the planted leak */
    if (buf == NULL)
        return 1;
    memset(buf, 1, 4096);
    buf = NULL;
    return 0;
}

static errgroup_fn *bug; /* racy or leaky */

static int submit(errgroup *g, void *arg)
{
    (void)arg;
    for (int i = 0; i < 64; i++)
        if (errgroup_go(g, bug, NULL) != 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    bug = argc == 2 && strcmp(argv[1], "race") == 0   ? racy
          : argc == 2 && strcmp(argv[1], "leak") == 0 ? leaky
                                                      : NULL;
    errgroup g;
    if (bug == NULL) {
        fprintf(stderr, "usage: planted race|leak\n");
        return 2;
    }
    if (errgroup_init(&g) != 0)
        return 2;
    int rc = errgroup_run(&g, submit, NULL);
    printf("rc=%d unguarded=%d\n", rc, unguarded);
    return errgroup_destroy(&g) != 0 || rc != 0;
}
