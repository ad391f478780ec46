/*
 * omp-errgroup over MPI: one error group spanning the ranks of a communicator.
 *
 * After errgroup_mpi_init, g is an ordinary group on each rank (go, run, for,
 * fail, cancel, limit, timeout, counters, lowest-index mode) whose
 * cancellation spans the ranks: the first error, errgroup_cancel, deadline or
 * cancelled parent on any rank cancels the group on every rank, without any
 * rank reaching a collective call. errgroup_wait, errgroup_run and
 * errgroup_destroy become collective for g: every rank of the communicator
 * calls them, in the same order, from the thread that called
 * errgroup_mpi_init (see "Threads"); afterwards every rank returns the same
 * code and errgroup_first_error gives the same code, index and message.
 * errgroup_for on g stays local; errgroup_mpi_for is its collective form.
 *
 * Agreement: each rank offers the stop that ended its own group, if it began
 * there (an error, errgroup_cancel, its deadline, its parent), never the
 * ECANCELED it saw only because a peer stopped. The winner is the first in
 * the order: errors before cancellations and deadlines; among errors, in
 * lowest-index mode the lowest (index, rank), in first-error mode the lowest
 * rank; among cancellations and deadlines the lowest rank. It depends only
 * on the set of offers, never on timing. A deadline comes back as
 * ERRGROUP_ETIMEDOUT on every rank.
 *
 * Threads: MPI must be initialised with at least MPI_THREAD_FUNNELED.
 * With MPI_THREAD_MULTIPLE any thread that checks the group (errgroup_canceled,
 * task and chunk starts) may poll the peers, at most once every 100 us for
 * the whole rank. With FUNNELED (or SERIALIZED, which is then used as
 * FUNNELED: the program must make its own MPI calls from the main thread while
 * the group is open) only the main thread polls: a stop is sent and noticed
 * only when the main thread next checks the group, so latency grows to the
 * main thread's check interval (the length of the task body it is running).
 *
 * Messages: a pre-posted MPI_Irecv(MPI_ANY_SOURCE) and one MPI_Isend to each
 * peer per rank that stops by itself, on a duplicate of the communicator (so
 * they never match a user's receive), tested with MPI_Test. The library never
 * calls MPI_Abort. Ranks are assumed to share one data representation.
 */
#ifndef ERRGROUP_MPI_H
#define ERRGROUP_MPI_H

#include <mpi.h>

#include "errgroup.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * errgroup_mpi_init - initialise g (as errgroup_init does; g must not be
 * initialised) as a group spanning comm. Collective over comm: duplicates it.
 * Returns 0, ERRGROUP_EINVAL (g NULL, comm MPI_COMM_NULL, MPI not
 * initialised or already finalised, the thread level below
 * MPI_THREAD_FUNNELED, or below MPI_THREAD_MULTIPLE and not called from the
 * main thread; the last three also print one line on stderr saying which),
 * ERRGROUP_ENOMEM. On an error g is left uninitialised. The argument checks
 * come before any communication, so ranks that pass the same arguments fail
 * together; ENOMEM on one rank alone leaves the others in MPI_Comm_dup.
 * Thread safety: the main thread (any thread under MPI_THREAD_MULTIPLE); no
 * other call on g.
 *
 * Example:
 *     MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
 *     errgroup g;
 *     if (errgroup_mpi_init(&g, MPI_COMM_WORLD) != 0) ...
 *     int rc = errgroup_mpi_for(&g, 0, nitems, work, data); // same rc everywhere
 *     errgroup_destroy(&g);                                  // collective
 */
ERRGROUP_API int errgroup_mpi_init(errgroup *g, MPI_Comm comm);

/*
 * errgroup_mpi_for - collective errgroup_for over [begin, end), block-split:
 * with n = end - begin and p ranks, rank r runs the r-th of p contiguous
 * blocks (the first n % p blocks one longer). body gets global indices. In
 * lowest-index mode the agreed error is exactly the lowest failing global
 * index, for any p. Waits for the other ranks, then returns the agreed error
 * (0 if none; sticky), the same on every rank.
 * Returns that code, ERRGROUP_EINVAL (g not from errgroup_mpi_init, NULL
 * body, begin > end: returned before any communication), ERRGROUP_ECLOSED
 * (after wait).
 * Thread safety: as errgroup_wait (a collective call of g).
 */
ERRGROUP_API int errgroup_mpi_for(errgroup *g, int64_t begin, int64_t end, errgroup_range_fn *body,
                                  void *arg);

/*
 * errgroup_mpi_error_rank - the rank (in the communicator given to init)
 * that the last agreement (wait, run, errgroup_mpi_for, destroy) took the
 * error from: where the error, cancel or deadline began. -1 if nothing was
 * agreed on yet or no rank stopped, or g is not an MPI group.
 * Thread safety: any thread, after the collective call returned.
 */
ERRGROUP_API int errgroup_mpi_error_rank(const errgroup *g);

/*
 * errgroup_mpi_wait_request - MPI_Wait(req, status) that gives up once g is
 * cancelled (in lowest-index mode: once any error is known to this rank), for
 * a rank waiting for a message that a failed rank may never send.
 * Returns 0 when the request completed: *req is MPI_REQUEST_NULL (for a
 * non-persistent request) and *status filled (status may be
 * MPI_STATUS_IGNORE), as with MPI_Wait. Returns ERRGROUP_ECANCELED when g was
 * cancelled first: the request is left active and untouched; the caller
 * owns it and may MPI_Cancel (receives) and MPI_Wait it, or wait for it later.
 * ERRGROUP_EINVAL: g is not an MPI group or req is NULL.
 * Thread safety: a thread allowed to call MPI (the main thread under
 * FUNNELED), while g is open.
 */
ERRGROUP_API int errgroup_mpi_wait_request(errgroup *g, MPI_Request *req, MPI_Status *status);

#ifdef __cplusplus
}
#endif

#endif /* ERRGROUP_MPI_H */
