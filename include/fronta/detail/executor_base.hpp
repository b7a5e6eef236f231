#pragma once
// The interface every fronta executor shares: submit, map, map_unordered, shutdown. Written once
// here over `task_sink`, so each executor only says how it runs a task.

#include <concepts>
#include <functional>
#include <memory>
#include <ranges>
#include <type_traits>
#include <utility>

#include "fronta/detail/task.hpp"
#include "fronta/map.hpp"

namespace fronta::detail {

class executor_base {
public:
    /// Schedules `f(args...)` and returns its future. Arguments are copied or moved into the task
    /// (as std::thread does); use std::ref to pass a reference. Throws `shutdown_error` after shutdown.
    template <class F, class... Args>
    auto submit(F&& f, Args&&... args) {
        static_assert(std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>,
                      "submit(f, args...): f cannot be called with these arguments (they are passed as "
                      "decayed copies, like std::thread; wrap references in std::ref)");
        const auto& target = sink();  // before the task exists: an empty executor must not leak it
        auto [fut, t] = make_task(std::forward<F>(f), std::forward<Args>(args)...);
        target->enqueue(t);
        return fut;
    }

    /// A lazy range of `f(x)` for each `x` of `inputs`, in input order. See map.hpp.
    template <class F, std::ranges::viewable_range Range>
        requires std::ranges::input_range<Range>
    auto map(F&& f, Range&& inputs, const map_options& options = {}) {
        using view_type = std::views::all_t<Range>;
        check_mappable<F, view_type>();
        return map_range<ordered_map_impl<std::decay_t<F>, view_type>>(
            sink(), std::forward<F>(f), std::views::all(std::forward<Range>(inputs)), options);
    }

    /// As `map`, but yields each result as soon as its chunk completes.
    template <class F, std::ranges::viewable_range Range>
        requires std::ranges::input_range<Range>
    auto map_unordered(F&& f, Range&& inputs, const map_options& options = {}) {
        using view_type = std::views::all_t<Range>;
        check_mappable<F, view_type>();
        return map_range<unordered_map_impl<std::decay_t<F>, view_type>>(
            sink(), std::forward<F>(f), std::views::all(std::forward<Range>(inputs)), options);
    }

    /// Python's `Executor.shutdown`: no new tasks; with `cancel_futures` pending tasks are
    /// cancelled; with `wait` it returns once running and queued tasks are done and workers gone.
    void shutdown(bool wait = true, bool cancel_futures = false) { sink()->shutdown(wait, cancel_futures); }

    /// How many tasks run at once.
    std::size_t concurrency() const { return sink()->concurrency(); }

protected:
    executor_base() = default;
    explicit executor_base(std::shared_ptr<task_sink> sink) : sink_(std::move(sink)) {}

    const std::shared_ptr<task_sink>& sink() const {
        if (!sink_) throw invalid_state_error("this executor is empty (moved from)");
        return sink_;
    }

    /// For `executor`, which adopts or shares another executor's sink.
    static std::shared_ptr<task_sink>& sink_of(executor_base& other) noexcept { return other.sink_; }

    std::shared_ptr<task_sink> sink_;

private:
    template <class F, class View>
    static constexpr void check_mappable() {
        using input = std::ranges::range_value_t<View>;
        static_assert(std::is_invocable_v<std::decay_t<F>&, input&&>,
                      "map(f, inputs): f cannot be called with an element of inputs");
        static_assert(!std::is_void_v<std::invoke_result_t<std::decay_t<F>&, input&&>>,
                      "map(f, inputs): f returns void, so there are no results to yield; submit each "
                      "input instead, or return a value");
        static_assert(std::is_copy_constructible_v<input> || std::is_move_constructible_v<input>,
                      "map(f, inputs): the input elements must be copyable or movable into tasks");
    }
};

}  // namespace fronta::detail
