#pragma once
/// @file errors.hpp
/// @brief The exceptions fronta throws, one type per thing that can go wrong.
///
/// They mirror `concurrent.futures`: `cancelled_error` is CancelledError, `timeout_error` is
/// TimeoutError, `invalid_state_error` is InvalidStateError, `broken_executor` is BrokenExecutor.
/// @code
/// try { fut.get(std::chrono::seconds(1)); }
/// catch (const fronta::timeout_error& e) { std::cerr << e.what() << '\n'; }
/// @endcode

#include <stdexcept>
#include <string>

namespace fronta {

/// The future was cancelled before it ran; thrown by `get()` of a cancelled future.
class cancelled_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
    cancelled_error() : std::runtime_error("the future was cancelled before its task started") {}
};

/// A wait with a timeout ran out before the result was ready (`get(timeout)`, `as_completed`).
class timeout_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// An operation is not valid in the future's current state, e.g. a second `set_value`.
class invalid_state_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

/// A `promise` was destroyed without setting a value or an exception; its future holds this.
class broken_promise : public invalid_state_error {
public:
    broken_promise() : invalid_state_error("the promise was destroyed before it set a value or an exception") {}
};

/// The executor can no longer run tasks (a worker died, or it was shut down).
class broken_executor : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// `submit` or `map` was called after `shutdown()`.
class shutdown_error : public broken_executor {
public:
    using broken_executor::broken_executor;
};

/// A worker process (or rank) died while running a task: segfault, abort, `exit`, SIGKILL, out of
/// memory. Only the task or chunk it was running fails with this; the pool starts a replacement.
class worker_died : public broken_executor {
public:
    using broken_executor::broken_executor;
};

/// A task raised an exception of a type that cannot be rebuilt on this side (not a standard
/// exception, not registered with FRONTA_REMOTE_EXCEPTION). Carries the original type name and message.
class remote_error : public std::runtime_error {
public:
    remote_error(std::string type_name, std::string message)
        : std::runtime_error(type_name + ": " + message), type_name_(std::move(type_name)),
          message_(std::move(message)) {}
    /// The exception's type as the worker saw it (demangled), e.g. "my::parse_error".
    const std::string& type_name() const noexcept { return type_name_; }
    /// Its `what()` on the worker.
    const std::string& message() const noexcept { return message_; }

private:
    std::string type_name_;
    std::string message_;
};

}  // namespace fronta
