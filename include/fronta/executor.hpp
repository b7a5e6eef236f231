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

#include <concepts>
#include <memory>
#include <type_traits>
#include <utility>

#include "fronta/detail/executor_base.hpp"

namespace fronta {

class executor : public detail::executor_base {
public:
    /// Takes ownership of `source` (moved in).
    template <class E>
        requires std::derived_from<std::remove_cvref_t<E>, detail::executor_base> &&
                 (!std::is_same_v<std::remove_cvref_t<E>, executor>) && (!std::is_lvalue_reference_v<E>)
    executor(E&& source)  // NOLINT(google-explicit-constructor): converting on purpose
        : executor_base(take_sink(source)), owner_(std::make_shared<shutdown_on_last_copy>(sink_)) {}

    /// Shares `source` without owning it.
    template <class E>
        requires std::derived_from<E, detail::executor_base> && (!std::is_same_v<E, executor>)
    explicit executor(E& source) : executor_base(shared_sink(source)) {}

private:
    struct shutdown_on_last_copy {
        std::shared_ptr<detail::task_sink> sink;
        explicit shutdown_on_last_copy(std::shared_ptr<detail::task_sink> s) : sink(std::move(s)) {}
        ~shutdown_on_last_copy() { sink->shutdown_at_destruction(); }
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

    std::shared_ptr<shutdown_on_last_copy> owner_;
};

}  // namespace fronta
