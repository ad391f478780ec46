/*
 * Task graphs: a tiled Cholesky factorisation (right-looking, potrf / trsm /
 * syrk / gemm on nb x nb tiles, plain C kernels) written three ways:
 *   - raw `omp task depend` tasks with a PLASMA-style status word: every
 *     kernel tests it, the failing potrf sets it (the baseline);
 *   - errgroup_go_deps + errgroup_wait (first-error mode; the submit loop
 *     stops at ECANCELED);
 *   - the same raw graph annotated with ERRGROUP_TASK_BODY / _FAIL (the
 *     submit loop is left as it was: it submits everything).
 * With no failure (ratio to raw, target <= 1.03) and with a matrix that is
 * not positive definite at an early, a middle and a late column (time until
 * the wait returns, kernels run, kernels that started after the failure).
 * Then trivial tasks with 3 dependences each, go_deps vs raw (target <= 1.3).
 * Every run checks the reported column. See bench_util.h for the method.
 */
#include "bench_util.h"

#include <errno.h>
#include <math.h>

#include "errgroup.h"

enum { POTRF, TRSM, SYRK, GEMM };
enum { RAW, GO_DEPS, ANNOTATED, NVARIANTS };
static const char *const names[NVARIANTS] = {
    "raw `omp task depend` + status word (baseline)", "errgroup_go_deps + errgroup_wait",
    "raw graph + ERRGROUP_TASK_BODY/FAIL"};

struct kernel { int op, i, j, k; };

static int nt, nb;         /* tiles per side, tile size */
static double *tiles;      /* tile (i, j) at ((i * nt) + j) * nb * nb, i >= j */
static struct kernel *kernels;
static int status;         /* raw variant: failing column + 1 */
static int failed;         /* set by the failing potrf: count what starts after */
static int64_t ran, ran_after;

#define TILE(i, j) (tiles + ((size_t)(i) * nt + (j)) * nb * nb)

static void fill(int bad_column)
{
    int n = nt * nb;
    for (int r = 0; r < n; r++)
        for (int s = 0; s <= r; s++)
            TILE(r / nb, s / nb)[(r % nb) * nb + s % nb] =
                r == s ? (r == bad_column ? -1.0 : 2.0 * n) : 1.0 / (1.0 + r - s);
    status = failed = 0;
    ran = ran_after = 0;
}

/* Returns 0, or the failing global column + 1. Relaxed counters: a
 * statistic read after the wait. */
static int exec(const struct kernel *t)
{
    __atomic_fetch_add(&ran, 1, __ATOMIC_RELAXED);
    if (__atomic_load_n(&failed, __ATOMIC_RELAXED))
        __atomic_fetch_add(&ran_after, 1, __ATOMIC_RELAXED);
    double *restrict c = TILE(t->i, t->j);
    const double *restrict a = TILE(t->i, t->k), *restrict b = TILE(t->j, t->k);
    if (t->op == POTRF) {
        for (int r = 0; r < nb; r++)
            for (int s = 0; s <= r; s++) {
                double d = c[r * nb + s];
                for (int p = 0; p < s; p++)
                    d -= c[r * nb + p] * c[s * nb + p];
                if (s < r) {
                    c[r * nb + s] = d / c[s * nb + s];
                } else if (d > 0) {
                    c[r * nb + r] = sqrt(d);
                } else {
                    __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
                    return t->k * nb + r + 1;
                }
            }
    } else if (t->op == TRSM) { /* C = C L_kk^-T; b = L_kk */
        for (int r = 0; r < nb; r++)
            for (int s = 0; s < nb; s++) {
                double d = c[r * nb + s];
                for (int p = 0; p < s; p++)
                    d -= c[r * nb + p] * b[s * nb + p];
                c[r * nb + s] = d / b[s * nb + s];
            }
    } else { /* C -= A B^T */
        for (int r = 0; r < nb; r++)
            for (int s = 0; s < nb; s++) {
                double d = 0;
                for (int p = 0; p < nb; p++)
                    d += a[r * nb + p] * b[s * nb + p];
                c[r * nb + s] -= d;
            }
    }
    return 0;
}

static int kernel_fn(errgroup *g, void *arg)
{
    int col = exec(arg);
    return col ? errgroup_fail(g, EDOM, col - 1, "not positive definite at column %d", col - 1) : 0;
}

/* The kernels in serial (go) order. */
static int plan(void)
{
    int n = 0;
    for (int k = 0; k < nt; k++) {
        kernels[n++] = (struct kernel){POTRF, k, k, k};
        for (int i = k + 1; i < nt; i++)
            kernels[n++] = (struct kernel){TRSM, i, k, k};
        for (int i = k + 1; i < nt; i++)
            for (int j = k + 1; j <= i; j++)
                kernels[n++] = (struct kernel){i == j ? SYRK : GEMM, i, j, k};
    }
    return n;
}

static int nkernels;

/* The two raw bodies: PLASMA's status word, or the annotation macros. */
#define RAW_BODY                                                               \
    if (!__atomic_load_n(&status, __ATOMIC_RELAXED)) {                         \
        int col = exec(t);                                                     \
        if (col)                                                               \
            __atomic_store_n(&status, col, __ATOMIC_RELAXED);                  \
    }
#define ANNOTATED_BODY                                                         \
    ERRGROUP_TASK_BODY(&g, ERRGROUP_NO_INDEX) {                                \
        int col = exec(t);                                                     \
        if (col)                                                               \
            ERRGROUP_TASK_FAIL(&g, EDOM, col - 1, "column %d", col - 1);       \
    }

/* One factorisation; returns the reported failing column, or -1. */
static int run_variant(int v)
{
    errgroup g;
    if (errgroup_init(&g) != 0)
        abort();
    int rc = 0;
#pragma omp parallel shared(g, rc) firstprivate(v)
#pragma omp single
    {
        for (int n = 0; n < nkernels; n++) {
            const struct kernel *t = &kernels[n];
            /* Tiles written (c) and read (x, y): potrf c; trsm c, L_kk;
             * syrk c, L_ik; gemm c, L_ik, L_jk. */
            double *c = TILE(t->i, t->j);
            double *x = t->op == TRSM ? TILE(t->k, t->k) : TILE(t->i, t->k), *y = TILE(t->j, t->k);
            int nd = t->op == POTRF ? 1 : t->op == GEMM ? 3 : 2;
            if (v == GO_DEPS) {
                errgroup_dep d[3] = {{c, ERRGROUP_DEP_INOUT}, {x, ERRGROUP_DEP_IN}, {y, ERRGROUP_DEP_IN}};
                if (errgroup_go_deps(&g, kernel_fn, (void *)t, d, nd) != 0)
                    break;
            } else if (v == RAW && nd == 1) {
#pragma omp task depend(inout: c[0])
                RAW_BODY
            } else if (v == RAW && nd == 2) {
#pragma omp task depend(inout: c[0]) depend(in: x[0])
                RAW_BODY
            } else if (v == RAW) {
#pragma omp task depend(inout: c[0]) depend(in: x[0], y[0])
                RAW_BODY
            } else if (nd == 1) {
#pragma omp task depend(inout: c[0])
                ANNOTATED_BODY
            } else if (nd == 2) {
#pragma omp task depend(inout: c[0]) depend(in: x[0])
                ANNOTATED_BODY
            } else {
#pragma omp task depend(inout: c[0]) depend(in: x[0], y[0])
                ANNOTATED_BODY
            }
        }
        /* errgroup_wait's taskwait also covers the raw tasks: they are
         * children of this task (the waiting rule in errgroup.h). */
        rc = errgroup_wait(&g);
    }
    errgroup_error e;
    errgroup_first_error(&g, &e);
    errgroup_destroy(&g);
    if (v == RAW)
        return status - 1;
    return rc == EDOM ? (int)e.index : rc == 0 ? -1 : -2;
}

/* A run's time, kernels run and kernels started after the failure. */
struct sample { double t, ran, after; };

static struct sample one_run(int v, int bad_column)
{
    fill(bad_column);
    double t0 = bench_now();
    int col = run_variant(v);
    double t1 = bench_now();
    if (col != bad_column) {
        fprintf(stderr, "%s: reported column %d, expected %d\n", names[v], col, bad_column);
        exit(1);
    }
    return (struct sample){t1 - t0, (double)ran, (double)ran_after};
}

static void cholesky(int tiles_per_side, int tile, int reps, int with_failures)
{
    nt = tiles_per_side;
    nb = tile;
    int n = nt * nb;
    tiles = aligned_alloc(64, (size_t)nt * nt * nb * nb * sizeof *tiles);
    kernels = malloc((size_t)nt * nt * nt * sizeof *kernels);
    if (tiles == NULL || kernels == NULL)
        abort();
    nkernels = plan();
    const int bad[4] = {-1, nb / 2, n / 2 + nb / 2, n - nb / 2};
    const char *what[4] = {"none", "early", "middle", "late"};
    double raw_none = 1;
    for (int f = with_failures ? 1 : 0; f < (with_failures ? 4 : 1); f++) {
        double t[NVARIANTS][BENCH_MAX_REPS], r[NVARIANTS][BENCH_MAX_REPS], a[NVARIANTS][BENCH_MAX_REPS];
        for (int v = 0; v < NVARIANTS; v++)
            (void)one_run(v, bad[f]); /* warm-up */
        for (int rep = 0; rep < reps; rep++)
            for (int k = 0; k < NVARIANTS; k++) {
                int v = (k + rep) % NVARIANTS;
                struct sample s = one_run(v, bad[f]);
                t[v][rep] = s.t;
                r[v][rep] = s.ran;
                a[v][rep] = s.after;
            }
        for (int v = 0; v < NVARIANTS; v++) {
            double m = bench_median(t[v], reps);
            if (f == 0 && v == RAW)
                raw_none = m;
            char key[96];
            if (f == 0)
                snprintf(key, sizeof key, "n = %d, tile %d (%d kernels)", n, nb, nkernels);
            else
                snprintf(key, sizeof key, "n = %d, tile %d, fails at column %d (%s)", n, nb, bad[f], what[f]);
            if (f == 0)
                printf("| %s | %s | %.1f ms | %.3f |\n", key, names[v], m * 1e3, m / raw_none);
            else
                printf("| %s | %s | %.2f ms | %.0f | %.0f |\n", key, names[v], m * 1e3,
                       bench_median(r[v], reps), bench_median(a[v], reps));
        }
    }
    free(tiles);
    free(kernels);
}

/* ---- Trivial tasks with 3 dependences --------------------------------- */

#define TRIVIAL_CELLS 64
#define TRIVIAL_MAX 50000
static char cells[TRIVIAL_CELLS];
static char own_cells[3 * TRIVIAL_MAX]; /* "no edges": three cells of its own per task */

static int empty_fn(errgroup *g, void *arg)
{
    (void)g;
    (void)arg;
    return 0;
}

/* Task i reads two cells and updates a third: of 64 shared cells (a dense
 * graph), or of its own (dependence bookkeeping without edges). */
static double trivial_run(int v, int ntasks, int shared_cells)
{
    errgroup g;
    if (errgroup_init(&g) != 0)
        abort();
    int rc = 0;
    double t0 = bench_now();
#pragma omp parallel shared(g, rc)
#pragma omp single
    {
        for (int i = 0; i < ntasks; i++) {
            char *p = &cells[i % TRIVIAL_CELLS], *q = &cells[(i + 21) % TRIVIAL_CELLS];
            char *w = &cells[(i + 42) % TRIVIAL_CELLS];
            if (!shared_cells) {
                p = &own_cells[3 * i];
                q = p + 1;
                w = p + 2;
            }
            if (v == RAW) {
#pragma omp task depend(in: p[0], q[0]) depend(inout: w[0])
                __asm__ __volatile__("" ::: "memory");
            } else {
                errgroup_dep d[3] = {{p, ERRGROUP_DEP_IN}, {q, ERRGROUP_DEP_IN}, {w, ERRGROUP_DEP_INOUT}};
                if (errgroup_go_deps(&g, empty_fn, NULL, d, 3) != 0)
                    break;
            }
        }
        rc = errgroup_wait(&g);
    }
    double t = bench_now() - t0;
    if (rc != 0)
        abort();
    errgroup_destroy(&g);
    return t;
}

static void trivial(int ntasks, int reps, int shared_cells)
{
    double t[2][BENCH_MAX_REPS];
    for (int v = 0; v < 2; v++)
        (void)trivial_run(v, ntasks, shared_cells);
    for (int rep = 0; rep < reps; rep++)
        for (int k = 0; k < 2; k++) {
            int v = (k + rep) % 2;
            t[v][rep] = trivial_run(v, ntasks, shared_cells);
        }
    const char *tn[2] = {"raw `omp task depend` (baseline)", "errgroup_go_deps + errgroup_wait"};
    double base = bench_median(t[0], reps);
    for (int v = 0; v < 2; v++) {
        double m = bench_median(t[v], reps);
        printf("| %d trivial tasks, 3 dependences each, %s | %s | %.1f ns/task | %.3f |\n", ntasks,
               shared_cells ? "64 shared cells" : "no edges", tn[v], m / ntasks * 1e9, m / base);
    }
}

int main(int argc, char **argv)
{
    int reps = bench_reps(argc, argv, 5);
    bench_header("Task graphs: tiled Cholesky and dependences", reps);
    printf("### Tiled Cholesky, no failure: median time, ratio to raw depend tasks (target <= 1.03)\n\n");
    printf("| workload | variant | time | ratio |\n|---|---|---:|---:|\n");
    cholesky(8, 128, reps, 0);
    cholesky(6, 256, reps, 0);
    printf("\n### Tiled Cholesky, one column not positive definite: time to return, kernels run, "
           "bodies started after the failure\n\n");
    printf("| workload | variant | time | kernel bodies run | started after the failure |\n|---|---|---:|---:|---:|\n");
    cholesky(8, 128, reps, 1);
    printf("\n### Trivial tasks with 3 dependences each: ratio to raw (target <= 1.3)\n\n");
    printf("| workload | variant | time | ratio |\n|---|---|---:|---:|\n");
    trivial(TRIVIAL_MAX, reps, 1);
    trivial(TRIVIAL_MAX, reps, 0);
    printf("\n");
    return 0;
}
