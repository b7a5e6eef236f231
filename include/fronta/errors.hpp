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
    broken_promise()
        : invalid_state_error("the promise was destroyed before it set a value or an exception") {}
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

}  // namespace fronta
