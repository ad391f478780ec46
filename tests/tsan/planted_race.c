/*
 * Self-check for the race-checking setup: two tasks of a group write one plain
 * int without synchronisation. Under ThreadSanitizer + Archer this MUST be
 * reported; CI fails if it is not, because then a clean TSan run proves nothing.
 */
#include <errgroup.h>
#include <stdio.h>

static int unguarded;

static int racy(errgroup *g, void *arg)
{
    (void)g;
    (void)arg;
    unguarded++; /* the planted race */
    return 0;
}

static int submit(errgroup *g, void *arg)
{
    (void)arg;
    for (int i = 0; i < 64; i++)
        if (errgroup_go(g, racy, NULL) != 0)
            return 1;
    return 0;
}

int main(void)
{
    errgroup g;
    if (errgroup_init(&g) != 0)
        return 2;
    int rc = errgroup_run(&g, submit, NULL);
    printf("rc=%d unguarded=%d\n", rc, unguarded);
    return errgroup_destroy(&g) != 0 || rc != 0;
}
