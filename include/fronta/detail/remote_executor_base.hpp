#pragma once
// The interface of the executors that run tasks in other processes (process_pool, mpi_pool):
// executor_base's, with what can be shipped checked at compile time.

#include <ranges>
#include <utility>

#include "fronta/detail/executor_base.hpp"
#include "fronta/remote/call.hpp"

namespace fronta::detail {

class remote_executor_base : public executor_base {
public:
    /// As `thread_pool::submit`, checked at compile time for what can be shipped.
    template <class F, class... Args>
    auto submit(F&& f, Args&&... args) {
        remote::check_shippable<F, Args...>();
        return executor_base::submit(std::forward<F>(f), std::forward<Args>(args)...);
    }
    template <class F, std::ranges::viewable_range Range>
        requires std::ranges::input_range<Range>
    auto map(F&& f, Range&& inputs, const map_options& options = {}) {
        remote::check_shippable<F, std::ranges::range_value_t<Range>>();
        return executor_base::map(std::forward<F>(f), std::forward<Range>(inputs), options);
    }
    template <class F, std::ranges::viewable_range Range>
        requires std::ranges::input_range<Range>
    auto map_unordered(F&& f, Range&& inputs, const map_options& options = {}) {
        remote::check_shippable<F, std::ranges::range_value_t<Range>>();
        return executor_base::map_unordered(std::forward<F>(f), std::forward<Range>(inputs), options);
    }

protected:
    using executor_base::executor_base;
};

}  // namespace fronta::detail
