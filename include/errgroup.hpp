/*
 * omp-errgroup for C++17: RAII groups, lambdas as tasks and loop bodies, and
 * exceptions that become the group's error instead of escaping an OpenMP
 * region. Header-only on top of the C library (errgroup.h); everything the C
 * header says about semantics holds here too.
 *
 *     omp_errgroup::group g;
 *     int rc = g.parallel_for(0, n, [&](std::int64_t i) {
 *         if (!solve(cell[i]))
 *             throw std::runtime_error("cell " + std::to_string(i) + " did not converge");
 *     });
 *     if (rc != 0)
 *         g.rethrow();   // the runtime_error, rethrown on this thread
 *
 * Exceptions: an exception that escapes a task body or a loop body is caught
 * inside the task, never crosses an OpenMP region, and is recorded as the
 * group's error with code ERRGROUP_EEXCEPTION, message what() (or
 * "unknown exception"), and index the task's ordinal / the iteration (run:
 * ERRGROUP_NO_INDEX). Its std::exception_ptr is kept: exception() returns it
 * and rethrow() rethrows it on the caller's thread.
 *
 * Callables: go and try_go move (or copy) the callable into storage owned by
 * the task; it is destroyed exactly once, after the body ran or when the task
 * was skipped (cancelled group), on the thread that ran or skipped it. A go
 * that is refused (nonzero return) destroys it before returning. Loops and run
 * call the callable in place (they return only after every call finished).
 *
 * Ordinals: the index of a task recorded by an exception is its ordinal
 * among this object's accepted go / try_go calls. With one submitting thread
 * it is exactly the C library's task ordinal (0, 1, 2, ... in go order); with
 * several it is unique, but not in go order.
 */
#ifndef ERRGROUP_HPP
#define ERRGROUP_HPP

#include "errgroup.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace omp_errgroup {

/* A failed group's error as an exception: rethrow() throws it when the first
 * error was not an exception. what() is the message, or errgroup_strerror()
 * of the code when the message is empty. */
class error : public std::runtime_error {
public:
    error(int code, std::int64_t index, const std::string &message)
        : std::runtime_error(message.empty() ? std::string(errgroup_strerror(code)) : message),
          code_(code), index_(index)
    {
    }
    int code() const noexcept { return code_; }
    std::int64_t index() const noexcept { return index_; }

private:
    int code_;
    std::int64_t index_;
};

class group;

namespace detail {

/* A body's return value as an error code: void is success. */
template <class F, class... A>
inline int invoke_code(F &f, A &&...a)
{
    if constexpr (std::is_void_v<std::invoke_result_t<F &, A...>>) {
        std::invoke(f, std::forward<A>(a)...);
        return 0;
    } else {
        return static_cast<int>(std::invoke(f, std::forward<A>(a)...));
    }
}

/*
 * Task storage. Small task objects come from a cache of 64-byte blocks,
 * because a go's malloc on the submitting thread plus a free on the running
 * thread cost about 40% over a C errgroup_go per trivial task (measured in
 * bench/bench_cxx.cpp). Each thread frees into its own list and reuses it
 * first; a full list (64 blocks) is pushed as one chain on a process-wide
 * lock-free stack, and a thread with nothing to reuse takes that whole stack
 * at once. Pushes only compare the head and the only pop is that exchange, so
 * there is no ABA; one atomic operation per 64 tasks at most. Blocks stay
 * cached for the process's life (their number follows the peak of live
 * tasks); a thread's own lists are freed when it exits. Under
 * AddressSanitizer every task is a plain new/delete, so that use-after-free
 * and double destruction stay visible.
 */
#if defined(__SANITIZE_ADDRESS__)
#define ERRGROUP__HPP_PLAIN_ALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ERRGROUP__HPP_PLAIN_ALLOC 1
#endif
#endif

constexpr std::size_t block_size = 64;
constexpr unsigned block_batch = 64;
struct block {
    block *next;
};
inline std::atomic<block *> returned_blocks{nullptr};
/* Trivially destructible, so that the hot path reads it without the
 * thread_local initialisation check; block_cleanup frees it at thread exit
 * and is touched (registering its destructor) only on the slow paths. */
struct block_lists {
    block *spare;  /* taken from returned_blocks */
    block *freed;  /* freed by this thread, `count` of them, ending at `tail` */
    block *tail;
    unsigned count;
};
inline thread_local block_lists local_blocks{nullptr, nullptr, nullptr, 0};
struct block_cleanup {
    bool armed = false;
    static void release(block *b) noexcept
    {
        while (b != nullptr) {
            block *next = b->next;
            ::operator delete(b);
            b = next;
        }
    }
    ~block_cleanup()
    {
        release(local_blocks.spare);
        release(local_blocks.freed);
        local_blocks = block_lists{nullptr, nullptr, nullptr, 0};
    }
};
inline thread_local block_cleanup local_cleanup;

template <class T>
constexpr bool cached = sizeof(T) <= block_size && alignof(T) <= alignof(std::max_align_t)
#ifdef ERRGROUP__HPP_PLAIN_ALLOC
                        && false
#endif
    ;

template <class T>
inline void *alloc_task() noexcept
{
    if constexpr (cached<T>) {
        block_lists &l = local_blocks;
        if (block *b = l.freed) {
            l.freed = b->next;
            if (--l.count == 0)
                l.tail = nullptr;
            return b;
        }
        if (l.spare == nullptr) /* Acquire: pairs with the release push below. */
            l.spare = returned_blocks.exchange(nullptr, std::memory_order_acquire);
        if (block *b = l.spare) {
            l.spare = b->next;
            return b;
        }
        local_cleanup.armed = true;
        return ::operator new(block_size, std::nothrow);
    } else {
        return ::operator new(sizeof(T), std::nothrow);
    }
}

template <class T>
inline void free_task(void *p) noexcept
{
    if constexpr (cached<T>) {
        block_lists &l = local_blocks;
        block *b = static_cast<block *>(p);
        b->next = l.freed;
        l.freed = b;
        if (l.tail == nullptr) {
            l.tail = b;
            local_cleanup.armed = true; /* once per batch: this thread now holds blocks */
        }
        if (++l.count < block_batch)
            return;
        /* Relaxed: only a guess of the head; the CAS below checks it. */
        l.tail->next = returned_blocks.load(std::memory_order_relaxed);
        /* Release: the blocks' last uses (destroyed tasks) happen before the
         * thread that takes them reuses them. */
        /* On failure the CAS reloads the head into tail->next (relaxed: a guess again). */
        while (!returned_blocks.compare_exchange_weak(l.tail->next, l.freed, std::memory_order_release,
                                                      std::memory_order_relaxed)) {
        }
        l.freed = l.tail = nullptr;
        l.count = 0;
    } else {
        ::operator delete(p);
    }
}

/*
 * Ordinals. An atomic increment per go cost about 6 ns (gcc, one thread: a
 * fifth of a C errgroup_go), so a thread takes ordinals from its group in
 * blocks of ordinal_batch and hands them out one by one. With one submitting
 * thread that is exactly 0, 1, 2, ... in go order, as the C library numbers
 * tasks; with several, ordinals stay unique but blocks interleave. Groups are
 * told apart by an id, never by address (a new group may reuse an address).
 */
constexpr std::int64_t ordinal_batch = 256;
inline std::atomic<std::uint64_t> next_group_id{1};
struct ordinal_range {
    std::uint64_t group;
    std::int64_t next, end;
};
inline thread_local ordinal_range local_ordinals{0, 0, 0};

/* The task-owned part of a go: the callable and the task's ordinal. */
struct task_base {
    void (*destroy)(task_base *) noexcept;
    group *owner;
    std::int64_t ordinal;
};

} // namespace detail

/*
 * group - owns an ::errgroup. Not copyable, not movable (the C group must not
 * move while initialised). Member functions return the C library's codes and
 * have its thread-safety rules; the callables' rules are in the file comment.
 */
class group {
public:
    /* Initialises the group. Throws std::bad_alloc on ERRGROUP_ENOMEM. */
    group()
    {
        /* Relaxed: the id needs uniqueness only. */
        id_ = detail::next_group_id.fetch_add(1, std::memory_order_relaxed);
        int rc = errgroup_init(&g_);
        if (rc == ERRGROUP_ENOMEM)
            throw std::bad_alloc();
        /* Cannot fail on a group just initialised: nothing is in flight. */
        (void)errgroup_set_release(&g_, &release_task);
    }

    /* If the group was not waited for: cancel, then wait (so no task outlives
     * it), then destroy. Never throws, never aborts. */
    ~group()
    {
        if (!waited_) {
            (void)errgroup_cancel(&g_);
            (void)errgroup_wait(&g_);
        }
        (void)errgroup_destroy(&g_);
    }

    group(const group &) = delete;
    group &operator=(const group &) = delete;
    group(group &&) = delete;
    group &operator=(group &&) = delete;

    /*
     * go - run f() or f(group&) as a task (errgroup_go). f returns void or
     * int (0 = success, anything else is an error code as in C).
     * Returns 0 (accepted) or errgroup_go's codes; ERRGROUP_ENOMEM if the
     * task's storage cannot be allocated. Moving or copying f may throw; that
     * exception propagates from go (nothing was submitted).
     */
    template <class F>
    int go(F &&f)
    {
        return submit(std::forward<F>(f), false);
    }

    /* try_go - errgroup_try_go for a callable; ERRGROUP_EAGAIN at the limit. */
    template <class F>
    int try_go(F &&f)
    {
        return submit(std::forward<F>(f), true);
    }

    /* wait - errgroup_wait; afterwards the destructor only destroys. */
    int wait()
    {
        int rc = errgroup_wait(&g_);
        if (rc != ERRGROUP_EINVAL)
            waited_ = true;
        return rc;
    }

    /* run - errgroup_run with body(group&) (returning void or int). */
    template <class F>
    int run(F &&body)
    {
        run_ctx<std::remove_reference_t<F>> c{this, &body};
        return errgroup_run(&g_, &run_body<std::remove_reference_t<F>>, &c);
    }

    /*
     * parallel_for - f(i) for every i in [begin, end), over errgroup_for's
     * chunks. f returns void or int; a nonzero int is recorded at index i
     * (errgroup_fail_str without a message; a message recorded by f itself
     * through fail() wins if it came first). Returns as errgroup_for.
     */
    template <class F>
    int parallel_for(std::int64_t begin, std::int64_t end, F &&f)
    {
        loop_ctx<std::remove_reference_t<F>> c{this, &f};
        return errgroup_for(&g_, begin, end, &for_body<std::remove_reference_t<F>>, &c);
    }

    /* parallel_for_chunks - f(lo, hi) per chunk of errgroup_for, which
     * records a nonzero return at lo as in C; an exception is recorded at lo. */
    template <class F>
    int parallel_for_chunks(std::int64_t begin, std::int64_t end, F &&f)
    {
        loop_ctx<std::remove_reference_t<F>> c{this, &f};
        return errgroup_for(&g_, begin, end, &chunk_body<std::remove_reference_t<F>>, &c);
    }

    /* fail - errgroup_fail_str: returns code, or ERRGROUP_EINVAL (code 0). */
    int fail(int code, std::int64_t index, const std::string &message)
    {
        return errgroup_fail_str(&g_, code, index, message.c_str());
    }

    int cancel() noexcept { return errgroup_cancel(&g_); }

    bool canceled() const noexcept
    {
        /* errgroup_canceled only reads the group; the C signature is not const. */
        return errgroup_canceled(const_cast<::errgroup *>(&g_)) != 0;
    }

    errgroup_error first_error() const
    {
        errgroup_error e;
        (void)errgroup_first_error(&g_, &e);
        return e;
    }

    /* The first error's exception if it was one (code ERRGROUP_EEXCEPTION
     * recorded by a body that threw); else null. */
    std::exception_ptr exception() const
    {
        errgroup_error e = first_error();
        if (e.code != ERRGROUP_EEXCEPTION)
            return nullptr;
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto &p : exceptions_)
            if (p.first == e.index)
                return p.second;
        return nullptr;
    }

    /* Rethrows exception() if set, else throws error if the group failed
     * (or was cancelled or timed out); returns normally otherwise. */
    void rethrow() const
    {
        if (std::exception_ptr p = exception())
            std::rethrow_exception(p);
        errgroup_error e = first_error();
        if (e.code != 0)
            throw error(e.code, e.index, e.message);
    }

    int set_limit(int n) { return errgroup_set_limit(&g_, n); }
    int set_timeout(double s) { return errgroup_set_timeout(&g_, s); }
    int set_mode(int mode) { return errgroup_set_mode(&g_, mode); }

    errgroup_counters counters() const
    {
        errgroup_counters c;
        (void)errgroup_get_counters(&g_, &c);
        return c;
    }

    /* The C group, for C functions and the loop macros. Its release function
     * belongs to this object: do not call errgroup_go, errgroup_try_go or
     * errgroup_set_release on it, nor wait or destroy it. */
    ::errgroup *native() noexcept { return &g_; }

private:
    template <class F>
    struct task : detail::task_base {
        F fn;
        template <class G>
        task(group *o, G &&f) : detail::task_base{&destroy_task, o, 0}, fn(std::forward<G>(f))
        {
        }
        static void destroy_task(detail::task_base *t) noexcept
        {
            task *self = static_cast<task *>(t);
            self->~task(); /* a throwing destructor terminates: as in std */
            detail::free_task<task>(self);
        }
        static int run(::errgroup *, void *arg) noexcept
        {
            task *t = static_cast<task *>(arg);
            group &g = *t->owner;
            try {
                if constexpr (std::is_invocable_v<F &, group &>)
                    return detail::invoke_code(t->fn, g);
                else
                    return detail::invoke_code(t->fn);
            } catch (...) {
                return g.caught(t->ordinal);
            }
        }
    };

    template <class F>
    struct run_ctx {
        group *g;
        F *f;
    };
    template <class F>
    struct loop_ctx {
        group *g;
        F *f;
    };

    /* The release function of the C group: every accepted task's arg is a
     * task_base, destroyed here whether its body ran or was skipped. */
    static void release_task(void *arg) noexcept
    {
        detail::task_base *t = static_cast<detail::task_base *>(arg);
        t->destroy(t);
    }

    template <class F>
    int submit(F &&f, bool try_only)
    {
        using T = task<std::decay_t<F>>;
        void *mem = detail::alloc_task<T>();
        if (mem == nullptr)
            return ERRGROUP_ENOMEM;
        T *t;
        try {
            t = ::new (mem) T(this, std::forward<F>(f));
        } catch (...) {
            detail::free_task<T>(mem);
            throw;
        }
        detail::ordinal_range &r = detail::local_ordinals;
        if (r.group != id_ || r.next == r.end) {
            /* Relaxed: blocks need uniqueness only; the task reads its
             * ordinal after errgroup_go's task creation, which orders this
             * thread's stores before the body. */
            r.group = id_;
            r.next = next_.fetch_add(detail::ordinal_batch, std::memory_order_relaxed);
            r.end = r.next + detail::ordinal_batch;
        }
        /* Taken before the go: outside a parallel region go runs the body at
         * once, and a go in that body must get the next ordinal. */
        std::int64_t ordinal = r.next++;
        t->ordinal = ordinal;
        int rc = try_only ? errgroup_try_go(&g_, &T::run, t) : errgroup_go(&g_, &T::run, t);
        if (rc != 0) {
            /* Refused: the C library did not take arg and numbered nothing;
             * give the ordinal back unless this thread has taken more since. */
            if (r.group == id_ && r.next == ordinal + 1)
                r.next = ordinal;
            T::destroy_task(t);
        }
        return rc;
    }

    template <class F>
    static int run_body(::errgroup *, void *arg) noexcept
    {
        run_ctx<F> &c = *static_cast<run_ctx<F> *>(arg);
        try {
            return detail::invoke_code(*c.f, *c.g);
        } catch (...) {
            return c.g->caught(ERRGROUP_NO_INDEX);
        }
    }

    template <class F>
    static int for_body(::errgroup *cg, std::int64_t lo, std::int64_t hi, void *arg) noexcept
    {
        loop_ctx<F> &c = *static_cast<loop_ctx<F> *>(arg);
        std::int64_t i = lo;
        try {
            for (; i < hi; ++i) {
                if constexpr (std::is_void_v<std::invoke_result_t<F &, std::int64_t>>) {
                    std::invoke(*c.f, i);
                } else {
                    int rc = static_cast<int>(std::invoke(*c.f, i));
                    if (ERRGROUP__UNLIKELY(rc != 0))
                        return errgroup_fail_str(cg, rc, i, nullptr);
                }
            }
        } catch (...) {
            return c.g->caught(i);
        }
        return 0;
    }

    template <class F>
    static int chunk_body(::errgroup *, std::int64_t lo, std::int64_t hi, void *arg) noexcept
    {
        loop_ctx<F> &c = *static_cast<loop_ctx<F> *>(arg);
        try {
            return detail::invoke_code(*c.f, lo, hi);
        } catch (...) {
            return c.g->caught(lo);
        }
    }

    /* Inside a catch handler: record the current exception as the group's
     * error at `index`, keep its exception_ptr if it won, and return the code
     * for the body to return. Never throws (a failure to keep the pointer
     * leaves exception() null; the error itself is recorded). */
    int caught(std::int64_t index) noexcept
    {
        std::exception_ptr p = std::current_exception();
        const char *what = "unknown exception";
        try {
            throw;
        } catch (const std::exception &e) {
            what = e.what();
        } catch (...) {
        }
        int rc = errgroup_fail_str(&g_, ERRGROUP_EEXCEPTION, index, what);
        errgroup_error e;
        if (errgroup_first_error(&g_, &e) == 0 && e.code == ERRGROUP_EEXCEPTION && e.index == index) {
            try {
                std::lock_guard<std::mutex> lock(mu_);
                exceptions_.emplace_back(index, std::move(p));
            } catch (...) {
            }
        }
        return rc;
    }

    ::errgroup g_;
    bool waited_ = false;
    std::uint64_t id_;                     /* see detail::ordinal_range */
    std::atomic<std::int64_t> next_{0};    /* the next block of ordinals */
    /* Exceptions that were the group's first error when they were recorded
     * (lowest-index mode may replace the winner, hence a list). Error path
     * only; guarded by mu_. */
    mutable std::mutex mu_;
    std::vector<std::pair<std::int64_t, std::exception_ptr>> exceptions_;
};

} // namespace omp_errgroup

#endif /* ERRGROUP_HPP */
