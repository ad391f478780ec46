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

#endif
