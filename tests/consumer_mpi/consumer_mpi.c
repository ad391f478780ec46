/* Links against an installed errgroup::mpi; one collective loop, exit 0. */
#include <errgroup_mpi.h>

#include <stdio.h>

static int body(errgroup *g, int64_t lo, int64_t hi, void *arg)
{
    (void)g, (void)lo, (void)hi, (void)arg;
    return 0;
}

int main(int argc, char **argv)
{
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    errgroup g;
    int rc = errgroup_mpi_init(&g, MPI_COMM_WORLD);
    if (rc == 0)
        rc = errgroup_mpi_for(&g, 0, 1000, body, NULL);
    if (rc == 0)
        rc = errgroup_destroy(&g);
    printf("consumer_mpi: %s\n", errgroup_strerror(rc));
    MPI_Finalize();
    return rc == 0 ? 0 : 1;
}
