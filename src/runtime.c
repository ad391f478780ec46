/* Which OpenMP runtime we run on, for the opt-in `cancel for` of the loop macros. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include "internal.h"

#include <dlfcn.h>
#include <omp.h>

/*
 * `cancel for` is safe only on libgomp: LLVM's libomp 14 (and Intel's, same
 * code) corrupts the next dynamic/guided worksharing loop after a cancelled
 * one. libomp exports the __kmpc_* entry points; libgomp does not.
 * 0 = not yet known, 1 = ok, 2 = not ok. Relaxed: every thread computes the
 * same answer, so a race only repeats the lookup.
 */
static int eg_cancel_state;

int errgroup__omp_cancel_ok(void)
{
    int state = __atomic_load_n(&eg_cancel_state, __ATOMIC_RELAXED);
    if (state == 0) {
        int libomp = dlsym(RTLD_DEFAULT, "__kmpc_global_thread_num") != NULL;
        state = omp_get_cancellation() && !libomp ? 1 : 2;
        __atomic_store_n(&eg_cancel_state, state, __ATOMIC_RELAXED);
    }
    return state == 1;
}
