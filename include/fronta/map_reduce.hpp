#pragma once
/// @file map_reduce.hpp
/// @brief `fronta::map_reduce(executor, f, inputs, reduce, init, options)`: `f` over every input,
/// combined with `reduce`, on any executor, as results arrive.
/// @code
/// long words = fronta::map_reduce(pool, count_words, fronta::file_chunks("big.txt"), std::plus<long>(), 0L);
/// @endcode
/// `reduce(T, T) -> T` must be associative and commutative: results are combined in the order
/// they arrive, which changes from run to run. Each chunk of `options.chunk_size` inputs is
/// reduced where it ran (a worker thread, process or MPI rank), so one value per chunk travels
/// back; the client combines those with `init`, which is used exactly once (so it need not be an
/// identity of `reduce`). The result type is init's type, as with std::accumulate: pass `0.0`,
/// not `0`, to sum doubles.
///
/// On a process or MPI pool, `f` and `reduce` are shipped: functions registered with
/// FRONTA_REMOTE(name), captureless lambdas, or function objects with serialize(); T must be
/// serializable. The pools check this at compile time; the type-erased `executor` throws
/// std::invalid_argument at the call.
///
/// If `f` or `reduce` throws in a chunk, map_reduce cancels the chunks not yet started and
/// rethrows it. `options` work as for `map`: chunk_size, max_in_flight, timeout,
/// max_in_flight_bytes, journal, and progress, whose bar counts the inputs folded (a chunk's
/// worth as each chunk's value comes back; a failed chunk counts as one failure).

#include <concepts>
#include <functional>
#include <memory>
#include <ranges>
#include <type_traits>
#include <utility>

#include "fronta/detail/executor_base.hpp"
#include "fronta/detail/typed_map_journal.hpp"
#include "fronta/map.hpp"

namespace fronta {

template <class Executor, class F, std::ranges::viewable_range Inputs, class Reduce, class T>
    requires std::derived_from<std::remove_cvref_t<Executor>, detail::executor_base> && std::ranges::input_range<Inputs>
T map_reduce(Executor&& ex, F&& f, Inputs&& inputs, Reduce&& reduce, T init, const map_options& options = {}) {
    using view_type = std::views::all_t<Inputs>;
    using input = std::ranges::range_value_t<view_type>;
    using fn_type = std::decay_t<F>;
    using reduce_type = std::decay_t<Reduce>;
    if constexpr (!std::is_invocable_v<fn_type&, input&&>) {
        static_assert(detail::dependent_false<F>,
                      "map_reduce(ex, f, inputs, reduce, init): f cannot be called with an element of inputs");
        return init;
    } else if constexpr (!std::is_constructible_v<T, std::invoke_result_t<fn_type&, input&&>>) {
        static_assert(detail::dependent_false<F>,
                      "map_reduce(ex, f, inputs, reduce, init): f's result does not convert to the type of init "
                      "(the result type of map_reduce)");
        return init;
    } else if constexpr (!std::is_invocable_r_v<T, reduce_type&, T&&, T&&>) {
        static_assert(detail::dependent_false<F>,
                      "map_reduce(ex, f, inputs, reduce, init): reduce must take two values of init's type and "
                      "return one: T reduce(T, T)");
        return init;
    } else {
        using executor_type = std::remove_cvref_t<Executor>;
        detail::executor_access::check_fold<executor_type, fn_type, input, reduce_type, T>();
        auto shared_reduce = std::make_shared<reduce_type>(std::forward<Reduce>(reduce));
        auto fn = std::make_shared<fn_type>(std::forward<F>(f));
        const auto chunks = detail::executor_access::chunks(ex);
        // The journal keeps each chunk's reduced value: it depends on f and on reduce. It is
        // opened here, not by the executor's chunks, so it works on in-process executors too.
        std::shared_ptr<detail::chunk_journal<input, std::vector<T>>> journal;
        if (!options.journal.empty() && options.chunk_size != 0)
            journal = detail::open_map_journal<input, std::vector<T>>(options.journal, detail::journal_kind::map_reduce,
                                                                      options.chunk_size, *fn, *shared_reduce);
        auto submitter = chunks.template make_fold<input, T>(std::move(fn), shared_reduce);
        // One value per chunk comes back: the bar (options.progress) counts each chunk's inputs
        // as its value arrives, known here where the chunk is cut, so nothing extra travels.
        map_range<detail::unordered_map_impl<view_type, T>> chunk_values(std::move(submitter), ex.concurrency(),
                                                                         std::views::all(std::forward<Inputs>(inputs)),
                                                                         options, std::move(journal), "map_reduce",
                                                                         /*counts_inputs=*/true);
        for (T& value : chunk_values) init = std::invoke(*shared_reduce, std::move(init), std::move(value));
        return init;
    }
}

}  // namespace fronta
