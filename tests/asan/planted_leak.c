/*
 * Self-check for the leak-checking setup: every task of a group allocates a
 * buffer and drops the only pointer to it. Under AddressSanitizer with the
 * runtime options our tests use, LeakSanitizer MUST report these leaks; CI
 * fails if it does not, because then a clean run proves nothing.
 */
#include <errgroup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int submit(errgroup *g, void *arg)
{
    (void)arg;
    for (int i = 0; i < 64; i++)
        if (errgroup_go(g, leaky, NULL) != 0)
            return 1;
    return 0;
}

int main(void)
{
    errgroup g;
    if (errgroup_init(&g) != 0)
        return 2;
    int rc = errgroup_run(&g, submit, NULL);
    printf("rc=%d\n", rc);
    return errgroup_destroy(&g) != 0 || rc != 0;
}
