/*
 * test_macros.c again, with the opt-in OpenMP cancellation: the macros also
 * execute `#pragma omp cancel for` once the group is cancelled (the library
 * lets it run only on libgomp with OMP_CANCELLATION=true). Every assertion
 * must hold exactly as in the default form.
 */
#define ERRGROUP_LOOP_OMP_CANCEL 1
#include "test_macros.c"
