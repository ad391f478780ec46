// Uses the installed C++ front end: an exception in task 37 of 100 must
// come back as the group's error, compiled with OpenMP.
#ifndef _OPENMP
#error "the consumer's C++ sources were compiled without OpenMP"
#endif
#include <errgroup.hpp>

#include <cstdio>
#include <stdexcept>
#include <string>

int main()
{
    omp_errgroup::group g;
    int rc = g.run([](omp_errgroup::group &gg) {
        for (int i = 0; i < 100; i++)
            if (gg.go([i] {
                    if (i == 37)
                        throw std::runtime_error("item " + std::to_string(i) + " failed");
                }) != 0)
                break;
    });
    errgroup_error e = g.first_error();
    std::printf("errgroup %s (C++): rc=%d index=%lld message=%s\n", errgroup_version_string(), rc,
                static_cast<long long>(e.index), e.message);
    return rc == ERRGROUP_EEXCEPTION && e.index == 37 && g.exception() != nullptr ? 0 : 1;
}
