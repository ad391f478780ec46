/*
 * The thread-count matrix is real: with OMP_DYNAMIC=false a parallel region
 * gets exactly OMP_NUM_THREADS threads, so a test registered for N threads
 * ran with N. (With OMP_DYNAMIC=true the runtime may give fewer; then there
 * is nothing to check.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <omp.h>

static void test_team_has_the_requested_threads(void **state)
{
    (void)state;
    const char *want = getenv("OMP_NUM_THREADS");
    const char *dyn = getenv("OMP_DYNAMIC");
    if (want == NULL || (dyn != NULL && strcmp(dyn, "false") != 0))
        skip();
    int n = atoi(want), got = 0;
#pragma omp parallel
#pragma omp single
    got = omp_get_num_threads();
    assert_int_equal(got, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_team_has_the_requested_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
