#pragma once
/// @file map.hpp
/// @brief The lazy ranges behind `executor.map(f, inputs)` and `executor.map_unordered(f, inputs)`.
///
/// Unlike Python's `Executor.map`, which submits every input at once, fronta keeps at most
/// `max_in_flight` chunks submitted and not yet consumed, and reads the next inputs only as results
/// are consumed. So an infinite input range (`std::views::iota(0)`) runs in flat memory.
/// @code
/// fronta::thread_pool pool(4);
/// for (double y : pool.map(do_some_math, inputs, {.chunk_size = 64})) total += y;
/// @endcode
/// If `f` throws for an item, the results before it are still yielded; the exception is rethrown
/// when iteration reaches that item, and the iteration ends there, cancelling what has not started.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "fronta/detail/chunk_result.hpp"
#include "fronta/detail/completion_list.hpp"
#include "fronta/detail/journaled_chunks.hpp"
#include "fronta/future.hpp"
#include "fronta/progress.hpp"
#include "fronta/size_estimate.hpp"

namespace fronta {

/// How `map` and `map_unordered` cut the work.
struct map_options {
    /// Inputs per task: larger chunks amortise the per-task cost when `f` is cheap.
    std::size_t chunk_size = 1;
    /// Chunks submitted but not yet consumed (backpressure); 0 means 4 × the executor's workers.
    std::size_t max_in_flight = 0;
    /// Total time for the whole iteration, counted from the `map` call; exceeding it makes the
    /// iteration throw `timeout_error`. Empty: no limit.
    std::optional<std::chrono::nanoseconds> timeout;
    /// Backpressure by memory: no further input is read and no chunk submitted while the bytes of
    /// submitted inputs and of results not yet consumed exceed this bound (serialized sizes on
    /// process and MPI pools; `fronta::size_estimate` on in-process executors). A chunk larger
    /// than the bound still runs, alone. Empty: bounded by `max_in_flight` only. 0 is an error.
    std::optional<std::size_t> max_in_flight_bytes;
    /// A file that makes the map resumable: results of finished chunks are appended to it, and a
    /// run with the same function, inputs and journal yields those without computing them again.
    /// Empty: none. See docs/design.md, "Resumable maps".
    std::filesystem::path journal;
    /// A progress bar with this label (see progress.hpp), out of the inputs' size when the input
    /// range knows it. `map` and `map_unordered` count the results consumed (told to the bar every
    /// few milliseconds, and at the end); `map_reduce` counts the inputs folded, a chunk at a time
    /// as its value comes back. Empty: none.
    std::string progress;
};

namespace detail {

template <class F, class Input>
using map_result_t = std::decay_t<std::invoke_result_t<F&, Input&&>>;

template <class View>
using map_input_t = std::ranges::range_value_t<View>;

// Submits one chunk of inputs, locally or to another process; the executor decides. A chunk
// shipped to another process sets `wire_bytes` to the size of its serialized inputs.
template <class Input, class Result>
using chunk_submitter = std::function<future<chunk_result<Result>>(std::vector<Input>&&, std::size_t& wire_bytes)>;

/// A chunk submitted and not yet consumed, with the bytes it holds for max_in_flight_bytes: its
/// inputs until it is done, then its results.
template <class Result>
struct chunk_in_flight {
    future<chunk_result<Result>> result;
    std::size_t inputs = 0;  // how many inputs it holds
    std::size_t bytes = 0;
    bool measured = false;  // done, and `bytes` counts the results
    bool valid() const noexcept { return result.valid(); }
    void cancel() const noexcept {
        if (result.valid()) result.cancel();
    }
};

// State shared by the ordered and unordered ranges: source, window, deadline and byte budget.
template <class View, class Result>
class map_source {
public:
    using input_type = map_input_t<View>;
    using result_type = Result;
    using chunk = chunk_in_flight<Result>;
    using journal_type = chunk_journal<input_type, std::vector<Result>>;

    /// `counts_inputs`: the progress bar counts the inputs of each chunk taken (map_reduce, whose
    /// results are one value per chunk), not the results consumed.
    map_source(chunk_submitter<input_type, result_type> submit, std::size_t concurrency, View view,
               const map_options& options, std::shared_ptr<journal_type> journal, bool counts_inputs = false)
        : submit_(std::move(submit)), journal_(std::move(journal)), counts_inputs_(counts_inputs),
          view_(std::move(view)), next_(std::ranges::begin(view_)), chunk_size_(options.chunk_size),
          window_(options.max_in_flight != 0 ? options.max_in_flight : 4 * std::max<std::size_t>(1, concurrency)),
          until_(options.timeout ? deadline_after(*options.timeout) : no_deadline),
          timeout_text_(options.timeout ? describe(*options.timeout) : ""), byte_bound_(options.max_in_flight_bytes) {
        if (chunk_size_ == 0) throw std::invalid_argument("map(): chunk_size must be at least 1");
        if (byte_bound_ && *byte_bound_ == 0)
            throw std::invalid_argument(
                "map(): max_in_flight_bytes must be at least 1 (leave it empty for no bound by bytes)");
        if (!options.progress.empty()) {
            progress_options shown{.label = options.progress, .total = std::nullopt};
            if constexpr (std::ranges::sized_range<View>) shown.total = std::ranges::size(view_);
            bar_ = std::make_unique<progress_bar>(std::move(shown));
        }
    }

    ~map_source() { report(); }
    map_source(const map_source&) = delete;
    map_source& operator=(const map_source&) = delete;

    /// The first `position` results of the current chunk were consumed (for the progress bar, if
    /// any). The iteration says so every 256 results and at each chunk's end, and the bar hears
    /// of them when the coarse clock has ticked since it last did (every few milliseconds): a bar
    /// costs a clock read per chunk, nothing per result.
    void consumed_up_to(std::size_t position) noexcept {
        unreported_ += position - reported_;
        reported_ = position;
        if (bar_ && !counts_inputs_) {
            const std::int64_t tick = coarse_now_ns();
            if (tick != reported_tick_) {
                reported_tick_ = tick;
                report();
            }
        }
    }
    /// The current chunk's `position` results were all consumed.
    void consumed_chunk(std::size_t position) noexcept {
        consumed_up_to(position);
        reported_ = 0;
    }
    static constexpr std::size_t report_every = 256;  // a power of two: a mask tests it
    /// The results consumed and not yet counted on the bar are counted now (the iteration ended).
    void report() noexcept {
        if (bar_ && !counts_inputs_ && unreported_ != 0) bar_->advance(unreported_);
        unreported_ = 0;
    }
    /// The iteration ends with a failure.
    void failed() noexcept {
        report();
        if (bar_) bar_->fail();
    }

    std::size_t window() const noexcept { return window_; }
    deadline until() const noexcept { return until_; }

    /// Whether the next chunk may be read and submitted, with `live` chunks of `in_flight`
    /// submitted and not consumed: always when none is (a chunk larger than the bound runs alone).
    template <class Chunks>
    bool admits(Chunks& in_flight, std::size_t live) {
        if (live >= window_) return false;
        if (!byte_bound_ || live == 0) return true;
        for (auto& c : in_flight) measure(c);
        return held_ < *byte_bound_;
    }

    /// Reads and submits the next chunk; an invalid one when the inputs are exhausted.
    chunk submit_next() {
        std::vector<input_type> items;
        items.reserve(chunk_size_);
        for (; items.size() < chunk_size_ && next_ != std::ranges::end(view_); ++next_) items.push_back(*next_);
        if (items.empty()) return {};
        chunk c;
        c.inputs = items.size();
        const std::size_t estimate = byte_bound_ ? size_estimate(items) : 0;
        std::size_t wire_bytes = 0;
        if (journal_) {  // replayed from the journal, or submitted and journaled once done
            auto submit = [&](std::vector<input_type>&& rest) { return submit_(std::move(rest), wire_bytes); };
            c.result = journaled_chunk<chunk_result<Result>>(journal_, chunks_read_++, std::move(items), submit);
        } else {
            c.result = submit_(std::move(items), wire_bytes);
        }
        if (byte_bound_) {  // its inputs, and results the size of those before it
            c.bytes = (wire_bytes != 0 ? wire_bytes : estimate) + predicted_result_bytes();
            held_ += c.bytes;
        }
        return c;
    }

    /// `c` is being consumed and its results were moved into `taken`: they stay counted until the
    /// next chunk is taken (the caller iterates over them meanwhile).
    void taken(chunk& c, const chunk_result<Result>& taken) {
        if (bar_ && counts_inputs_ && !taken.error) bar_->advance(c.inputs);
        if (!byte_bound_) return;
        held_ -= c.bytes + current_bytes_;
        current_bytes_ = result_bytes(taken);
        held_ += current_bytes_;
        if (!c.measured) note_result(current_bytes_);
    }
    /// `c` ended without results to iterate (it failed or was cancelled).
    void dropped(chunk& c) {
        if (byte_bound_) held_ -= c.bytes;
        c.bytes = 0;
    }

    [[noreturn]] void throw_timeout(const char* function) const {
        throw timeout_error(std::string(function) + "(): the results were not ready within " + timeout_text_);
    }

private:
    // A done chunk holds its results, no longer its inputs.
    void measure(chunk& c) {
        if (c.measured || !c.valid() || !c.result.done()) return;
        c.measured = true;
        std::size_t bytes = 0;
        try {
            bytes = result_bytes(c.result.get());
        } catch (...) {  // failed or cancelled: no results held
        }
        held_ = held_ - c.bytes + bytes;
        c.bytes = bytes;
        note_result(bytes);
    }
    void note_result(std::size_t bytes) noexcept {
        results_measured_ += 1;
        result_bytes_measured_ += bytes;
    }
    std::size_t predicted_result_bytes() const noexcept {
        return results_measured_ == 0 ? 0 : result_bytes_measured_ / results_measured_;
    }
    static std::size_t result_bytes(const chunk_result<Result>& r) {
        return r.bytes != 0 ? r.bytes : size_estimate(r.values);
    }

    chunk_submitter<input_type, result_type> submit_;
    std::shared_ptr<journal_type> journal_;  // null: none
    bool counts_inputs_;
    std::size_t reported_ = 0;        // results of the current chunk told to consumed_up_to
    std::size_t unreported_ = 0;      // results consumed and not yet counted on the bar
    std::int64_t reported_tick_ = 0;  // the coarse clock when the bar last heard
    std::uint64_t chunks_read_ = 0;
    View view_;
    std::ranges::iterator_t<View> next_;
    std::size_t chunk_size_;
    std::size_t window_;
    deadline until_;
    std::string timeout_text_;
    std::optional<std::size_t> byte_bound_;
    std::unique_ptr<progress_bar> bar_;  // null: no progress shown
    std::size_t held_ = 0;               // bytes of the chunks in flight, and of the results being iterated
    std::size_t current_bytes_ = 0;      // of those, the results being iterated
    std::size_t results_measured_ = 0, result_bytes_measured_ = 0;  // of the chunks done so far
};

/// Runs `fn` over `items` in this process, stopping at the first exception.
template <class R, class F, class Input>
chunk_result<R> run_chunk_locally(F& fn, std::vector<Input>& items) {
    chunk_result<R> out;
    out.values.reserve(items.size());
    for (auto& item : items) {
        try {
            out.values.push_back(std::invoke(fn, std::move(item)));
        } catch (...) {
            out.error = std::current_exception();
            break;
        }
    }
    return out;
}

// Iteration over the results of the current chunk; the policy decides which chunk comes next.
template <class Impl>
class map_iterator {
public:
    using value_type = typename Impl::result_type;
    using difference_type = std::ptrdiff_t;
    using reference = value_type&;
    using iterator_concept = std::input_iterator_tag;

    map_iterator() = default;
    explicit map_iterator(Impl* impl) : impl_(impl) {}
    reference operator*() const { return impl_->current(); }
    value_type* operator->() const { return &impl_->current(); }
    map_iterator& operator++() {
        impl_->advance();
        return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const map_iterator& it, std::default_sentinel_t) { return it.impl_->finished(); }

private:
    Impl* impl_ = nullptr;
};

template <class View, class Result>
class ordered_map_impl {
public:
    using source_type = map_source<View, Result>;
    using result_type = typename source_type::result_type;

    ordered_map_impl(chunk_submitter<typename source_type::input_type, result_type> submit, std::size_t concurrency,
                     View view, const map_options& options,
                     std::shared_ptr<typename source_type::journal_type> journal = nullptr)
        : source_(std::move(submit), concurrency, std::move(view), options, std::move(journal)) {
        fill_window();
    }
    ~ordered_map_impl() { cancel_rest(); }

    result_type& current() { return chunk_.values[position_]; }
    bool finished() const noexcept { return finished_; }

    void advance() {
        if (finished_) return;
        if (started_ && ++position_ < chunk_.values.size()) {
            if ((position_ & (source_type::report_every - 1)) == 0) source_.consumed_up_to(position_);
            return;
        }
        if (started_) source_.consumed_chunk(position_);
        started_ = true;
        if (chunk_.error) fail(std::exchange(chunk_.error, nullptr));
        for (;;) {
            if (in_flight_.empty()) {
                finished_ = true;
                source_.report();
                return;
            }
            auto next = std::move(in_flight_.front());
            in_flight_.pop_front();
            fill_window();
            if (!next.result.state()->wait(source_.until())) {
                in_flight_.push_front(std::move(next));
                finish_with([this] { source_.throw_timeout("map"); });
            }
            try {
                chunk_ = next.result.take();
            } catch (...) {
                source_.dropped(next);
                fail(std::current_exception());
            }
            source_.taken(next, chunk_);
            fill_window();  // what `next` held is free now
            position_ = 0;
            if (!chunk_.values.empty()) return;
            if (chunk_.error) fail(std::exchange(chunk_.error, nullptr));
        }
    }

private:
    void fill_window() {
        while (!exhausted_ && source_.admits(in_flight_, in_flight_.size())) {
            auto next = source_.submit_next();
            if (!next.valid()) {
                exhausted_ = true;
                break;
            }
            in_flight_.push_back(std::move(next));
        }
    }
    void cancel_rest() noexcept {
        for (auto& f : in_flight_) f.cancel();
        in_flight_.clear();
    }
    template <class Thrower>
    [[noreturn]] void finish_with(Thrower&& thrower) {
        finished_ = true;
        cancel_rest();
        thrower();
        std::terminate();  // unreachable: thrower throws
    }
    [[noreturn]] void fail(std::exception_ptr error) {
        source_.failed();
        finish_with([&] { std::rethrow_exception(error); });
    }

    source_type source_;
    std::deque<typename source_type::chunk> in_flight_;
    chunk_result<result_type> chunk_;
    std::size_t position_ = 0;
    bool started_ = false;
    bool exhausted_ = false;
    bool finished_ = false;
};

template <class View, class Result>
class unordered_map_impl {
public:
    using source_type = map_source<View, Result>;
    using result_type = typename source_type::result_type;

    /// `name`: the function errors name (map_reduce runs on this policy too, its bar counting
    /// inputs: `counts_inputs`).
    unordered_map_impl(chunk_submitter<typename source_type::input_type, result_type> submit, std::size_t concurrency,
                       View view, const map_options& options,
                       std::shared_ptr<typename source_type::journal_type> journal = nullptr,
                       const char* name = "map_unordered", bool counts_inputs = false)
        : source_(std::move(submit), concurrency, std::move(view), options, std::move(journal), counts_inputs),
          slots_(source_.window()), watcher_(source_.window()), name_(name) {
        for (std::size_t slot = slots_.size(); slot-- > 0;) free_.push_back(slot);
        fill();
    }
    ~unordered_map_impl() { cancel_rest(); }

    result_type& current() { return chunk_.values[position_]; }
    bool finished() const noexcept { return finished_; }

    void advance() {
        if (finished_) return;
        if (started_ && ++position_ < chunk_.values.size()) {
            if ((position_ & (source_type::report_every - 1)) == 0) source_.consumed_up_to(position_);
            return;
        }
        if (started_) source_.consumed_chunk(position_);
        started_ = true;
        if (chunk_.error) fail(std::exchange(chunk_.error, nullptr));
        for (;;) {
            if (ready_.empty()) {
                if (live_ == 0) {
                    finished_ = true;
                    source_.report();
                    return;
                }
                const auto seen = watcher_.generation();
                watcher_.drain([this](std::size_t slot) { ready_.push_back(slot); });
                if (ready_.empty() && !watcher_.wait_for_change(seen, source_.until())) {
                    watcher_.drain([this](std::size_t slot) { ready_.push_back(slot); });
                    if (ready_.empty()) {
                        finished_ = true;
                        cancel_rest();
                        source_.throw_timeout(name_);
                    }
                }
                continue;
            }
            const std::size_t slot = ready_.front();
            ready_.pop_front();
            auto done = std::move(slots_[slot]);
            --live_;
            free_.push_back(slot);
            try {
                chunk_ = done.result.take();
            } catch (...) {
                source_.dropped(done);
                fail(std::current_exception());
            }
            source_.taken(done, chunk_);
            fill();
            position_ = 0;
            if (!chunk_.values.empty()) return;
            if (chunk_.error) fail(std::exchange(chunk_.error, nullptr));
        }
    }

private:
    void fill() {
        while (!exhausted_ && !free_.empty() && source_.admits(slots_, live_)) {
            const std::size_t slot = free_.back();
            auto next = source_.submit_next();
            if (!next.valid()) {
                exhausted_ = true;
                return;
            }
            free_.pop_back();
            slots_[slot] = std::move(next);
            ++live_;
            if (!watcher_.watch(slots_[slot].result.state(), slot)) ready_.push_back(slot);
        }
    }
    void cancel_rest() noexcept {
        for (auto& c : slots_) c.cancel();
    }
    [[noreturn]] void fail(std::exception_ptr error) {
        source_.failed();
        finished_ = true;
        cancel_rest();
        std::rethrow_exception(error);
    }

    source_type source_;
    std::vector<typename source_type::chunk> slots_;
    completion_list watcher_;  // after slots_: unregisters before the futures go
    std::deque<std::size_t> ready_;
    std::vector<std::size_t> free_;  // slots without a chunk
    const char* name_;
    std::size_t live_ = 0;
    chunk_result<result_type> chunk_;
    std::size_t position_ = 0;
    bool started_ = false;
    bool exhausted_ = false;
    bool finished_ = false;
};

}  // namespace detail

/// The lazy input range of results that `map`/`map_unordered` return. Move-only, iterate once;
/// destroying it cancels chunks that have not started.
template <class Impl>
class map_range {
public:
    using value_type = typename Impl::result_type;
    using iterator = detail::map_iterator<Impl>;

    template <class... Args>
    explicit map_range(Args&&... args) : impl_(std::make_unique<Impl>(std::forward<Args>(args)...)) {}

    /// Blocks until the first result is ready (and rethrows if it failed).
    iterator begin() {
        if (!begun_) {
            begun_ = true;
            impl_->advance();
        }
        return iterator(impl_.get());
    }
    std::default_sentinel_t end() const noexcept { return {}; }

private:
    std::unique_ptr<Impl> impl_;
    bool begun_ = false;
};

}  // namespace fronta
