#pragma once
/// @file combinators.hpp
/// @brief Futures of many futures, without blocking a thread: `when_all`, `when_any`, `gather`.
/// @code
/// auto both = fronta::when_all(pool.submit(load, "a"), pool.submit(load, "b"));   // future<tuple<future<T>...>>
/// auto all = fronta::when_all(futures);          // future<vector<future<T>>>: never fails, inspect each
/// auto first = fronta::when_any(futures);        // future<size_t>: the index of the first done
/// auto values = fronta::gather(futures);         // future<vector<T>>: fails with the first exception
/// std::vector<int> v = co_await fronta::gather(futures);   // in a coroutine returning fronta::future
/// @endcode
/// Each adds one done callback per input future and completes its result from the callback of the
/// input that finishes it (see `future::add_done_callback` for where that runs): O(n) in total,
/// no thread waits. A combinator holds its inputs until it completes.

#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "fronta/future.hpp"
#include "fronta/promise.hpp"
#include "fronta/wait.hpp"

namespace fronta {

namespace detail {

// The value of a done future for a combinator's result: copied, or moved out when T is move-only
// (as `std::move(f).get()` does; the caller's handles cannot read it afterwards).
template <class T>
T value_for_combinator(state<T>& s) {
    if constexpr (copyable_value_v<T>)
        return s.value_ref();
    else
        return s.take_value();
}

}  // namespace detail

/// A future of all the given futures, done once every one of them is done. It never fails: it
/// holds the same handles, each done (finished, failed or cancelled): inspect each.
template <future_range Range>
auto when_all(Range&& futures) {
    using future_type = std::remove_cvref_t<std::ranges::range_reference_t<Range>>;
    struct join {
        std::vector<future_type> inputs;
        std::atomic<std::size_t> remaining{0};
        promise<std::vector<future_type>> result;
    };
    auto state = std::make_shared<join>();
    state->inputs = detail::collect_futures(std::forward<Range>(futures), "when_all");
    auto out = state->result.get_future();
    state->remaining.store(state->inputs.size() + 1, std::memory_order_relaxed);  // +1: this call's
    auto arrive = [](const std::shared_ptr<join>& j) {
        if (j->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) j->result.set_value(std::move(j->inputs));
    };
    for (const auto& f : state->inputs) f.add_done_callback([state, arrive](const future_type&) { arrive(state); });
    arrive(state);  // the inputs may all be done already
    return out;
}

/// A future of the given futures as a tuple, done once every one is done (never fails).
template <class... T>
future<std::tuple<future<T>...>> when_all(future<T>... futures) {
    struct join {
        std::tuple<future<T>...> inputs;
        std::atomic<std::size_t> remaining{sizeof...(T) + 1};
        promise<std::tuple<future<T>...>> result;
    };
    ((futures.valid() ? void() : throw invalid_state_error("when_all(): the futures include an empty future")), ...);
    auto state = std::make_shared<join>();
    state->inputs = std::tuple<future<T>...>(std::move(futures)...);
    auto out = state->result.get_future();
    auto arrive = [](const std::shared_ptr<join>& j) {
        if (j->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) j->result.set_value(std::move(j->inputs));
    };
    std::apply([&](const auto&... f) { (f.add_done_callback([state, arrive](const auto&) { arrive(state); }), ...); },
               state->inputs);
    arrive(state);
    return out;
}

/// A future of the index (in input order) of the first of the futures to be done: finished,
/// failed or cancelled (as `wait(..., return_when::first_completed)`). Futures already done count
/// in input order. An empty range is an error (`std::invalid_argument`): nothing could complete it.
template <future_range Range>
future<std::size_t> when_any(Range&& futures) {
    using future_type = std::remove_cvref_t<std::ranges::range_reference_t<Range>>;
    auto inputs = detail::collect_futures(std::forward<Range>(futures), "when_any");
    if (inputs.empty()) throw std::invalid_argument("when_any(): no futures to wait for");
    struct race {
        std::atomic<bool> decided{false};
        promise<std::size_t> result;
    };
    auto state = std::make_shared<race>();
    auto out = state->result.get_future();
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (state->decided.load(std::memory_order_acquire)) break;  // one already done: stop adding
        inputs[i].add_done_callback([state, i](const future_type&) {
            if (!state->decided.exchange(true, std::memory_order_acq_rel)) state->result.set_value(i);
        });
    }
    return out;
}

/// A future of the values of the futures, in input order, once all have finished
/// (`asyncio.gather`). It fails as soon as one fails, with that exception (`cancelled_error` for a
/// cancelled one); the others run on. Values are copied out, or moved out when T is move-only.
/// For futures of void, a `future<void>`.
template <future_range Range>
auto gather(Range&& futures) {
    using future_type = std::remove_cvref_t<std::ranges::range_reference_t<Range>>;
    using value_type = typename future_type::value_type;
    using result_type = std::conditional_t<std::is_void_v<value_type>, void, std::vector<value_type>>;
    struct join {
        std::vector<future_type> inputs;
        std::atomic<std::size_t> remaining{0};
        std::atomic<bool> failed{false};
        promise<result_type> result;

        void fail(std::exception_ptr error) {
            if (!failed.exchange(true, std::memory_order_acq_rel)) result.set_exception(std::move(error));
        }
        void arrive() {
            if (remaining.fetch_sub(1, std::memory_order_acq_rel) != 1 || failed.load(std::memory_order_acquire))
                return;
            if constexpr (std::is_void_v<value_type>) {
                result.set_value();
            } else {
                std::vector<value_type> values;
                try {
                    values.reserve(inputs.size());
                    for (auto& f : inputs) values.push_back(detail::value_for_combinator(*f.state()));
                } catch (...) {
                    fail(std::current_exception());
                    return;
                }
                inputs.clear();
                result.set_value(std::move(values));
            }
        }
    };
    auto state = std::make_shared<join>();
    state->inputs = detail::collect_futures(std::forward<Range>(futures), "gather");
    auto out = state->result.get_future();
    state->remaining.store(state->inputs.size() + 1, std::memory_order_relaxed);
    for (const auto& f : state->inputs)
        f.add_done_callback([state](const future_type& done) {
            if (auto error = done.state()->exception_after_done()) state->fail(std::move(error));
            state->arrive();
        });
    state->arrive();
    return out;
}

}  // namespace fronta
