#pragma once
/// @file executor.hpp
/// @brief `fronta::executor`: a type-erased handle to any fronta executor, so a program can pick
/// one at run time and keep the rest of its code unchanged.
/// @code
/// fronta::executor ex = (kind == "inline") ? fronta::executor(fronta::inline_executor())
///                                          : fronta::executor(fronta::thread_pool(4));
/// auto f = ex.submit(do_some_math, 5.0);
/// for (double y : ex.map(do_some_math, inputs)) use(y);
/// @endcode
/// Built from an executor moved in, the handle owns it: the last copy shuts it down as that
/// executor's destructor would.
/// Built from an lvalue, it shares the executor, whose own destructor still shuts it down; a
/// handle used after that throws `shutdown_error`.
///
/// What an executor can run follows its kind, found out at run time here: over a thread pool
/// anything std::thread accepts; over a process or MPI pool only what can be shipped, and what
/// cannot (a lambda with captures, a raw pointer argument) throws std::invalid_argument at
/// `submit`/`map`, with the reason (the pools themselves say it at compile time).

#include <concepts>
#include <filesystem>
#include <memory>
#include <ranges>
#include <type_traits>
#include <utility>

#include "fronta/detail/executor_base.hpp"
#include "fronta/detail/remote_executor_base.hpp"
#include "fronta/detail/remote_sink.hpp"

namespace fronta {

class executor : public detail::executor_base {
public:
    /// Takes ownership of `source` (moved in).
    template <class E>
        requires std::derived_from<std::remove_cvref_t<E>, detail::executor_base> &&
                     (!std::is_same_v<std::remove_cvref_t<E>, executor>) && (!std::is_lvalue_reference_v<E>)
    executor(E&& source)  // NOLINT(google-explicit-constructor): converting on purpose
        : executor_base(take_sink(source)), remote_(std::dynamic_pointer_cast<detail::remote_sink>(sink_)),
          owner_(std::make_shared<shutdown_on_last_copy>(sink_)) {}

    /// Shares `source` without owning it.
    template <class E>
        requires std::derived_from<E, detail::executor_base> && (!std::is_same_v<E, executor>)
    explicit executor(E& source)
        : executor_base(shared_sink(source)), remote_(std::dynamic_pointer_cast<detail::remote_sink>(sink_)) {}

    /// As the executor underneath: in process, or shipped to another process.
    template <class F, class... Args>
    auto submit(F&& f, Args&&... args) {
        if constexpr (detail::has_inputs<Args...>) {
            if constexpr (!detail::submittable_with_inputs<F, Args...>) {
                detail::report_not_submittable_with_inputs<F, Args...>();
            } else {
                const auto& target = sink();  // first: a moved-from handle throws before a task exists
                if (remote_)
                    return detail::submit_shipped_with_inputs(remote_, task_options{}, "submit", std::forward<F>(f),
                                                              std::forward<Args>(args)...);
                return detail::submit_with_inputs(target, std::forward<F>(f), std::forward<Args>(args)...);
            }
        } else if constexpr (!detail::submittable<F, Args...>) {
            detail::report_not_submittable<F, Args...>();
        } else {
            const auto& target = sink();  // first: a moved-from handle throws before a task exists
            target->refuse_if_closed();
            if (remote_) {
                auto [fut, t] = detail::shipped_task(remote_->passes_descriptors(), "submit", std::forward<F>(f),
                                                     std::forward<Args>(args)...);
                remote_->enqueue_remote(t);
                return fut;
            }
            auto [fut, t] = detail::make_task(std::forward<F>(f), std::forward<Args>(args)...);
            target->enqueue(t);
            return fut;
        }
    }
    template <class F, std::ranges::viewable_range Range>
        requires std::ranges::input_range<Range>
    auto map(F&& f, Range&& inputs, const map_options& options = {}) {
        return map_with<true>(chunks(), std::forward<F>(f), std::forward<Range>(inputs), options);
    }
    template <class F, std::ranges::viewable_range Range>
        requires std::ranges::input_range<Range>
    auto map_unordered(F&& f, Range&& inputs, const map_options& options = {}) {
        return map_with<false>(chunks(), std::forward<F>(f), std::forward<Range>(inputs), options);
    }

    /// As the executor underneath (see executor_base): f(x, y, ...) over several ranges.
    template <class F, class R1, class R2, class... Rest>
        requires detail::several_ranges<R1, R2>
    auto map(F&& f, R1&& xs, R2&& ys, Rest&&... rest) {
        return map_several<true, F>(chunks(), remote::shipped_apply<std::decay_t<F>>{{std::forward<F>(f)}},
                                    std::forward<R1>(xs), std::forward<R2>(ys), std::forward<Rest>(rest)...);
    }
    /// The same with options after two ranges: `map(f, xs, ys, {.chunk_size = 64})`.
    template <class F, class R1, class R2>
        requires detail::several_ranges<R1, R2>
    auto map(F&& f, R1&& xs, R2&& ys, const map_options& options) {
        return map_several<true, F>(chunks(), remote::shipped_apply<std::decay_t<F>>{{std::forward<F>(f)}},
                                    std::forward<R1>(xs), std::forward<R2>(ys), options);
    }
    template <class F, class R1, class R2, class... Rest>
        requires detail::several_ranges<R1, R2>
    auto map_unordered(F&& f, R1&& xs, R2&& ys, Rest&&... rest) {
        return map_several<false, F>(chunks(), remote::shipped_apply<std::decay_t<F>>{{std::forward<F>(f)}},
                                     std::forward<R1>(xs), std::forward<R2>(ys), std::forward<Rest>(rest)...);
    }
    /// The same with options after two ranges: `map(f, xs, ys, {.chunk_size = 64})`.
    template <class F, class R1, class R2>
        requires detail::several_ranges<R1, R2>
    auto map_unordered(F&& f, R1&& xs, R2&& ys, const map_options& options) {
        return map_several<false, F>(chunks(), remote::shipped_apply<std::decay_t<F>>{{std::forward<F>(f)}},
                                     std::forward<R1>(xs), std::forward<R2>(ys), options);
    }

private:
    friend struct detail::executor_access;
    struct chosen_chunks;
    chosen_chunks chunks() const;

    struct chosen_chunks {
        std::shared_ptr<detail::task_sink> target;
        std::shared_ptr<detail::remote_sink> remote;  // the same sink when it ships tasks, else null

        template <class Input, class Result, class Fn>
        detail::chunk_submitter<Input, Result> make(std::shared_ptr<Fn> fn) const {
            if (remote) return detail::remote_chunks{remote}.make<Input, Result>(std::move(fn));
            return detail::local_chunks{target}.make<Input, Result>(std::move(fn));
        }
        template <class Input, class T, class Fn, class Reduce>
        detail::chunk_submitter<Input, T> make_fold(std::shared_ptr<Fn> fn, std::shared_ptr<Reduce> reduce) const {
            if (remote) return detail::remote_chunks{remote}.make_fold<Input, T>(std::move(fn), std::move(reduce));
            return detail::local_chunks{target}.make_fold<Input, T>(std::move(fn), std::move(reduce));
        }
        /// Serialization is compiled here whatever the executor: journals work over threads too.
        template <class Input, class Stored, class... Fns>
        std::shared_ptr<detail::chunk_journal<Input, Stored>> journal(const std::filesystem::path& path,
                                                                      detail::journal_kind kind, std::size_t chunk_size,
                                                                      const Fns&... fns) const {
            return detail::open_map_journal<Input, Stored>(path, kind, chunk_size, fns...);
        }
    };
    struct shutdown_on_last_copy {
        std::shared_ptr<detail::task_sink> sink;
        explicit shutdown_on_last_copy(std::shared_ptr<detail::task_sink> s) : sink(std::move(s)) {}
        ~shutdown_on_last_copy() { sink->shutdown_all_at_destruction(); }
    };
    static std::shared_ptr<detail::task_sink> take_sink(detail::executor_base& source) {
        auto& sink = sink_of(source);
        if (!sink) throw invalid_state_error("executor: the source executor is empty (moved from)");
        return std::move(sink);
    }
    static std::shared_ptr<detail::task_sink> shared_sink(detail::executor_base& source) {
        auto& sink = sink_of(source);
        if (!sink) throw invalid_state_error("executor: the source executor is empty (moved from)");
        return sink;
    }

    // sink_ as a remote sink when it runs tasks in other processes, else null: found out once, at
    // construction, so submit pays only a null test to choose.
    std::shared_ptr<detail::remote_sink> remote_;
    std::shared_ptr<shutdown_on_last_copy> owner_;
};

/// How this handle runs the chunks of a map: shipped or in process, as its executor does.
inline executor::chosen_chunks executor::chunks() const { return chosen_chunks{sink(), remote_}; }

}  // namespace fronta
