#pragma once
/// @file wait.hpp
/// @brief `fronta::wait`: block until some or all of many futures are done, like
/// `concurrent.futures.wait`.
/// @code
/// std::vector<fronta::future<int>> futures = ...;
/// auto [done, not_done] = fronta::wait(futures, std::chrono::seconds(1), fronta::return_when::first_completed);
/// for (auto& f : not_done) f.cancel();
/// @endcode
/// Cost: O(n) for n futures in total, however they complete.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <ranges>
#include <string>
#include <vector>

#include "fronta/detail/completion_list.hpp"
#include "fronta/future.hpp"

namespace fronta {

/// When `wait` returns (Python's FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED).
enum class return_when {
    first_completed,  ///< as soon as any future is done (finished or cancelled)
    first_exception,  ///< as soon as any future finishes with an exception; else when all are done
    all_completed,    ///< when every future is done
};

/// What `wait` returns: the same handles it was given, split by whether they are done. Order
/// follows the input; a future listed twice appears twice.
template <class Future>
struct wait_result {
    std::vector<Future> done;
    std::vector<Future> not_done;
};

/// A range whose elements are `fronta::future<T>`.
template <class Range>
concept future_range = std::ranges::input_range<Range> &&
                       detail::is_future<std::remove_cvref_t<std::ranges::range_reference_t<Range>>>::value;

namespace detail {

/// Copies the handles (O(n)), rejecting empty ones with an error naming `function`.
template <future_range Range>
auto collect_futures(Range&& futures, const char* function) {
    using future_type = std::remove_cvref_t<std::ranges::range_reference_t<Range>>;
    std::vector<future_type> all;
    if constexpr (std::ranges::sized_range<Range>) all.reserve(std::ranges::size(futures));
    for (auto&& f : futures) {
        if (!f.valid()) throw invalid_state_error(std::string(function) + "(): the futures include an empty future");
        all.push_back(f);
    }
    return all;
}

template <class Future>
bool failed_with_exception(const Future& f) {
    // Cancelled futures do not count as exceptions for first_exception, as in CPython.
    return f.done() && !f.cancelled() && f.state()->has_exception();
}

template <future_range Range>
auto wait_until(Range&& futures, deadline until, return_when when) {
    auto all = collect_futures(std::forward<Range>(futures), "wait");
    using future_type = typename decltype(all)::value_type;

    std::size_t done_count = 0;
    bool exception_seen = false;
    std::vector<bool> counted(all.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (all[i].done()) {
            counted[i] = true;
            ++done_count;
            exception_seen = exception_seen || failed_with_exception(all[i]);
        }
    }
    const auto satisfied = [&] {
        switch (when) {
            case return_when::first_completed: return done_count > 0 || all.empty();
            case return_when::first_exception: return exception_seen || done_count == all.size();
            case return_when::all_completed: return done_count == all.size();
        }
        return true;
    };

    if (!satisfied() && clock::now() < until) {
        completion_list watcher(all.size());
        for (std::size_t i = 0; i < all.size(); ++i) {
            if (counted[i]) continue;
            if (!watcher.watch(all[i].state(), i)) {
                ++done_count;
                exception_seen = exception_seen || failed_with_exception(all[i]);
            }
        }
        while (!satisfied()) {
            const auto seen = watcher.generation();
            watcher.drain([&](std::size_t i) {
                ++done_count;
                exception_seen = exception_seen || failed_with_exception(all[i]);
            });
            if (satisfied() || !watcher.wait_for_change(seen, until)) break;
        }
    }

    wait_result<future_type> result;
    for (auto& f : all) (f.done() ? result.done : result.not_done).push_back(std::move(f));
    return result;
}

}  // namespace detail

/// Waits without a time limit until the condition `when` holds.
template <future_range Range>
auto wait(Range&& futures, return_when when = return_when::all_completed) {
    return detail::wait_until(std::forward<Range>(futures), detail::no_deadline, when);
}

/// Waits at most `timeout`; on timeout returns what is done by then (no exception, as in Python).
template <future_range Range, class Rep, class Period>
auto wait(Range&& futures, std::chrono::duration<Rep, Period> timeout, return_when when = return_when::all_completed) {
    return detail::wait_until(std::forward<Range>(futures), detail::deadline_after(timeout), when);
}

}  // namespace fronta
