// cells_cxx: the per-cell solver of newton_cells.c in C++ (errgroup.hpp).
// The loop body throws when a cell does not converge; the group turns the
// exception into its first error (lowest-index mode: always cell 70000,
// whatever the thread count) and rethrow() delivers it on the main thread.
//
//   cells_cxx          reports cell 70000, exit status 1
//   cells_cxx --clean  no bad cells: exit status 0
#include <errgroup.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr std::int64_t ncells = 1 << 18;
constexpr int max_iter = 50;

// x^3 = c by Newton's method from x = 1; throws if not converged.
double cube_root(double c, std::int64_t cell)
{
    double x = 1.0;
    for (int k = 0; k < max_iter && std::isfinite(x); k++) {
        double dx = (x * x * x - c) / (3.0 * x * x);
        x -= dx;
        if (std::fabs(dx) <= 1e-14 * std::fabs(x))
            return x;
    }
    throw std::domain_error("cell " + std::to_string(cell) + ": no convergence in " +
                            std::to_string(max_iter) + " iterations (c = " + std::to_string(c) + ")");
}

} // namespace

int main(int argc, char **argv)
{
    bool clean = argc == 2 && std::strcmp(argv[1], "--clean") == 0;
    if (argc > 2 || (argc == 2 && !clean)) {
        std::fprintf(stderr, "usage: cells_cxx [--clean]\n");
        return 2;
    }
    std::vector<double> c(ncells), x(ncells);
    for (std::int64_t i = 0; i < ncells; i++)
        c[i] = 0.5 + static_cast<double>(i % 1000);
    if (!clean) {
        c[70000] = std::numeric_limits<double>::quiet_NaN();
        c[200000] = 0.0;
    }
    try {
        omp_errgroup::group g;
        if (g.set_mode(ERRGROUP_LOWEST_INDEX) != 0)
            return 2;
        if (g.parallel_for(0, ncells, [&](std::int64_t i) { x[i] = cube_root(c[i], i); }) != 0)
            g.rethrow();
    } catch (const std::domain_error &e) {
        std::fprintf(stderr, "cells_cxx: %s\n", e.what());
        return 1;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "cells_cxx: %s\n", e.what());
        return 2;
    }
    std::printf("%lld cells solved; x[999] = %.6f\n", static_cast<long long>(ncells), x[999]);
    return 0;
}
