/*
 * The C++ front end (include/errgroup.hpp): exceptions become the group's
 * error with the right index and message and are rethrown on the caller,
 * callables are destroyed exactly once (ran, skipped or refused), the
 * destructor cancels and waits, and int/void bodies behave as in C.
 *
 * Worker tasks only record (atomics, per-index arrays); every assertion runs
 * on the test thread after the wait.
 */
#include <atomic>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include "errgroup.hpp"

/* cmocka's header declares its functions without C linkage for C++. */
extern "C" {
#include <cmocka.h>
}
/* cmocka's fail() macro would swallow group::fail calls; it is not used here. */
#undef fail

namespace {

/* Live copies of a counted callable: constructions minus destructions. */
std::atomic<int> live{0};
std::atomic<int> calls{0};

struct counted {
    int id;
    std::vector<int> payload; /* heap memory: a leaked copy shows under ASan */
    explicit counted(int i) : id(i), payload(16, i) { live.fetch_add(1); }
    counted(const counted &o) : id(o.id), payload(o.payload) { live.fetch_add(1); }
    counted(counted &&o) noexcept : id(o.id), payload(std::move(o.payload)) { live.fetch_add(1); }
    ~counted() { live.fetch_sub(1); }
    int operator()() const
    {
        calls.fetch_add(1);
        return payload.size() == 16 ? 0 : 99;
    }
};

void expect_error(const omp_errgroup::group &g, int code, std::int64_t index, const char *message)
{
    errgroup_error e = g.first_error();
    assert_int_equal(e.code, code);
    assert_int_equal(e.index, index);
    assert_string_equal(e.message, message);
}

void test_go_exception_becomes_error(void **)
{
    omp_errgroup::group g;
    int rc = g.run([](omp_errgroup::group &gg) {
        for (int i = 0; i < 100; i++)
            if (gg.go([i] {
                    if (i == 37)
                        throw std::runtime_error("task " + std::to_string(i) + " threw");
                }) != 0)
                break;
    });
    assert_int_equal(rc, ERRGROUP_EEXCEPTION);
    expect_error(g, ERRGROUP_EEXCEPTION, 37, "task 37 threw");
    std::exception_ptr p = g.exception();
    assert_non_null(p ? &p : nullptr);
    bool rethrown = false;
    try {
        g.rethrow();
    } catch (const std::runtime_error &e) {
        rethrown = std::strcmp(e.what(), "task 37 threw") == 0;
    }
    assert_true(rethrown);
    assert_string_equal(errgroup_strerror(ERRGROUP_EEXCEPTION), "task threw an exception");
}

void test_go_unknown_exception(void **)
{
    omp_errgroup::group g;
    g.run([](omp_errgroup::group &gg) { gg.go([] { throw 42; }); });
    expect_error(g, ERRGROUP_EEXCEPTION, 0, "unknown exception");
    int caught = 0;
    try {
        g.rethrow();
    } catch (int v) {
        caught = v;
    }
    assert_int_equal(caught, 42);
}

void test_go_outside_region_catches(void **)
{
    omp_errgroup::group g;
    assert_int_equal(g.go([] { return 0; }), 0);
    assert_int_equal(g.go([](omp_errgroup::group &) { throw std::logic_error("inline"); }), 0);
    assert_int_equal(g.wait(), ERRGROUP_EEXCEPTION);
    expect_error(g, ERRGROUP_EEXCEPTION, 1, "inline");
}

void test_go_ordinals_restart_per_group(void **)
{
    /* Same stack address each time: ordinals must still start at 0, and a
     * refused go must not use one. */
    for (int round = 0; round < 3; round++) {
        omp_errgroup::group g;
        g.set_mode(ERRGROUP_LOWEST_INDEX);
        g.run([](omp_errgroup::group &gg) {
            for (int i = 0; i < 10; i++)
                gg.go([i] {
                    if (i == 4)
                        throw std::runtime_error("four");
                });
        });
        expect_error(g, ERRGROUP_EEXCEPTION, 4, "four");
    }
    omp_errgroup::group g;
    assert_int_equal(g.set_limit(1), 0);
    int accepted = 0;
    /* Outside a region go runs at once, so try_go never meets a full slot. */
    for (int i = 0; i < 5; i++)
        accepted += g.try_go([i] {
            if (i == 3)
                throw std::runtime_error("three");
        }) == 0;
    /* The failure cancelled the group: the fifth go was refused. */
    assert_int_equal(accepted, 4);
    assert_int_equal(g.wait(), ERRGROUP_EEXCEPTION);
    expect_error(g, ERRGROUP_EEXCEPTION, 3, "three");
}

void test_go_int_return_uses_ordinal(void **)
{
    omp_errgroup::group g;
    g.set_mode(ERRGROUP_LOWEST_INDEX);
    int rc = g.run([](omp_errgroup::group &gg) {
        for (int i = 0; i < 64; i++)
            gg.go([i]() -> int { return i == 20 || i == 40 ? 5 : 0; });
    });
    assert_int_equal(rc, 5);
    expect_error(g, 5, 20, "");
    assert_null(g.exception() ? &g : nullptr);
}

void test_fail_and_rethrow_error(void **)
{
    omp_errgroup::group g;
    g.run([](omp_errgroup::group &gg) {
        gg.go([&gg] { return gg.fail(7, 3, "item 3 is bad"); });
    });
    expect_error(g, 7, 0 + 3, "item 3 is bad");
    int code = 0;
    std::int64_t index = 0;
    std::string what;
    try {
        g.rethrow();
    } catch (const omp_errgroup::error &e) {
        code = e.code();
        index = e.index();
        what = e.what();
    }
    assert_int_equal(code, 7);
    assert_int_equal(index, 3);
    assert_string_equal(what.c_str(), "item 3 is bad");
}

void test_rethrow_without_error_returns(void **)
{
    omp_errgroup::group g;
    assert_int_equal(g.parallel_for(0, 1000, [](std::int64_t) {}), 0);
    g.rethrow(); /* must not throw */
    assert_null(g.exception() ? &g : nullptr);
    assert_false(g.canceled());
}

void test_callable_destroyed_once_when_run(void **)
{
    live = 0;
    calls = 0;
    {
        omp_errgroup::group g;
        int rc = g.run([](omp_errgroup::group &gg) {
            for (int i = 0; i < 200; i++) {
                counted c(i);
                gg.go(c); /* copied */
                gg.go(counted(i)); /* moved */
            }
        });
        assert_int_equal(rc, 0);
    }
    assert_int_equal(calls.load(), 400);
    assert_int_equal(live.load(), 0);
}

void test_callable_destroyed_once_when_skipped(void **)
{
    live = 0;
    calls = 0;
    omp_errgroup::group g;
    int accepted = 0;
    g.run([&accepted](omp_errgroup::group &gg) {
        for (int i = 0; i < 500; i++) {
            if (i == 10)
                gg.go([&gg] { gg.cancel(); });
            else if (gg.go(counted(i)) != 0)
                continue; /* refused: destroyed by go */
            accepted++;
        }
    });
    errgroup_counters c = g.counters();
    assert_int_equal(c.submitted, accepted);
    assert_int_equal(c.submitted, c.finished + c.skipped);
    assert_int_equal(live.load(), 0);
    assert_int_equal(g.wait(), ERRGROUP_ECANCELED);
}

void test_refused_go_destroys_callable(void **)
{
    live = 0;
    omp_errgroup::group g;
    assert_int_equal(g.cancel(), 0);
    assert_int_equal(g.go(counted(1)), ERRGROUP_ECANCELED);
    assert_int_equal(live.load(), 0);
    assert_int_equal(g.wait(), ERRGROUP_ECANCELED);
    assert_int_equal(g.go(counted(2)), ERRGROUP_ECLOSED);
    assert_int_equal(live.load(), 0);
}

void test_try_go_at_limit(void **)
{
    live = 0;
    omp_errgroup::group g;
    assert_int_equal(g.set_limit(1), 0);
    int eagain = 0, ok = 0;
    g.run([&](omp_errgroup::group &gg) {
        for (int i = 0; i < 64; i++) {
            int r = gg.try_go(counted(i));
            eagain += r == ERRGROUP_EAGAIN;
            ok += r == 0;
        }
    });
    /* Whatever the schedule, every accepted task was counted and every
     * refused callable was destroyed. */
    errgroup_counters c = g.counters();
    assert_int_equal(c.submitted, ok);
    assert_int_equal(ok + eagain, 64);
    assert_true(ok >= 1);
    assert_int_equal(live.load(), 0);
}

void test_destructor_cancels_and_waits(void **)
{
    live = 0;
    calls = 0;
    std::atomic<int> ran{0};
#pragma omp parallel
#pragma omp single
    {
        omp_errgroup::group g;
        for (int i = 0; i < 300; i++)
            g.go([&ran, c = counted(i)] {
                ran.fetch_add(1);
                return c();
            });
        /* No wait: the destructor cancels, waits and destroys. */
    }
    assert_true(ran.load() <= 300);
    assert_int_equal(calls.load(), ran.load());
    assert_int_equal(live.load(), 0);
}

void test_parallel_for_exception_lowest_index(void **)
{
    omp_errgroup::group g;
    g.set_mode(ERRGROUP_LOWEST_INDEX);
    std::vector<int> seen(100000, 0);
    int rc = g.parallel_for(0, 100000, [&](std::int64_t i) {
        seen[(size_t)i] = 1;
        if (i == 31337 || i == 77777)
            throw std::out_of_range("index " + std::to_string(i));
    });
    assert_int_equal(rc, ERRGROUP_EEXCEPTION);
    expect_error(g, ERRGROUP_EEXCEPTION, 31337, "index 31337");
    for (int i = 0; i <= 31337; i++)
        assert_int_equal(seen[(size_t)i], 1);
    bool is_range = false;
    try {
        std::rethrow_exception(g.exception());
    } catch (const std::out_of_range &) {
        is_range = true;
    }
    assert_true(is_range);
}

void test_parallel_for_int_return_index(void **)
{
    omp_errgroup::group g;
    g.set_mode(ERRGROUP_LOWEST_INDEX);
    int rc = g.parallel_for(-50, 5000, [](std::int64_t i) { return i == 4321 ? 9 : 0; });
    assert_int_equal(rc, 9);
    expect_error(g, 9, 4321, "");
}

void test_parallel_for_chunks_covers_range(void **)
{
    omp_errgroup::group g;
    std::vector<std::atomic<int>> hits(7777);
    int rc = g.parallel_for_chunks(0, 7777, [&](std::int64_t lo, std::int64_t hi) {
        for (std::int64_t i = lo; i < hi; i++)
            hits[(size_t)i].fetch_add(1);
    });
    assert_int_equal(rc, 0);
    for (auto &h : hits)
        assert_int_equal(h.load(), 1);
    omp_errgroup::group g2;
    rc = g2.parallel_for_chunks(0, 1000, [](std::int64_t lo, std::int64_t) {
        if (lo == 0)
            throw std::runtime_error("first chunk");
    });
    assert_int_equal(rc, ERRGROUP_EEXCEPTION);
    expect_error(g2, ERRGROUP_EEXCEPTION, 0, "first chunk");
}

void test_run_exception_no_index(void **)
{
    omp_errgroup::group g;
    int rc = g.run([](omp_errgroup::group &) { throw std::runtime_error("body"); });
    assert_int_equal(rc, ERRGROUP_EEXCEPTION);
    expect_error(g, ERRGROUP_EEXCEPTION, ERRGROUP_NO_INDEX, "body");
    assert_non_null(g.exception() ? &g : nullptr);
}

void test_native_and_setters(void **)
{
    omp_errgroup::group g;
    assert_non_null(g.native());
    assert_int_equal(g.set_timeout(60.0), 0);
    assert_int_equal(g.set_mode(12345), ERRGROUP_EINVAL);
    assert_int_equal(g.fail(0, 1, "x"), ERRGROUP_EINVAL);
    assert_int_equal(g.wait(), 0);
    assert_int_equal(g.wait(), ERRGROUP_ECLOSED);
}

} // namespace

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_go_exception_becomes_error),
        cmocka_unit_test(test_go_unknown_exception),
        cmocka_unit_test(test_go_outside_region_catches),
        cmocka_unit_test(test_go_ordinals_restart_per_group),
        cmocka_unit_test(test_go_int_return_uses_ordinal),
        cmocka_unit_test(test_fail_and_rethrow_error),
        cmocka_unit_test(test_rethrow_without_error_returns),
        cmocka_unit_test(test_callable_destroyed_once_when_run),
        cmocka_unit_test(test_callable_destroyed_once_when_skipped),
        cmocka_unit_test(test_refused_go_destroys_callable),
        cmocka_unit_test(test_try_go_at_limit),
        cmocka_unit_test(test_destructor_cancels_and_waits),
        cmocka_unit_test(test_parallel_for_exception_lowest_index),
        cmocka_unit_test(test_parallel_for_int_return_index),
        cmocka_unit_test(test_parallel_for_chunks_covers_range),
        cmocka_unit_test(test_run_exception_no_index),
        cmocka_unit_test(test_native_and_setters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
