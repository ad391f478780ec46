/* Uses the installed library: one failing task out of 100 must be reported. */
#include <errgroup.h>
#include <stdio.h>

static int work(errgroup *g, void *arg)
{
    int i = (int)(long)arg;
    return i == 37 ? errgroup_fail(g, 5, i, "item %d failed", i) : 0;
}

static int submit(errgroup *g, void *arg)
{
    (void)arg;
    for (long i = 0; i < 100; i++)
        if (errgroup_go(g, work, (void *)i) != 0)
            break;
    return 0;
}

int main(void)
{
    errgroup g;
    errgroup_error e;
    if (errgroup_init(&g) != 0)
        return 2;
    int rc = errgroup_run(&g, submit, NULL);
    if (errgroup_first_error(&g, &e) != 0 || errgroup_destroy(&g) != 0)
        return 2;
    printf("errgroup %s: rc=%d index=%lld message=%s\n", errgroup_version_string(), rc,
           (long long)e.index, e.message);
    return rc == 5 && e.index == 37 ? 0 : 1;
}
