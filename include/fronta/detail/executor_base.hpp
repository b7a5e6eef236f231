#pragma once
// The interface every fronta executor shares: submit, map, map_unordered, shutdown. Written once
// here over `task_sink`, so each executor only says how it runs a task. In-process executors use
// it as it is; what ships tasks to other processes (remote_executor_base, and the type-erased
// `executor`) adds to it, so a thread_pool never compiles shipping code.

#include <concepts>
#include <filesystem>
#include <functional>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "fronta/detail/dataflow.hpp"
#include "fronta/detail/fold.hpp"
#include "fronta/detail/task.hpp"
#include "fronta/detail/zip.hpp"
#include "fronta/map.hpp"

namespace fronta::detail {

/// What `submit` can run: `f(args...)` with the arguments as decayed copies (as std::thread).
template <class F, class... Args>
concept submittable = std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>;

/// What `map` can run: `f(element)` for an element of the inputs, with a result to yield.
template <class F, class Input>
concept mappable =
    std::is_invocable_v<std::decay_t<F>&, Input&&> &&
    !std::is_void_v<std::invoke_result_t<std::decay_t<F>&, Input&&>> && std::is_move_constructible_v<Input>;

template <class>
inline constexpr bool dependent_false = false;

template <class F, class Tuple, std::size_t... I>
constexpr bool invocable_with_members(std::index_sequence<I...>) {
    return std::is_invocable_v<std::decay_t<F>&, std::tuple_element_t<I, Tuple>...>;
}
/// True when an element is a pair or tuple whose members f takes as separate arguments.
template <class F, class Input>
inline constexpr bool callable_with_members = false;
template <class F, class Input>
    requires requires { std::tuple_size<std::remove_cvref_t<Input>>::value; }
inline constexpr bool callable_with_members<F, Input> = invocable_with_members<F, std::remove_cvref_t<Input>>(
    std::make_index_sequence<std::tuple_size_v<std::remove_cvref_t<Input>>>());

/// What `map(f, xs, ys, ...)` takes: at least two input ranges (then more ranges, or options).
template <class R1, class R2>
concept several_ranges = std::ranges::viewable_range<R1> && std::ranges::input_range<R1> &&
                         std::ranges::viewable_range<R2> && std::ranges::input_range<R2>;

/// The one error a caller sees when `submit(f, args...)` cannot call f; the task is not built, so
/// no other error follows it.
template <class F, class... Args>
constexpr auto report_not_submittable() {  // auto: checked at once, before what follows
    static_assert(dependent_false<F>,
                  "submit(f, args...): f cannot be called with these arguments (they are passed as decayed "
                  "copies, like std::thread; wrap references in std::ref)");
}

/// The same for a submit with futures among its arguments, which f receives as their values.
template <class F, class... Args>
constexpr auto report_not_submittable_with_inputs() {  // auto: checked at once, before what follows
    static_assert(dependent_false<F>,
                  "submit(f, args...): f cannot be called with these arguments. An argument that is a "
                  "fronta::future<T> reaches f as its value (T; a future<void> passes nothing); to pass the future "
                  "itself, wrap it in std::ref(fut)");
}

/// The one error a caller sees when `map(f, inputs)` cannot run, naming what is wrong.
template <class F, class Input>
constexpr auto report_not_mappable() {  // auto: checked at once, before what follows
    using fn = std::decay_t<F>;
    if constexpr (callable_with_members<F, Input>)
        static_assert(dependent_false<F>,
                      "map(f, inputs): f takes the members of each element (a pair or tuple) as separate arguments, "
                      "but map calls f with the element itself, as one argument; make f take the element (for "
                      "example f(std::pair<A, B> p)) and unpack it inside, or wrap f in a lambda that does, or pass "
                      "the members as ranges of their own: map(f, xs, ys)");
    else if constexpr (!std::is_invocable_v<fn&, Input&&>)
        static_assert(dependent_false<F>, "map(f, inputs): f cannot be called with an element of inputs");
    else if constexpr (std::is_void_v<std::invoke_result_t<fn&, Input&&>>)
        static_assert(dependent_false<F>,
                      "map(f, inputs): f returns void, so there are no results to yield; submit each input "
                      "instead, or return a value");
    else
        static_assert(dependent_false<F>, "map(f, inputs): the input elements must be movable into tasks");
}

/// How `map` hands chunks to an in-process executor: each chunk is one task on `target`.
struct local_chunks {
    std::shared_ptr<task_sink> target;

    template <class Input, class Result, class Fn>
    chunk_submitter<Input, Result> make(std::shared_ptr<Fn> fn) const {
        return [target = target, fn = std::move(fn)](std::vector<Input>&& items, std::size_t&) {
            target->refuse_if_closed();
            auto [fut, t] =
                make_named_task(trace_name_of(*fn, trace_name::map_chunk), [fn, items = std::move(items)]() mutable {
                    return run_chunk_locally<Result>(*fn, items);
                });
            target->enqueue(t);
            return fut;
        };
    }

    /// For map_reduce: each chunk one task that folds its results into one value there.
    template <class Input, class T, class Fn, class Reduce>
    chunk_submitter<Input, T> make_fold(std::shared_ptr<Fn> fn, std::shared_ptr<Reduce> reduce) const {
        return [target = target, fn = std::move(fn), reduce = std::move(reduce)](std::vector<Input>&& items,
                                                                                 std::size_t&) {
            target->refuse_if_closed();
            auto [fut, t] = make_named_task(trace_name_of(*fn, trace_name::map_reduce_chunk),
                                            [fn, reduce, items = std::move(items)]() mutable {
                                                chunk_result<T> out;
                                                try {
                                                    out.values.push_back(fold_items<T>(*fn, *reduce, items));
                                                } catch (...) {
                                                    out.error = std::current_exception();
                                                }
                                                return out;
                                            });
            target->enqueue(t);
            return fut;
        };
    }

    /// A journal needs serialization, which in-process executors do not compile (thread_pool.hpp
    /// includes no cereal); the type-erased `executor` over them has it.
    template <class Input, class Stored, class... Fns>
    std::shared_ptr<chunk_journal<Input, Stored>> journal(const std::filesystem::path& path, journal_kind kind,
                                                          std::size_t, const Fns&...) const {
        throw std::invalid_argument(std::string(journal_kind_name(kind)) + "(): map_options::journal (" +
                                    path.string() +
                                    ") needs serialization, which thread_pool and inline_executor do not compile; run "
                                    "it through fronta::executor(pool) (<fronta/executor.hpp>), which journals on "
                                    "every executor");
    }
};

/// The journal `options` name, opened by `chunks` (which knows whether it can serialize); null
/// when there is none. `fns` are what the stored values depend on (f; for map_reduce also reduce).
template <class Input, class Result, class Chunks, class... Fns>
std::shared_ptr<chunk_journal<Input, std::vector<Result>>> open_journal(const Chunks& chunks,
                                                                        const map_options& options, journal_kind kind,
                                                                        const Fns&... fns) {
    if (options.journal.empty() || options.chunk_size == 0) return nullptr;  // (the map refuses chunk_size 0)
    return chunks.template journal<Input, std::vector<Result>>(options.journal, kind, options.chunk_size, fns...);
}

/// How map_reduce (a free function) reaches an executor's chunks: `chunks(ex)` is what the
/// executor's own map uses (in process, shipped, or chosen at run time).
struct executor_access {
    template <class Executor>
    static auto chunks(const Executor& ex) {
        return ex.chunks();
    }
    /// What an executor checks at compile time for map_reduce (remote pools: what is shipped).
    template <class Executor, class F, class Input, class Reduce, class T>
    static constexpr void check_fold() {
        Executor::template check_fold<F, Input, Reduce, T>();
    }
};

/// The interface of the in-process executors (thread_pool, inline_executor); remote_executor_base
/// and `executor` reuse its parts. Nothing here ships a task, so anything std::thread accepts runs.
class executor_base {
public:
    /// Schedules `f(args...)` and returns its future. Arguments are copied or moved into the task
    /// (as std::thread does): pointers, move-only values and lambdas with captures are fine; use
    /// std::ref to pass a reference. Throws `shutdown_error` after shutdown.
    ///
    /// An argument that is a `fronta::future<T>` is an input: the task receives its value (T), is
    /// queued only once every input is done (no thread waits meanwhile), and fails with the first
    /// failed input's exception, or is cancelled by a cancelled one, without running. A
    /// `future<void>` input passes nothing (an ordering only); `std::ref(fut)` passes the handle.
    template <class F, class... Args>
    auto submit(F&& f, Args&&... args) {
        if constexpr (has_inputs<Args...>) {
            if constexpr (!submittable_with_inputs<F, Args...>) {
                report_not_submittable_with_inputs<F, Args...>();
            } else {
                return submit_with_inputs(sink(), std::forward<F>(f), std::forward<Args>(args)...);
            }
        } else if constexpr (!submittable<F, Args...>) {
            report_not_submittable<F, Args...>();
        } else {
            const auto& target = sink();  // before the task exists: an empty executor must not leak it
            target->refuse_if_closed();
            auto [fut, t] = make_task(std::forward<F>(f), std::forward<Args>(args)...);
            target->enqueue(t);
            return fut;
        }
    }

    /// A lazy range of `f(x)` for each `x` of `inputs`, in input order. See map.hpp.
    template <class F, std::ranges::viewable_range Range>
        requires std::ranges::input_range<Range>
    auto map(F&& f, Range&& inputs, const map_options& options = {}) {
        return map_with<true>(chunks(), std::forward<F>(f), std::forward<Range>(inputs), options);
    }

    /// As `map`, but yields each result as soon as its chunk completes.
    template <class F, std::ranges::viewable_range Range>
        requires std::ranges::input_range<Range>
    auto map_unordered(F&& f, Range&& inputs, const map_options& options = {}) {
        return map_with<false>(chunks(), std::forward<F>(f), std::forward<Range>(inputs), options);
    }

    /// Python's `map(fn, *iterables)`: `f(x, y, ...)` with the elements at the same position of
    /// each range, ending with the shortest; options may follow the ranges.
    template <class F, class R1, class R2, class... Rest>
        requires several_ranges<R1, R2>
    auto map(F&& f, R1&& xs, R2&& ys, Rest&&... rest) {
        return map_several<true, F>(chunks(), apply_members<std::decay_t<F>>{std::forward<F>(f)}, std::forward<R1>(xs),
                                    std::forward<R2>(ys), std::forward<Rest>(rest)...);
    }
    /// The same with options after two ranges: `map(f, xs, ys, {.chunk_size = 64})`.
    template <class F, class R1, class R2>
        requires several_ranges<R1, R2>
    auto map(F&& f, R1&& xs, R2&& ys, const map_options& options) {
        return map_several<true, F>(chunks(), apply_members<std::decay_t<F>>{std::forward<F>(f)}, std::forward<R1>(xs),
                                    std::forward<R2>(ys), options);
    }
    template <class F, class R1, class R2, class... Rest>
        requires several_ranges<R1, R2>
    auto map_unordered(F&& f, R1&& xs, R2&& ys, Rest&&... rest) {
        return map_several<false, F>(chunks(), apply_members<std::decay_t<F>>{std::forward<F>(f)}, std::forward<R1>(xs),
                                     std::forward<R2>(ys), std::forward<Rest>(rest)...);
    }
    /// The same with options after two ranges: `map(f, xs, ys, {.chunk_size = 64})`.
    template <class F, class R1, class R2>
        requires several_ranges<R1, R2>
    auto map_unordered(F&& f, R1&& xs, R2&& ys, const map_options& options) {
        return map_several<false, F>(chunks(), apply_members<std::decay_t<F>>{std::forward<F>(f)}, std::forward<R1>(xs),
                                     std::forward<R2>(ys), options);
    }

    /// Python's `Executor.shutdown`: no new tasks; with `cancel_futures` pending tasks are
    /// cancelled; with `wait` it returns once running and queued tasks are done and workers gone.
    void shutdown(bool wait = true, bool cancel_futures = false) { sink()->shutdown_all(wait, cancel_futures); }

    /// How many tasks run at once.
    std::size_t concurrency() const { return sink()->concurrency(); }

protected:
    friend struct executor_access;
    /// How this executor runs the chunks of a map: as tasks in this process.
    local_chunks chunks() const { return local_chunks{sink()}; }
    /// In process, anything callable runs.
    template <class F, class Input, class Reduce, class T>
    static constexpr void check_fold() {}

    /// `map` and `map_unordered` with chunks handed over by `chunks.make` (in process, shipped,
    /// or chosen at run time). A callable that does not fit is one readable error, and nothing else
    /// is instantiated after it.
    template <bool Ordered, class Chunks, class F, class Range>
    auto map_with(const Chunks& chunks, F&& f, Range&& inputs, const map_options& options) {
        using view_type = std::views::all_t<Range>;
        using input = std::ranges::range_value_t<view_type>;
        using value = element_value_t<input>;  // a future's value: f takes that
        if constexpr (!mappable<F, value>) {
            report_not_mappable<F, value>();
        } else {
            using fn_type = std::decay_t<F>;
            using result = map_result_t<fn_type, value>;
            using impl =
                std::conditional_t<Ordered, ordered_map_impl<view_type, result>, unordered_map_impl<view_type, result>>;
            auto fn = std::make_shared<fn_type>(std::forward<F>(f));
            if constexpr (is_future<input>::value) {
                if (!options.journal.empty())
                    throw std::invalid_argument(
                        "map(f, futures): map_options::journal records the inputs, and futures "
                        "cannot be recorded; map over their values, or drop the journal");
                auto submitter = unwrap_chunk_inputs<value, result>(chunks.template make<value, result>(std::move(fn)),
                                                                    chunks.target);
                return map_range<impl>(std::move(submitter), concurrency(),
                                       std::views::all(std::forward<Range>(inputs)), options,
                                       std::shared_ptr<chunk_journal<input, std::vector<result>>>());
            } else {
                auto journal =
                    open_journal<input, result>(chunks, options,
                                                Ordered ? journal_kind::map : journal_kind::map_unordered, *fn);
                auto submitter = chunks.template make<input, result>(std::move(fn));
                return map_range<impl>(std::move(submitter), concurrency(),
                                       std::views::all(std::forward<Range>(inputs)), options, std::move(journal));
            }
        }
    }

    /// `map` over several ranges: `wrapped` is F applied to the members of each tuple of a zip of
    /// the ranges among `args` (the last may be the options).
    template <bool Ordered, class F, class Chunks, class Wrapped, class... Args>
    auto map_several(const Chunks& chunks, Wrapped&& wrapped, Args&&... args) {
        constexpr bool has_options = ends_with_v<map_options, Args...>;
        constexpr std::size_t ranges = sizeof...(Args) - (has_options ? 1 : 0);
        using values = typename zip_values<ranges, Args...>::type;
        if constexpr (!invocable_with_members<F, values>(std::make_index_sequence<ranges>())) {
            static_assert(dependent_false<F>,
                          "map(f, xs, ys, ...): f cannot be called with one element of each input range, in order");
        } else {
            auto all = std::forward_as_tuple(std::forward<Args>(args)...);
            map_options options;
            if constexpr (has_options) options = std::get<sizeof...(Args) - 1>(all);
            return [&]<std::size_t... I>(std::index_sequence<I...>) {
                return map_with<Ordered>(chunks, std::forward<Wrapped>(wrapped),
                                         zip(std::forward<std::tuple_element_t<I, std::tuple<Args...>>>(
                                             std::get<I>(all))...),
                                         options);
            }(std::make_index_sequence<ranges>());
        }
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
        if (sink_) sink_->shutdown_all_at_destruction();
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
};

}  // namespace fronta::detail
