#pragma once
/// @file thread_pool.hpp
/// @brief `fronta::thread_pool`: run tasks on a fixed set of threads (Python's ThreadPoolExecutor).
/// @code
/// fronta::thread_pool pool;                       // one worker per hardware thread
/// fronta::thread_pool named({.workers = 4, .thread_name_prefix = "io"});
/// auto f = pool.submit(do_some_math, 5.0);
/// for (double y : pool.map(do_some_math, std::vector{1.0, 2.0, 3.0})) std::cout << y << '\n';
/// @endcode
/// A task may wait on futures of its own pool: while a worker is blocked in `get`, `wait` or
/// `as_completed`, the pool runs a stand-in thread, so a pool of one cannot deadlock on itself
/// (Python's documented deadlock). Past 256 stand-ins (or when no thread can be started), the
/// waiting worker runs queued tasks itself until its wait ends, so nested waits of any depth go
/// on; such a task then runs on the waiter's thread and stack, so a task should not hold, across
/// its wait, a lock that other tasks of the pool take. The destructor calls `shutdown(true)`.
/// Tasks take what std::thread takes: pointers, std::ref, move-only values, capturing lambdas.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "fronta/detail/executor_base.hpp"

namespace fronta {

struct thread_pool_options {
    /// Number of workers; 0 means one per hardware thread.
    std::size_t workers = 0;
    /// Worker threads are named `<prefix>-<n>` (visible in top -H, gdb, perf); at most 15 chars kept.
    std::string thread_name_prefix = "fronta";
    /// Runs first on every worker thread. If it throws, the pool is broken: queued tasks fail
    /// with `broken_executor` and `submit` throws it.
    std::function<void()> initializer;
};

class thread_pool : public detail::executor_base {
public:
    /// One worker per hardware thread.
    thread_pool();
    explicit thread_pool(std::size_t workers);
    explicit thread_pool(thread_pool_options options);
    thread_pool(thread_pool&&) noexcept = default;
    thread_pool& operator=(thread_pool&& other) noexcept;
    ~thread_pool();

    /// The number of workers asked for (stand-ins for blocked workers are not counted).
    std::size_t size() const { return concurrency(); }
};

}  // namespace fronta
