/* This thread's stack bounds, for go's deep-chain guard (eg_stack_low). */
#define _GNU_SOURCE /* pthread_getattr_np */
#include "internal.h"

#include <pthread.h>

_Thread_local uintptr_t errgroup__stack_guard = UINTPTR_MAX;
static _Thread_local uintptr_t eg_stack_lo;

/*
 * Reached when sp is below the guard: on the first call on a thread (the
 * guard starts at UINTPTR_MAX), then only when this thread really is past
 * half its stack, or runs on a stack of its own making (coroutines), which
 * lies outside the bounds and is left alone.
 */
int errgroup__stack_low_slow(uintptr_t sp)
{
    if (errgroup__stack_guard == UINTPTR_MAX) {
        pthread_attr_t attr;
        void *addr = NULL;
        size_t size = 0;
        errgroup__stack_guard = 0; /* unknown: never defer */
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            if (pthread_attr_getstack(&attr, &addr, &size) == 0 && size > 0) {
                eg_stack_lo = (uintptr_t)addr;
                errgroup__stack_guard = (uintptr_t)addr + size / 2;
            }
            pthread_attr_destroy(&attr);
        }
    }
    return sp >= eg_stack_lo && sp < errgroup__stack_guard;
}
