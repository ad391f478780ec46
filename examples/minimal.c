/* minimal: four tasks, one fails; errgroup_wait returns the first error. */
#include <errgroup.h>

#include <errno.h>
#include <stdio.h>

static int work(errgroup *g, void *arg)
{
    int item = *(int *)arg;
    if (item == 2)
        return errgroup_fail(g, ENOENT, item, "item %d: input file missing", item);
    return 0; /* items 0, 1 and 3 succeed */
}

int main(void)
{
    int items[] = {0, 1, 2, 3}, rc;
    errgroup g;
    if ((rc = errgroup_init(&g)) != 0) {
        fprintf(stderr, "errgroup_init: %s\n", errgroup_strerror(rc));
        return 1;
    }
#pragma omp parallel
#pragma omp single
    {
        for (int i = 0; i < 4; i++)
            if (errgroup_go(&g, work, &items[i]) != 0) /* ECANCELED: stop submitting */
                break;
        rc = errgroup_wait(&g);
    }
    errgroup_error e;
    if (errgroup_first_error(&g, &e) != 0 || errgroup_destroy(&g) != 0)
        return 1;
    printf("wait returned %d (%s); first error: index %lld, \"%s\"\n", rc,
           errgroup_strerror(rc), (long long)e.index, e.message);
    return rc == ENOENT && e.code == ENOENT && e.index == 2 ? 0 : 1;
}
