#pragma once
// Where a remote pool runs the user callbacks of the futures its dispatcher completes. The
// dispatcher is one thread that every future of the pool depends on: a callback that blocked on it
// (say, on another future of the same pool) would stall the pool for good. So the dispatcher only
// stores results and wakes waiters; done callbacks, `then` continuations and coroutines resumed by
// `co_await` are handed here and run on an internal thread_pool of one thread, started with the
// first of them. A callback that blocks in `get`, `wait` or `as_completed` gets a stand-in thread
// like any thread_pool task, so the others keep running.
#include <memory>
#include <string>

#include "fronta/detail/shared_state.hpp"
#include "fronta/detail/task.hpp"

namespace fronta::detail {

class callback_runner final : public callback_deferral {
public:
    explicit callback_runner(std::string thread_name_prefix) : prefix_(std::move(thread_name_prefix)) {}
    callback_runner(const callback_runner&) = delete;
    callback_runner& operator=(const callback_runner&) = delete;
    ~callback_runner() { stop(); }

    /// For the dispatcher's whole life: results are stored and waiters woken on its thread, the
    /// user callbacks of what it completes go to `runner`.
    class installed_here {
    public:
        explicit installed_here(callback_runner& runner) noexcept { current_callback_deferral() = &runner; }
        ~installed_here() { current_callback_deferral() = nullptr; }
        installed_here(const installed_here&) = delete;
        installed_here& operator=(const installed_here&) = delete;
    };

    /// Called by the dispatcher only. The callbacks of one state run in order, one after another.
    void defer(state_base* state, callback_node* first) noexcept override;

    /// Waits until every deferred callback has run and ends the thread. Call it once the
    /// dispatcher has ended; from a callback it waits for the others, not for itself.
    void stop() noexcept;

private:
    const std::string prefix_;
    std::shared_ptr<task_sink> pool_;  // written by the dispatcher, read by stop() after it ended
};

}  // namespace fronta::detail
