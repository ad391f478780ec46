/*
 * The annotated loop of bench_loop's failure part, included by two files: by
 * bench_loop.c with the default macros (remaining iterations are skipped one
 * check each) and by bench_loop_cancel.c with ERRGROUP_LOOP_OMP_CANCEL
 * defined (the macros also run `omp cancel for`). The includer defines
 * ANNOTATED_FAIL_FN, the function's name.
 *
 * ANNOTATED_FAIL_FN(n, fail_at, &executed): runs the loop over [0, n) on a
 * fresh group, iteration fail_at fails with EDOM; returns the wait's code and
 * stores the number of bodies that ran in *executed.
 */
#include <errgroup.h>
#include <errno.h>
#include <stdint.h>

int ANNOTATED_FAIL_FN(int64_t n, int64_t fail_at, int64_t *executed);

int ANNOTATED_FAIL_FN(int64_t n, int64_t fail_at, int64_t *executed)
{
    errgroup g;
    int64_t total = 0;
    double sink = 0;
    if (errgroup_init(&g) != 0)
        return -1;
    /* `parallel` + `for`: gcc ignores `cancel for` in the combined form. */
#pragma omp parallel reduction(+ : sink)
    {
        int64_t done = 0;
        double acc = 0;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; i++) {
            ERRGROUP_LOOP_CHECK(&g, i);
            if (i == fail_at) {
                ERRGROUP_LOOP_FAIL(&g, EDOM, i, "iteration %lld failed", (long long)i);
            }
            acc += (double)(i & 7); /* the cheap body, as in bench_loop.c */
            done++;
        }
        /* After the loop, not a reduction on it: a cancelled loop leaves
         * its reductions unspecified; the parallel region's are fine. */
#pragma omp atomic
        total += done;
        sink = acc;
    }
    int rc = errgroup_wait(&g);
    errgroup_destroy(&g);
    *executed = total;
    return sink < 0 ? -2 : rc; /* sink is never negative: keeps the body alive */
}
