/*
 * Entry points for foreign-language front ends (C++, Fortran): a fail without
 * varargs, and the size of the group for storage reserved elsewhere.
 */
#include "internal.h"

#include <stddef.h>

/*
 * The Fortran module (src/fortran/errgroup_f.f90) reserves the group as an
 * opaque bind(c) type of ERRGROUP__FORTRAN_STORAGE bytes, aligned to 8, whose
 * first component is a 32-bit integer aliasing poll_: errgroup_skip reads it
 * inline and calls errgroup_canceled_at only when a slow bit is set. These
 * assertions are the C half of that contract.
 */
#define ERRGROUP__FORTRAN_STORAGE 1024
_Static_assert(offsetof(struct errgroup, poll_) == 0, "Fortran reads poll_ at offset 0");
_Static_assert(sizeof(((struct errgroup *)0)->poll_) == 4, "Fortran reads poll_ as integer(c_int)");
_Static_assert(sizeof(struct errgroup) <= ERRGROUP__FORTRAN_STORAGE,
               "type(errgroup_t) in src/fortran/errgroup_f.f90 is too small");
_Static_assert(_Alignof(struct errgroup) <= 8, "type(errgroup_t) is aligned to 8 bytes");
_Static_assert(ERRGROUP__POLL_SLOW == 7u, "errgroup_f.f90 tests the slow bits as 7");

/* Shares errgroup_fail's whole path (frame mark, loser filter, record): the
 * message goes through "%s", which copies it with the same truncation. */
int errgroup_fail_str(errgroup *g, int code, int64_t index, const char *message)
{
    if (message == NULL)
        return errgroup_fail(g, code, index, NULL);
    return errgroup_fail(g, code, index, "%s", message);
}

size_t errgroup_sizeof(void)
{
    return sizeof(errgroup);
}
