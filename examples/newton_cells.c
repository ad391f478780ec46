/*
 * newton_cells: an existing `#pragma omp parallel for` made error-aware with
 * ERRGROUP_LOOP_CHECK / ERRGROUP_LOOP_FAIL. Each cell solves x^3 = c[i] by
 * Newton's method. Two cells cannot converge: c = NaN (a broken input) and
 * c = 0 (a triple root: Newton slows to linear and runs out of iterations).
 *
 *   newton_cells          reports cell 70000, exit status 1
 *   newton_cells --clean  no bad cells: exit status 0
 *
 * Lowest-index mode makes the report deterministic: whatever the thread
 * count and schedule, the error is the lowest failing cell, 70000. In the
 * default first-error mode a thread that reaches cell 200000 first would win.
 */
#include <errgroup.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NCELLS = 1 << 18, MAX_ITER = 50 };

/* Solve x^3 = c from x = 1. Returns 0, or -1 if not converged in MAX_ITER steps. */
static int cube_root(double c, double *root)
{
    double x = 1.0;
    for (int k = 0; k < MAX_ITER && isfinite(x); k++) {
        double dx = (x * x * x - c) / (3.0 * x * x);
        x -= dx;
        if (fabs(dx) <= 1e-14 * fabs(x)) {
            *root = x;
            return 0;
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    int clean = argc == 2 && strcmp(argv[1], "--clean") == 0;
    if (argc > 2 || (argc == 2 && !clean)) {
        fprintf(stderr, "usage: newton_cells [--clean]\n");
        return 2;
    }
    double *c = malloc(NCELLS * sizeof *c), *x = malloc(NCELLS * sizeof *x);
    errgroup g;
    int rc = c == NULL || x == NULL ? ERRGROUP_ENOMEM : errgroup_init(&g);
    if (rc == 0 && (rc = errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX)) != 0)
        (void)errgroup_destroy(&g);
    if (rc != 0) {
        fprintf(stderr, "newton_cells: %s\n", errgroup_strerror(rc));
        free(c);
        free(x);
        return 2;
    }
    for (int64_t i = 0; i < NCELLS; i++)
        c[i] = 0.5 + (double)(i % 1000);
    if (!clean) {
        c[70000] = NAN;
        c[200000] = 0.0;
    }
    /*
     * Before: every cell ran even after a failure, and `info` held whichever
     * failing cell was stored last:
     *
     *     int64_t info = -1;
     *     #pragma omp parallel for schedule(dynamic, 256)
     *     for (int64_t i = 0; i < NCELLS; i++)
     *         if (cube_root(c[i], &x[i]) != 0) {
     *             #pragma omp atomic write
     *             info = i;
     *         }
     */
    /* After: one check at the top of the body, one failure report, a wait. */
#pragma omp parallel for schedule(dynamic, 256)
    for (int64_t i = 0; i < NCELLS; i++) {
        ERRGROUP_LOOP_CHECK(&g, i);
        if (cube_root(c[i], &x[i]) != 0) {
            ERRGROUP_LOOP_FAIL(&g, EDOM, i, "cell %lld: no convergence in %d iterations (c = %g)",
                               (long long)i, MAX_ITER, c[i]);
        }
    }
    rc = errgroup_wait(&g);
    errgroup_error e;
    if (rc != 0 && errgroup_first_error(&g, &e) == 0)
        fprintf(stderr, "newton_cells: %s (%s)\n", e.message, errgroup_strerror(e.code));
    double worst = 0.0;
    for (int64_t i = 0; rc == 0 && i < NCELLS; i++)
        worst = fmax(worst, fabs(x[i] * x[i] * x[i] - c[i]) / c[i]);
    if (rc == 0)
        printf("newton_cells: %d cells solved, largest relative residual %.1e\n", NCELLS, worst);
    free(c);
    free(x);
    if (errgroup_destroy(&g) != 0)
        return 2;
    return rc == 0 ? 0 : 1;
}
