#pragma once
/// @file process_pool.hpp
/// @brief `fronta::process_pool`: run tasks in isolated worker processes (Python's
/// ProcessPoolExecutor and loky), with the interface of `thread_pool`.
/// @code
/// double do_some_math(double x) { return x * x; }
/// FRONTA_REMOTE(do_some_math);
///
/// int main(int argc, char** argv) {
///     fronta::init(argc, argv);                        // workers are copies of this program
///     fronta::process_pool pool(4);
///     auto f = pool.submit(do_some_math, 5.0);         // the call you would make on a thread pool
///     for (double y : pool.map(do_some_math, inputs, {.chunk_size = 64})) use(y);
/// }
/// @endcode
/// What can be shipped: functions registered with FRONTA_REMOTE, captureless lambdas, and function
/// objects whose state cereal can serialize; arguments and results that cereal can serialize. A
/// callable or argument that cannot be shipped is a compile-time error here (a run-time error
/// through the type-erased `executor`, which cannot know its kind at compile time).
///
/// Faults: a worker that dies (segfault, abort, exit, SIGKILL, out of memory) fails only the task it
/// was running, with `worker_died`, and is replaced. Tasks may be retried on another worker and
/// have a timeout that kills a stuck worker.
///
/// Where callbacks run: futures complete on the pool's dispatcher thread; keep callbacks short. (A
/// lone short task submitted to an idle pool may complete inside `submit`, on the submitting
/// thread, before a callback can be attached: callbacks added then run at once, as for any
/// finished future. Such a submit polls for the reply for at most 20 µs.)
///
/// Shutdown: `shutdown(wait, cancel_futures)` as in Python, except that `cancel_futures = true` also
/// stops tasks that are running (their workers are killed and the futures fail with
/// `cancelled_error`): a process, unlike a thread, can be stopped. The destructor does
/// `shutdown(true, true)`, so leaving a scope never hangs on a stuck worker; get the results you
/// need before the pool goes out of scope.

#include <chrono>
#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>

#include "fronta/detail/remote_executor_base.hpp"
#include "fronta/init.hpp"
#include "fronta/remote/call.hpp"
#include "fronta/shared_array.hpp"

namespace fronta {

struct process_pool_options {
    /// Number of worker processes; 0 means one per hardware thread.
    std::size_t workers = 0;
    /// A worker is replaced after this many tasks (0: never), to contain leaks.
    std::size_t max_tasks_per_child = 0;
    /// Idle workers exit after this long and come back on the next submit (empty: never).
    std::optional<std::chrono::milliseconds> idle_timeout;
    /// A task running longer is stopped: its worker is killed and the task fails with
    /// `timeout_error`, or is retried (empty: no limit).
    std::optional<std::chrono::milliseconds> task_timeout;
    /// How often a task runs again on another worker after its worker died or it timed out.
    int retries = 0;
    /// Address-space limit per worker in bytes (RLIMIT_AS); beyond it allocations in the task throw
    /// std::bad_alloc (0: no limit).
    std::size_t memory_limit = 0;
    /// Messages (arguments, results) larger than this travel through shared memory (memfd)
    /// instead of the socket.
    std::size_t shared_memory_threshold = std::size_t{1} << 20;
    /// Runs once in each worker before its first task, replacement workers included (Python's
    /// `initializer`/`initargs`): `.initializer = fronta::remote_call(load_model, "model.bin")`.
    /// If it throws or kills its worker, the pool is broken: pending and later submits fail with
    /// `broken_executor` carrying its message. It has no time limit.
    std::optional<bound_call> initializer;
};

/// Per-submit settings for `submit_with`.
struct task_options {
    /// Runs again on another worker after a crash or timeout (empty: the pool's `retries`).
    std::optional<int> retries;
    /// Stops the task after this long (empty: the pool's `task_timeout`).
    std::optional<std::chrono::milliseconds> timeout;
};

class process_pool : public detail::remote_executor_base {
public:
    /// One worker per hardware thread.
    process_pool();
    explicit process_pool(std::size_t workers);
    explicit process_pool(process_pool_options options);
    process_pool(process_pool&&) noexcept = default;
    process_pool& operator=(process_pool&& other) noexcept;
    ~process_pool();

    /// `submit` with a per-task retry count and timeout.
    template <class F, class... Args>
    auto submit_with(const task_options& options, F&& f, Args&&... args) {
        remote::check_shippable<F, Args...>();
        using shipping = remote::shipping<F, Args...>;
        using result = detail::call_result_t<F, Args...>;
        auto request = shipping::single(true, f, std::forward<Args>(args)...);
        std::string description = request.function;
        auto [fut, t] = remote::make_remote_task<result>(std::move(request), std::move(description));
        if (options.retries) t->retries_left = *options.retries;
        if (options.timeout) t->timeout = *options.timeout;
        sink()->enqueue_remote(t);
        return fut;
    }

    /// Number of workers asked for.
    std::size_t size() const { return concurrency(); }

    /// Process ids of the live workers (for monitoring and tests).
    std::vector<int> worker_pids() const;
};

}  // namespace fronta
