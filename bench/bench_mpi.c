/*
 * bench_mpi: errgroup_mpi's two costs, under mpiexec (np >= 2).
 *
 *   latency   time from errgroup_fail on one rank (rotating) to
 *             errgroup_canceled() == 1 on each other rank, which polls it in a
 *             hot loop. All ranks run on one host, so CLOCK_MONOTONIC is one
 *             clock for all of them. Median over every (repetition, observer).
 *   overhead  a job of 10 us items, every item checking errgroup_canceled:
 *             errgroup_mpi_for over the ranks, against a plain group running
 *             the same block with errgroup_for plus one MPI_Allreduce of the
 *             error at the end. Wall time of the slowest rank; median of
 *             `reps` repetitions, variants alternating; ratio mpi / plain.
 *
 *   mpiexec -n 2 bench_mpi [reps] [items_per_rank]
 */
#define _GNU_SOURCE /* bench_util.h: dladdr */
#include <errgroup_mpi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

static int rank, size;

/* Busy work of `us` microseconds (wall clock: what a 10 us item costs). */
static void work_us(double us)
{
    double end = bench_now() + us * 1e-6;
    while (bench_now() < end)
        ;
}

static int items(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)arg;
    for (int64_t i = lo; i < hi; i++) {
        if (errgroup_canceled(g))
            return ERRGROUP_ECANCELED;
        work_us(10.0);
    }
    return 0;
}

static double latency_once(int failer)
{
    errgroup g;
    if (errgroup_mpi_init(&g, MPI_COMM_WORLD) != 0)
        exit(1);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = 0, seen = 0;
    if (rank == failer) {
        work_us(2000.0); /* the observers are polling by now */
        t0 = bench_now();
        (void)errgroup_fail(&g, 1, 0, "bench");
        (void)errgroup_canceled(&g); /* a failing loop's next check: sends */
    } else {
        while (errgroup_canceled(&g) != 1)
            ;
        seen = bench_now();
    }
    MPI_Bcast(&t0, 1, MPI_DOUBLE, failer, MPI_COMM_WORLD);
    if (errgroup_wait(&g) != 1 || errgroup_destroy(&g) != 0)
        exit(1);
    return rank == failer ? -1.0 : seen - t0;
}

/* Slowest rank's wall time of one job. */
static double job(int use_mpi, int64_t per_rank)
{
    errgroup g;
    MPI_Barrier(MPI_COMM_WORLD);
    double t = bench_now();
    int rc, all = 0;
    if (use_mpi) {
        if (errgroup_mpi_init(&g, MPI_COMM_WORLD) != 0)
            exit(1);
        rc = errgroup_mpi_for(&g, 0, per_rank * size, items, NULL);
        all = rc;
    } else {
        if (errgroup_init(&g) != 0)
            exit(1);
        rc = errgroup_for(&g, rank * per_rank, (rank + 1) * per_rank, items, NULL);
        rc = errgroup_wait(&g);
        MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    }
    if (errgroup_destroy(&g) != 0 || all != 0)
        exit(1);
    t = bench_now() - t;
    double slowest = 0;
    MPI_Allreduce(&t, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return slowest;
}

int main(int argc, char **argv)
{
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int reps = argc > 1 ? atoi(argv[1]) : 11;
    int64_t per_rank = argc > 2 ? atoll(argv[2]) : 20000;
    if (size < 2 || reps < 1 || reps > BENCH_MAX_REPS || per_rank < 1) {
        if (rank == 0)
            fprintf(stderr, "usage: mpiexec -n 2.. bench_mpi [reps 1..%d] [items_per_rank]\n",
                    BENCH_MAX_REPS);
        MPI_Finalize();
        return 2;
    }
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(version, &len);
    version[strcspn(version, ",\n")] = '\0';

    /* Latency: every repetition has size - 1 observers. */
    double *lat = malloc(sizeof(double) * (size_t)reps * (size_t)size);
    double lat_sorted[BENCH_MAX_REPS]; /* rank 0: the observations */
    int nlat = 0;
    (void)latency_once(0); /* warm-up */
    for (int r = 0; r < reps; r++) {
        double mine = latency_once(r % size);
        MPI_Gather(&mine, 1, MPI_DOUBLE, lat + (size_t)r * (size_t)size, 1, MPI_DOUBLE, 0,
                   MPI_COMM_WORLD);
    }
    if (rank == 0) {
        for (int i = 0; i < reps * size; i++)
            if (lat[i] >= 0 && nlat < BENCH_MAX_REPS)
                lat_sorted[nlat++] = lat[i];
    }

    /* Overhead: plain then mpi, alternating which goes first. */
    double plain[BENCH_MAX_REPS] = {0}, mpi[BENCH_MAX_REPS] = {0};
    (void)job(0, per_rank / 10);
    (void)job(1, per_rank / 10);
    for (int r = 0; r < reps; r++) {
        if (r % 2 == 0) {
            plain[r] = job(0, per_rank);
            mpi[r] = job(1, per_rank);
        } else {
            mpi[r] = job(1, per_rank);
            plain[r] = job(0, per_rank);
        }
    }
    if (rank == 0) {
        double mp = bench_median(plain, reps), mm = bench_median(mpi, reps), lat_max = 0;
        for (int i = 0; i < nlat; i++)
            lat_max = lat_sorted[i] > lat_max ? lat_sorted[i] : lat_max;
        printf("- mpi: %s\n- ranks: %d\n- OMP_NUM_THREADS: %s\n- compiler: %s\n", version, size,
               getenv("OMP_NUM_THREADS") ? getenv("OMP_NUM_THREADS") : "(unset)", BENCH_COMPILER);
        printf("\n| measure | ranks | median | detail |\n|---|---|---|---|\n");
        printf("| latency fail -> canceled | %d | %.1f us | %d observations, max %.1f us |\n", size,
               bench_median(lat_sorted, nlat) * 1e6, nlat, 1e6 * lat_max);
        printf("| overhead 10 us items | %d | %.3f (mpi/plain) | plain %.4f s, mpi %.4f s, %lld items/rank, %d reps |\n",
               size, mm / mp, mp, mm, (long long)per_rank, reps);
    }
    free(lat);
    MPI_Finalize();
    return 0;
}
