#pragma once
// The interface of the executors that run tasks in other processes (process_pool, mpi_pool):
// executor_base's over a remote_sink, with what can be shipped checked at compile time. The
// pieces that ship a task (shipped_task, remote_chunks) are shared with the type-erased
// `executor`, which decides at run time.

#include <array>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "fronta/detail/executor_base.hpp"
#include "fronta/detail/remote_sink.hpp"
#include "fronta/detail/typed_map_journal.hpp"
#include "fronta/remote/call.hpp"
#include "fronta/remote/callable.hpp"
#include "fronta/remote/dataflow.hpp"

namespace fronta {

/// Per-submit settings for `submit_with` of process_pool and mpi_pool:
/// `pool.submit_with({.retries = 2, .timeout = std::chrono::seconds(10)}, f, x)`.
struct task_options {
    /// Runs again on another worker after a crash or timeout (empty: the pool's `retries`).
    std::optional<int> retries;
    /// Stops the task after this long (empty: the pool's `task_timeout`).
    std::optional<std::chrono::milliseconds> timeout;
};

}  // namespace fronta

namespace fronta::detail {

/// `f(args...)` as a task for another process: its future and the task to enqueue. What cannot
/// be shipped throws std::invalid_argument naming the reason (remote pools have refused it at
/// compile time already; the type-erased `executor` finds out here).
template <class F, class... Args>
std::pair<future<call_result_t<F, Args...>>, remote::remote_task*> shipped_task(bool descriptors, const char* caller,
                                                                                F&& f, Args&&... args) {
    using local_result = call_result_t<F, Args...>;
    using shipping = remote::shipping<F, Args...>;
    if constexpr (shipping::value) {
        static_assert(std::is_same_v<typename shipping::result, local_result>,
                      "submit: the callable's result differs between a local and a remote call");
        const std::uint64_t submitted = tracing_on() ? trace_clock() : 0;
        auto request = shipping::single(descriptors, f, std::forward<Args>(args)...);
        std::string description = request.function;
        return remote::make_remote_task<local_result>(std::move(request), std::move(description), submitted);
    } else {
        throw std::invalid_argument(remote::not_shippable_message<shipping>(caller));
    }
}

/// The shipping of `f` with the values of a tuple as its arguments.
template <class F, class Values>
struct shipping_of;
template <class F, class... V>
struct shipping_of<F, std::tuple<V...>> {
    using type = remote::shipping<F, V...>;
};

/// Settles a shipped task whose arguments include futures: once they are done, the arguments are
/// serialized (the futures' values in place of the futures) and the task is handed to `sink`.
template <class Shipping, class... A>
struct remote_settle : settle_as_task<remote_settle<Shipping, A...>> {
    std::shared_ptr<remote_sink> sink;
    remote::remote_task* t;
    bool descriptors;
    std::tuple<A...> args;

    void run() {
        try {
            std::apply([this](A&... a) { call_with_inputs(filler{this}, a...); }, args);
        } catch (...) {
            t->fail(std::current_exception());
            throw;
        }
        if (t->traced.submitted != 0) t->traced.bytes_out = t->call.wire_size();
        sink->enqueue_remote(t);
    }
    void fail(std::exception_ptr e) noexcept { t->fail(std::move(e)); }
    void cancel() noexcept { t->cancel(); }

private:
    struct filler {
        remote_settle* self;
        template <class... V>
        void operator()(V&&... values) const {
            Shipping::fill(self->t->call, self->descriptors, std::forward<V>(values)...);
        }
    };
};

/// `submit(f, args...)` with futures among args, on a remote sink: the task exists at once (its
/// future is returned), its arguments are serialized when the inputs are done. What cannot be
/// shipped throws std::invalid_argument (remote pools refuse it at compile time already).
template <class F, class... Args>
auto submit_shipped_with_inputs(const std::shared_ptr<remote_sink>& target, const task_options& options,
                                const char* caller, F&& f, Args&&... args) {
    using shipping = typename shipping_of<F, argument_values_t<Args...>>::type;
    using local_result = input_result_t<F, Args...>;
    if constexpr (!shipping::value) {
        throw std::invalid_argument(remote::not_shippable_message<shipping>(caller));
        return future<local_result>();
    } else {
        static_assert(std::is_same_v<typename shipping::result, local_result>,
                      "submit: the callable's result differs between a local and a remote call");
        target->refuse_if_closed();
        std::array<state_base*, input_count<Args...>> inputs{};
        collect_inputs(inputs, args...);
        const bool descriptors = target->passes_descriptors();
        const std::uint64_t submitted = tracing_on() ? trace_clock() : 0;
        auto request = shipping::named(descriptors, f);
        std::string description = request.function;
        auto [fut, t] = remote::make_remote_task<local_result>(std::move(request), std::move(description), submitted);
        if (options.retries) t->retries_left = *options.retries;
        if (options.timeout) t->timeout = *options.timeout;
        when_inputs_done<input_count<Args...>>(*target, inputs,
                                               remote_settle<shipping, std::decay_t<Args>...>{
                                                   {},
                                                   target,
                                                   t,
                                                   descriptors,
                                                   std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...)});
        return fut;
    }
}

/// How `map` hands chunks to a remote executor: each chunk is one shipped task on `target`.
struct remote_chunks {
    std::shared_ptr<remote_sink> target;

    template <class Input, class Result, class Fn>
    chunk_submitter<Input, Result> make(std::shared_ptr<Fn> fn) const {
        return [target = target, fn = std::move(fn)](std::vector<Input>&& items,
                                                     std::size_t& wire_bytes) -> future<chunk_result<Result>> {
            using shipping = remote::chunk_shipping<Fn, Input>;
            target->refuse_if_closed();
            if constexpr (shipping::value) {
                const std::uint64_t submitted = tracing_on() ? trace_clock() : 0;
                auto request = shipping::chunk(target->passes_descriptors(), *fn, std::move(items));
                wire_bytes = request.wire_size();
                std::string description = remote::describe_callable(*fn) + " (map chunk)";
                auto [fut, t] = remote::make_remote_task<chunk_result<Result>>(std::move(request),
                                                                               std::move(description), submitted);
                target->enqueue_remote(t);
                return fut;
            } else {
                throw std::invalid_argument(remote::not_shippable_message<shipping>("map"));
            }
        };
    }

    /// For map_reduce: each chunk one shipped task that runs f and reduce there (fold_chunk), so
    /// one value per chunk travels back.
    template <class Input, class T, class Fn, class Reduce>
    chunk_submitter<Input, T> make_fold(std::shared_ptr<Fn> fn, std::shared_ptr<Reduce> reduce) const {
        return [target = target, fn = std::move(fn),
                reduce = std::move(reduce)](std::vector<Input>&& items,
                                            std::size_t& wire_bytes) -> future<chunk_result<T>> {
            using folder = remote::fold_chunk<Fn, Reduce, T, Input>;
            using shipping = remote::shipping<folder, std::vector<Input>>;
            target->refuse_if_closed();
            if constexpr (!remote::boxable_v<Fn>) {
                throw std::invalid_argument(remote::not_shippable_message<remote::shipping<Fn, Input>>("map_reduce"));
            } else if constexpr (!remote::boxable_v<Reduce>) {
                throw std::invalid_argument("map_reduce: the reduction cannot be sent to another process: " +
                                            remote::not_shippable_message<remote::shipping<Reduce, T, T>>("reduce"));
            } else if constexpr (!shipping::value) {
                throw std::invalid_argument(remote::not_shippable_message<shipping>("map_reduce"));
            } else {
                const std::uint64_t submitted = tracing_on() ? trace_clock() : 0;
                folder call{{*fn}, {*reduce}};
                auto request = shipping::single(target->passes_descriptors(), call, std::move(items));
                wire_bytes = request.wire_size();
                std::string description = remote::describe_callable(*fn) + " (map_reduce chunk)";
                auto [fut, t] =
                    remote::make_remote_task<chunk_result<T>>(std::move(request), std::move(description), submitted);
                target->enqueue_remote(t);
                return fut;
            }
        };
    }

    template <class Input, class Stored, class... Fns>
    std::shared_ptr<chunk_journal<Input, Stored>> journal(const std::filesystem::path& path, journal_kind kind,
                                                          std::size_t chunk_size, const Fns&... fns) const {
        return open_map_journal<Input, Stored>(path, kind, chunk_size, fns...);
    }
};

class remote_executor_base : public executor_base {
public:
    /// As `thread_pool::submit`, checked at compile time for what can be shipped.
    template <class F, class... Args>
    auto submit(F&& f, Args&&... args) {
        return submit_shipped(task_options{}, std::forward<F>(f), std::forward<Args>(args)...);
    }
    template <class F, std::ranges::viewable_range Range>
        requires std::ranges::input_range<Range>
    auto map(F&& f, Range&& inputs, const map_options& options = {}) {
        if constexpr (mappable<F, element_value_t<std::ranges::range_value_t<Range>>>)
            remote::check_shippable<F, element_value_t<std::ranges::range_value_t<Range>>>();
        return map_with<true>(chunks(), std::forward<F>(f), std::forward<Range>(inputs), options);
    }
    template <class F, std::ranges::viewable_range Range>
        requires std::ranges::input_range<Range>
    auto map_unordered(F&& f, Range&& inputs, const map_options& options = {}) {
        if constexpr (mappable<F, element_value_t<std::ranges::range_value_t<Range>>>)
            remote::check_shippable<F, element_value_t<std::ranges::range_value_t<Range>>>();
        return map_with<false>(chunks(), std::forward<F>(f), std::forward<Range>(inputs), options);
    }

    /// As `executor_base`'s map over several ranges, checked for what can be shipped.
    template <class F, class R1, class R2, class... Rest>
        requires several_ranges<R1, R2>
    auto map(F&& f, R1&& xs, R2&& ys, Rest&&... rest) {
        check_several<F, R1, R2, Rest...>();
        return map_several<true, F>(chunks(), remote::shipped_apply<std::decay_t<F>>{{std::forward<F>(f)}},
                                    std::forward<R1>(xs), std::forward<R2>(ys), std::forward<Rest>(rest)...);
    }
    /// The same with options after two ranges: `map(f, xs, ys, {.chunk_size = 64})`.
    template <class F, class R1, class R2>
        requires several_ranges<R1, R2>
    auto map(F&& f, R1&& xs, R2&& ys, const map_options& options) {
        check_several<F, R1, R2>();
        return map_several<true, F>(chunks(), remote::shipped_apply<std::decay_t<F>>{{std::forward<F>(f)}},
                                    std::forward<R1>(xs), std::forward<R2>(ys), options);
    }
    template <class F, class R1, class R2, class... Rest>
        requires several_ranges<R1, R2>
    auto map_unordered(F&& f, R1&& xs, R2&& ys, Rest&&... rest) {
        check_several<F, R1, R2, Rest...>();
        return map_several<false, F>(chunks(), remote::shipped_apply<std::decay_t<F>>{{std::forward<F>(f)}},
                                     std::forward<R1>(xs), std::forward<R2>(ys), std::forward<Rest>(rest)...);
    }
    /// The same with options after two ranges: `map(f, xs, ys, {.chunk_size = 64})`.
    template <class F, class R1, class R2>
        requires several_ranges<R1, R2>
    auto map_unordered(F&& f, R1&& xs, R2&& ys, const map_options& options) {
        check_several<F, R1, R2>();
        return map_several<false, F>(chunks(), remote::shipped_apply<std::decay_t<F>>{{std::forward<F>(f)}},
                                     std::forward<R1>(xs), std::forward<R2>(ys), options);
    }

    /// `submit` with a per-task retry count and timeout, over the pool's `retries` and
    /// `task_timeout`: `pool.submit_with({.retries = 2, .timeout = 10s}, f, x)`.
    template <class F, class... Args>
    auto submit_with(const task_options& options, F&& f, Args&&... args) {
        return submit_shipped(options, std::forward<F>(f), std::forward<Args>(args)...);
    }

protected:
    friend struct executor_access;
    /// How this executor runs the chunks of a map: shipped to its workers.
    remote_chunks chunks() const { return remote_chunks{shared_remote_sink()}; }
    /// f(x, y, ...) of a map over several ranges must be shippable with those elements.
    template <class F, class... Args>
    static constexpr void check_several() {
        constexpr std::size_t ranges = sizeof...(Args) - (ends_with_v<map_options, Args...> ? 1 : 0);
        using values = typename zip_values<ranges, Args...>::type;
        if constexpr (invocable_with_members<F, values>(std::make_index_sequence<ranges>()))
            []<class... V>(std::tuple<V...>*) { remote::check_shippable<F, V...>(); }(static_cast<values*>(nullptr));
    }
    /// f(input) and reduce(T, T) are shipped together, so both must be shippable.
    template <class F, class Input, class Reduce, class T>
    static constexpr void check_fold() {
        remote::check_shippable<F, Input>();
        remote::check_shippable<Reduce, T, T>();
    }

    /// Only a remote sink: what sink() holds is one from here on (see remote_target).
    explicit remote_executor_base(std::shared_ptr<remote_sink> sink) : executor_base(std::move(sink)) {}

    /// As executor_base's, from another remote executor only, so the sink stays a remote one.
    void take_ownership(remote_executor_base&& other) noexcept { executor_base::take_ownership(std::move(other)); }

    /// The sink as what it is; a static_cast, since the constructor and take_ownership admit
    /// nothing else.
    remote_sink& remote_target() const { return static_cast<remote_sink&>(*sink()); }
    std::shared_ptr<remote_sink> shared_remote_sink() const { return std::static_pointer_cast<remote_sink>(sink()); }

    /// Ships `f(args...)` with per-task retries and timeout. What cannot be called or shipped is a
    /// compile-time error, and the first one the compiler reports.
    template <class F, class... Args>
    auto submit_shipped(const task_options& options, F&& f, Args&&... args) {
        if constexpr (has_inputs<Args...>) {
            if constexpr (!submittable_with_inputs<F, Args...>) {
                report_not_submittable_with_inputs<F, Args...>();
            } else {
                []<class... V>(std::tuple<V...>*) {
                    remote::check_shippable<F, V...>();
                }(static_cast<argument_values_t<Args...>*>(nullptr));
                if constexpr (shipping_of<F, argument_values_t<Args...>>::type::value) {
                    // Inputs of the same pool forward their results' bytes inside it
                    // (remote/dataflow.hpp) when each future's type is its parameter's.
                    if constexpr (remote::dataflow::forwardable_v<F, Args...>) {
                        if (auto fut = remote::dataflow::try_submit(remote_target(), options.retries, options.timeout,
                                                                    std::forward<F>(f), std::forward<Args>(args)...))
                            return std::move(*fut);
                    }
                    return submit_shipped_with_inputs(shared_remote_sink(), options, "submit", std::forward<F>(f),
                                                      std::forward<Args>(args)...);
                }
            }
        } else if constexpr (!submittable<F, Args...>) {
            report_not_submittable<F, Args...>();
        } else {
            remote::check_shippable<F, Args...>();
            if constexpr (remote::shipping<F, Args...>::value) {
                remote_sink& target = remote_target();  // before the task exists: an empty pool must not leak it
                target.refuse_if_closed();
                auto [fut, t] = shipped_task(target.passes_descriptors(), "submit", std::forward<F>(f),
                                             std::forward<Args>(args)...);
                if (options.retries) t->retries_left = *options.retries;
                if (options.timeout) t->timeout = *options.timeout;
                target.enqueue_remote(t);
                return fut;
            }
        }
    }
};

}  // namespace fronta::detail
