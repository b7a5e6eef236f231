#pragma once
// How a map with a journal submits a chunk: the stored results when the journal has them (a ready
// future), else the chunk as usual, appended to the journal as soon as it completes. Knows
// futures and the chunk_journal interface, not cereal.

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "fronta/detail/chunk_result.hpp"
#include "fronta/detail/map_journal.hpp"
#include "fronta/errors.hpp"
#include "fronta/future.hpp"
#include "fronta/promise.hpp"

namespace fronta::detail {

/// What a chunk yields (`Value`: a chunk_result) and what its journal stores of it: the results,
/// when the chunk did not fail. Specialised by map_reduce for its reduced values.
template <class Value>
struct journal_entry;

template <class R>
struct journal_entry<chunk_result<R>> {
    using stored = std::vector<R>;
    static const stored* of(const chunk_result<R>& chunk) noexcept { return chunk.error ? nullptr : &chunk.values; }
    static chunk_result<R> from(stored&& values) { return chunk_result<R>{std::move(values), nullptr}; }
};

/// Chunk `index` of `items`: replayed from `journal`, or run by `submit` and journaled once done.
/// The future returned completes after the chunk is journaled, so a result the program has seen
/// is in the journal. Cancelling it cancels the chunk if it has not started; a chunk already
/// running is still journaled when it completes.
template <class Value, class Input, class Submit>
future<Value> journaled_chunk(
    const std::shared_ptr<chunk_journal<Input, typename journal_entry<Value>::stored>>& journal, std::uint64_t index,
    std::vector<Input>&& items, Submit& submit) {
    using entry = journal_entry<Value>;
    auto found = journal->find(index, items);
    promise<Value> done;
    future<Value> out = done.get_future();
    if (found.stored) {
        done.set_value(entry::from(std::move(*found.stored)));
        return out;
    }
    future<Value> ran = submit(std::move(items));
    // Only this callback reads `ran`'s value (the map holds `out`), so it may move it out.
    ran.add_done_callback([done = std::move(done), journal = journal, index,
                           hash = found.input_hash](const future<Value>& chunk) mutable {
        std::exception_ptr error;
        std::optional<Value> value;
        try {
            error = chunk.exception();  // a failed chunk is not journaled: it runs again next time
            if (!error) {
                value.emplace(future<Value>(chunk).take());
                if (const auto* stored = entry::of(*value)) journal->record(index, hash, *stored);
            }
        } catch (...) {
            error = std::current_exception();  // the journal could not be written
        }
        journal.reset();  // before the map sees the chunk: a map that has ended has closed its journal
        try {
            if (error)
                done.set_exception(std::move(error));
            else
                done.set_value(std::move(*value));
        } catch (const invalid_state_error&) {  // `out` was cancelled meanwhile: nobody waits for it
        }
    });
    out.add_done_callback([ran = std::move(ran)](const future<Value>& result) {
        if (result.cancelled()) ran.cancel();
    });
    return out;
}

}  // namespace fronta::detail
