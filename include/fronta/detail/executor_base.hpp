#pragma once
// The interface every fronta executor shares: submit, map, map_unordered, shutdown. Written once
// here over `task_sink`, so each executor only says how it runs a task.

#include <concepts>
#include <functional>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <string>
#include <vector>
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
        if (target->is_remote()) return submit_remote(*target, std::forward<F>(f), std::forward<Args>(args)...);
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
            chunk_submitter_for<view_type>(std::forward<F>(f)), concurrency(),
            std::views::all(std::forward<Range>(inputs)), options);
    }

    /// As `map`, but yields each result as soon as its chunk completes.
    template <class F, std::ranges::viewable_range Range>
        requires std::ranges::input_range<Range>
    auto map_unordered(F&& f, Range&& inputs, const map_options& options = {}) {
        using view_type = std::views::all_t<Range>;
        check_mappable<F, view_type>();
        return map_range<unordered_map_impl<std::decay_t<F>, view_type>>(
            chunk_submitter_for<view_type>(std::forward<F>(f)), concurrency(),
            std::views::all(std::forward<Range>(inputs)), options);
    }

    /// Python's `Executor.shutdown`: no new tasks; with `cancel_futures` pending tasks are
    /// cancelled; with `wait` it returns once running and queued tasks are done and workers gone.
    void shutdown(bool wait = true, bool cancel_futures = false) { sink()->shutdown(wait, cancel_futures); }

    /// How many tasks run at once.
    std::size_t concurrency() const { return sink()->concurrency(); }

protected:
    /// Ships `f(args...)` to a remote executor; a callable or argument that cannot be shipped is an
    /// error here, at run time, because a type-erased `executor` does not know its kind statically.
    template <class F, class... Args>
    static auto submit_remote(task_sink& target, F&& f, Args&&... args) {
        using local_result = call_result_t<F, Args...>;
        using shipping = remote::shipping<F, Args...>;
        if constexpr (shipping::value) {
            static_assert(std::is_same_v<typename shipping::result, local_result>,
                          "submit: the callable's result differs between a local and a remote call");
            auto request = shipping::single(target.passes_descriptors(), f, std::forward<Args>(args)...);
            std::string description = request.function;
            auto [fut, t] = remote::make_remote_task<local_result>(std::move(request), std::move(description));
            target.enqueue_remote(t);
            return fut;
        } else {
            throw std::invalid_argument(not_shippable_message<shipping>("submit"));
            return future<local_result>();
        }
    }

    template <class Shipping>
    static std::string not_shippable_message(const char* function) {
        if (!Shipping::callable_ok)
            return std::string(function) +
                   ": this callable cannot be sent to another process: a lambda with captures or a function object "
                   "without serialize() cannot be shipped; use a function registered with FRONTA_REMOTE(name), a "
                   "captureless lambda, or a struct holding the captured values with a serialize() member";
        if (!Shipping::arguments_ok)
            return std::string(function) +
                   ": an argument type cannot be serialized for another process; give it a serialize(Archive&) "
                   "member (cereal)";
        return std::string(function) +
               ": the result type cannot be serialized for another process; give it a serialize(Archive&) member";
    }

    /// How `map` submits a chunk: as a local task, or as a remote one to a remote executor.
    template <class View, class F>
    auto chunk_submitter_for(F&& f) const {
        using input = std::ranges::range_value_t<View>;
        using fn_type = std::decay_t<F>;
        using result = map_result_t<fn_type, input>;
        auto fn = std::make_shared<fn_type>(std::forward<F>(f));
        std::shared_ptr<task_sink> target = sink();
        return chunk_submitter<input, result>(
            [target, fn](std::vector<input>&& items) -> future<chunk_result<result>> {
                if (target->is_remote()) {
                    using shipping = remote::chunk_shipping<fn_type, input>;
                    if constexpr (shipping::value) {
                        auto request = shipping::chunk(target->passes_descriptors(), *fn, std::move(items));
                        std::string description = request.function + " (map chunk)";
                        auto [fut, t] =
                            remote::make_remote_task<chunk_result<result>>(std::move(request), std::move(description));
                        target->enqueue_remote(t);
                        return fut;
                    } else {
                        throw std::invalid_argument(not_shippable_message<shipping>("map"));
                    }
                }
                auto [fut, t] = make_task([fn, items = std::move(items)]() mutable {
                    return run_chunk_locally<result>(*fn, items);
                });
                target->enqueue(t);
                return fut;
            });
    }

    executor_base() = default;
    explicit executor_base(std::shared_ptr<task_sink> sink) : sink_(std::move(sink)) {}

    const std::shared_ptr<task_sink>& sink() const {
        if (!sink_) throw invalid_state_error("this executor is empty (moved from)");
        return sink_;
    }

    /// Options with `workers = n` for the `pool(n)` constructors; n = 0 is an error there (the
    /// default constructor is the way to ask for one worker per hardware thread).
    template <class Options>
    static Options with_workers(std::size_t n, const char* pool_name) {
        if (n == 0)
            throw std::invalid_argument(std::string(pool_name) + "(0): a pool needs at least one worker; use " +
                                        pool_name + "() for one per hardware thread");
        Options options;
        options.workers = n;
        return options;
    }

    /// What an owning pool does when it is destroyed: stops its sink as the sink says (threads
    /// finish their work, processes stop what runs).
    void end_ownership() noexcept {
        if (sink_) sink_->shutdown_at_destruction();
    }
    /// Move assignment of an owning pool: the pool it held ends as if destroyed.
    void take_ownership(executor_base&& other) noexcept {
        if (this == &other) return;
        end_ownership();
        sink_ = std::move(other.sink_);
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
