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
/// objects whose state cereal can serialize; arguments and results that cereal can serialize (not
/// raw pointers: pass the value, a std::vector, or a `shared_array`). A callable or argument that
/// cannot be shipped is a compile-time error here (a run-time error through the type-erased
/// `executor`, which cannot know its kind at compile time).
///
/// Faults: a worker that dies (segfault, abort, exit, SIGKILL, out of memory) fails only the task it
/// was running, with `worker_died`, and is replaced. Tasks may be retried on another worker and
/// have a timeout that kills a stuck worker.
///
/// Where callbacks run: futures complete on the pool's dispatcher thread, which only stores the
/// result and wakes waiters; done callbacks, `then` continuations and coroutines resumed by
/// `co_await` run on the pool's callback thread (an internal `thread_pool` of one thread, started
/// with the first callback), those of one future in the order added. A callback may wait on
/// futures of the same pool (a blocked callback gets a stand-in, as in `thread_pool`) and may
/// destroy the pool. `shutdown(wait = true)` returns once the callbacks have run. (A lone short
/// task submitted to an idle pool may complete inside `submit`, on the submitting thread, before a
/// callback can be attached: callbacks added then run at once, as for any finished future. Such a
/// submit polls for the reply for at most 20 µs.)
///
/// Workers never outlive the client: when it dies (SIGKILL, exit, an uncaught exception, Ctrl-C),
/// every worker exits within milliseconds, also in the middle of a task. Workers run in a process
/// group of their own, so a terminal's Ctrl-C reaches only the client (which may catch SIGINT and
/// finish its tasks). A program a task starts inherits none of fronta's descriptors, and a task
/// must not write onto the worker's channel (it fails if it does).
///
/// Shutdown: `shutdown(wait, cancel_futures)` as in Python, except that `cancel_futures = true` also
/// stops tasks that are running (their workers are killed and the futures fail with
/// `cancelled_error`): a process, unlike a thread, can be stopped. Idle workers exit by
/// themselves, with up to 5 s to flush their output and run their exit handlers. The destructor does
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
    /// instead of the socket, serialized into it and read in place; its buffers are reused. Any
    /// size that fits in memory travels (arguments spill to shared memory past 1 MiB whatever this
    /// says). A message a worker cannot map under `memory_limit` fails its task with an error
    /// naming the limit.
    std::size_t shared_memory_threshold = std::size_t{1} << 20;
    /// Runs once in each worker before its first task, replacement workers included (Python's
    /// `initializer`/`initargs`): `.initializer = fronta::remote_call(load_model, "model.bin")`.
    /// If it throws or kills its worker, the pool is broken: pending and later submits fail with
    /// `broken_executor` carrying its message. It has no time limit.
    std::optional<bound_call> initializer;
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

    /// Number of workers asked for.
    std::size_t size() const { return concurrency(); }

    /// Process ids of the live workers (for monitoring and tests).
    std::vector<int> worker_pids() const;
};

}  // namespace fronta
