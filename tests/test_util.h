/*
 * Helpers shared by the test files. Header-only: tests/CMakeLists.txt builds
 * one executable per tests/test_*.c.
 */
#ifndef ERRGROUP_TEST_UTIL_H
#define ERRGROUP_TEST_UTIL_H

#include <time.h>

/* A spin that outlives this many seconds means something hung: give up and
 * let the assertions report it. It never decides a verdict otherwise. */
#define SAFETY_CAP_S 30.0

/* Monotonic seconds, for the safety cap only. */
static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The group's first error is exactly (code, index, message). A macro, so that
 * a failure names the caller's line. Include after <cmocka.h> and errgroup.h. */
#define EXPECT_FIRST_ERROR(g, want_code, want_index, want_message)           \
    do {                                                                       \
        errgroup_error expect_e_;                                              \
        assert_int_equal(errgroup_first_error((g), &expect_e_), 0);            \
        assert_int_equal(expect_e_.code, (want_code));                         \
        assert_int_equal(expect_e_.index, (want_index));                       \
        assert_string_equal(expect_e_.message, (want_message));                \
    } while (0)

#endif
