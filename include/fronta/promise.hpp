#pragma once
/// @file promise.hpp
/// @brief `fronta::promise<T>`: the producing side of a future, for code that completes futures
/// itself (an event loop, a callback API, a custom executor).
/// @code
/// fronta::promise<int> p;
/// fronta::future<int> f = p.get_future();
/// std::thread([p = std::move(p)]() mutable { p.set_value(42); }).detach();
/// f.get();  // 42
/// @endcode
/// A promise destroyed before it set anything leaves `broken_promise` in its future, so no waiter
/// hangs. A second `set_value`/`set_exception` throws `invalid_state_error`.

#include <exception>
#include <utility>

#include "fronta/future.hpp"

namespace fronta {

template <class T>
class promise {
public:
    promise() : state_(new detail::state<T>()) {}
    promise(promise&&) noexcept = default;
    promise& operator=(promise&& other) noexcept {
        if (this != &other) {
            abandon();
            state_ = std::move(other.state_);
        }
        return *this;
    }
    promise(const promise&) = delete;
    promise& operator=(const promise&) = delete;
    ~promise() { abandon(); }

    /// A handle to the future; may be called many times, all handles share one state.
    future<T> get_future() const { return future<T>(detail::adopt_state_t{}, checked()); }

    /// Stores the value (constructed from `args`) and wakes waiters; runs the done callbacks.
    /// A waiter woken by it may destroy this promise before it returns.
    template <class... Args>
    void set_value(Args&&... args) {
        const auto state = checked();  // the completion goes on with the state after waking waiters
        state->set_value(std::forward<Args>(args)...);
    }
    void set_exception(std::exception_ptr error) {
        const auto state = checked();
        state->set_exception(std::move(error));
    }

    /// Python's protocol for executors: false if the future was cancelled (do not run the task),
    /// true after marking it running (it can no longer be cancelled).
    bool set_running_or_notify_cancel() { return checked()->set_running_or_notify_cancel(); }

private:
    const detail::state_ref<detail::state<T>>& checked() const {
        if (!state_) throw invalid_state_error("this promise is empty (moved from)");
        return state_;
    }
    void abandon() noexcept {
        if (state_ && !state_->done()) {
            try {
                state_->set_exception(std::make_exception_ptr(broken_promise()));
            } catch (const invalid_state_error&) {
                // Another handle completed it concurrently (e.g. cancel): nothing is lost.
            }
        }
    }

    detail::state_ref<detail::state<T>> state_;
};

}  // namespace fronta
