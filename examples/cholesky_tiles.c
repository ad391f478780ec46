/*
 * Tiled Cholesky factorisation A = L L^T as a graph of errgroup_go_deps
 * tasks (potrf, trsm, syrk, gemm on nb x nb tiles). The default matrix is
 * not positive definite at column 150: the failing potrf reports the global
 * column, lowest-index mode makes it the same for every thread count, and
 * the tasks after it are skipped. `--clean` factors an SPD matrix and checks
 * ||A - L L^T|| / ||A||.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errgroup.h"

enum { NT = 8, NB = 32, N = NT * NB, BAD_COLUMN = 150 };
enum { POTRF, TRSM, SYRK, GEMM };

static double tiles[NT][NT][NB][NB]; /* tile (i, j), i >= j, row-major inside */
static double a0[N][N];              /* the input, for the residual */

struct kernel { int op, i, j, k; };
static struct kernel kernels[NT * NT * NT];

static int run_kernel(errgroup *g, void *arg)
{
    const struct kernel *t = arg;
    double (*c)[NB] = tiles[t->i][t->j], (*l)[NB] = tiles[t->i][t->k];
    double (*m)[NB] = tiles[t->j][t->k]; /* gemm's second factor; trsm: L_kk */
    for (int r = 0; r < NB; r++)
        for (int s = 0; s < NB; s++) {
            if (t->op == POTRF && s <= r) { /* column s of row r, in order */
                double d = c[r][s];
                for (int p = 0; p < s; p++)
                    d -= c[r][p] * c[s][p];
                if (s < r) {
                    c[r][s] = d / c[s][s];
                } else if (d > 0) {
                    c[r][r] = sqrt(d);
                } else {
                    return errgroup_fail(g, EDOM, (int64_t)t->k * NB + r,
                                         "matrix not positive definite at column %d", t->k * NB + r);
                }
            } else if (t->op == TRSM) { /* C = C L_kk^-T, row by row */
                double d = c[r][s];
                for (int p = 0; p < s; p++)
                    d -= c[r][p] * m[s][p];
                c[r][s] = d / m[s][s];
            } else if (t->op == SYRK || t->op == GEMM) { /* C -= L_ik L_jk^T */
                double d = 0;
                for (int p = 0; p < NB; p++)
                    d += l[r][p] * m[s][p];
                c[r][s] -= d;
            }
        }
    return 0;
}

/* Submits the right-looking tile algorithm; go order is the serial order. */
static int factor(errgroup *g, void *arg)
{
    (void)arg;
    int n = 0;
    for (int k = 0; k < NT; k++) {
        kernels[n] = (struct kernel){POTRF, k, k, k};
        errgroup_dep d[1] = {{tiles[k][k], ERRGROUP_DEP_INOUT}};
        if (errgroup_go_deps(g, run_kernel, &kernels[n++], d, 1) != 0)
            return 0; /* cancelled: the wait reports why */
        for (int i = k + 1; i < NT; i++) {
            kernels[n] = (struct kernel){TRSM, i, k, k}; /* m = tile (k, k) */
            errgroup_dep t[2] = {{tiles[k][k], ERRGROUP_DEP_IN}, {tiles[i][k], ERRGROUP_DEP_INOUT}};
            if (errgroup_go_deps(g, run_kernel, &kernels[n++], t, 2) != 0)
                return 0;
        }
        for (int i = k + 1; i < NT; i++)
            for (int j = k + 1; j <= i; j++) {
                kernels[n] = (struct kernel){i == j ? SYRK : GEMM, i, j, k};
                errgroup_dep u[3] = {{tiles[i][k], ERRGROUP_DEP_IN}, {tiles[j][k], ERRGROUP_DEP_IN},
                                     {tiles[i][j], ERRGROUP_DEP_INOUT}};
                if (errgroup_go_deps(g, run_kernel, &kernels[n++], u, 3) != 0)
                    return 0;
            }
    }
    return 0;
}

int main(int argc, char **argv)
{
    int clean = argc > 1 && strcmp(argv[1], "--clean") == 0;
    for (int r = 0; r < N; r++)
        for (int s = 0; s < N; s++) /* diagonally dominant, so SPD ... */
            a0[r][s] = r == s ? 2.0 * N : 1.0 / (1.0 + abs(r - s));
    if (!clean)
        a0[BAD_COLUMN][BAD_COLUMN] = -1.0; /* ... except from this column on */
    for (int r = 0; r < N; r++)
        for (int s = 0; s <= r; s++)
            tiles[r / NB][s / NB][r % NB][s % NB] = a0[r][s];

    errgroup g;
    if (errgroup_init(&g) != 0 || errgroup_set_mode(&g, ERRGROUP_LOWEST_INDEX) != 0)
        return 2;
    int rc = errgroup_run(&g, factor, NULL);
    errgroup_error e;
    errgroup_first_error(&g, &e);
    errgroup_destroy(&g);
    if (rc != 0) {
        fprintf(stderr, "cholesky_tiles: %s\n", e.code == EDOM ? e.message : errgroup_strerror(rc));
        return 1;
    }
    double diff = 0, norm = 0; /* Frobenius norms over the lower triangle */
    for (int r = 0; r < N; r++)
        for (int s = 0; s <= r; s++) {
            double llt = 0;
            for (int p = 0; p <= s; p++)
                llt += tiles[r / NB][p / NB][r % NB][p % NB] * tiles[s / NB][p / NB][s % NB][p % NB];
            diff += (a0[r][s] - llt) * (a0[r][s] - llt);
            norm += a0[r][s] * a0[r][s];
        }
    double rel = sqrt(diff / norm);
    printf("%dx%d factored in %dx%d tiles: ||A - LL^T|| / ||A|| = %.2e\n", N, N, NB, NB, rel);
    return rel < 1e-12 ? 0 : 1;
}
