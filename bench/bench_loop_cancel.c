/* bench_loop's annotated failure loop with the opt-in `omp cancel for`. */
#define ERRGROUP_LOOP_OMP_CANCEL
#define ANNOTATED_FAIL_FN bench_annotated_fail_cancel
#include "annotated_fail.h"
