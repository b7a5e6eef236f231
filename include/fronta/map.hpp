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
    /// A file that makes the map resumable: finished chunks are appended to it as they complete,
    /// and a map run again with the same inputs, function and journal yields them from it
    /// without running them again. Empty: none. See docs/design.md, "Resumable maps".
    std::filesystem::path journal;
};

namespace detail {

template <class F, class Input>
using map_result_t = std::decay_t<std::invoke_result_t<F&, Input&&>>;

// Submits one chunk of inputs, locally or to another process; the executor decides.
template <class Input, class Result>
using chunk_submitter = std::function<future<chunk_result<Result>>(std::vector<Input>&&)>;

// State shared by the ordered and unordered ranges: source, window and deadline.
template <class F, class View>
class map_source {
public:
    using input_type = std::ranges::range_value_t<View>;
    using result_type = map_result_t<F, input_type>;
    using chunk_future = future<chunk_result<result_type>>;
    using journal_type = chunk_journal<input_type, std::vector<result_type>>;

    map_source(chunk_submitter<input_type, result_type> submit, std::size_t concurrency, View view,
               const map_options& options, std::shared_ptr<journal_type> journal)
        : submit_(std::move(submit)), journal_(std::move(journal)), view_(std::move(view)),
          next_(std::ranges::begin(view_)), chunk_size_(options.chunk_size),
          window_(options.max_in_flight != 0 ? options.max_in_flight : 4 * std::max<std::size_t>(1, concurrency)),
          until_(options.timeout ? deadline_after(*options.timeout) : no_deadline),
          timeout_text_(options.timeout ? describe(*options.timeout) : "") {
        if (chunk_size_ == 0) throw std::invalid_argument("map(): chunk_size must be at least 1");
    }

    std::size_t window() const noexcept { return window_; }
    deadline until() const noexcept { return until_; }

    /// Submits the next chunk; an invalid future when the inputs are exhausted.
    chunk_future submit_next() {
        std::vector<input_type> items;
        items.reserve(chunk_size_);
        for (; items.size() < chunk_size_ && next_ != std::ranges::end(view_); ++next_) items.push_back(*next_);
        if (items.empty()) return {};
        if (journal_)
            return journaled_chunk<chunk_result<result_type>>(journal_, chunks_read_++, std::move(items), submit_);
        return submit_(std::move(items));
    }

    [[noreturn]] void throw_timeout(const char* function) const {
        throw timeout_error(std::string(function) + "(): the results were not ready within " + timeout_text_);
    }

private:
    chunk_submitter<input_type, result_type> submit_;
    std::shared_ptr<journal_type> journal_;  // null: none
    std::uint64_t chunks_read_ = 0;
    View view_;
    std::ranges::iterator_t<View> next_;
    std::size_t chunk_size_;
    std::size_t window_;
    deadline until_;
    std::string timeout_text_;
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

template <class F, class View>
class ordered_map_impl {
public:
    using source_type = map_source<F, View>;
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
        if (started_ && ++position_ < chunk_.values.size()) return;
        started_ = true;
        if (chunk_.error) fail(std::exchange(chunk_.error, nullptr));
        for (;;) {
            if (in_flight_.empty()) {
                finished_ = true;
                return;
            }
            auto next = std::move(in_flight_.front());
            in_flight_.pop_front();
            fill_window();
            if (!next.state()->wait(source_.until())) {
                in_flight_.push_front(std::move(next));
                finish_with([this] { source_.throw_timeout("map"); });
            }
            try {
                chunk_ = next.take();
            } catch (...) {
                fail(std::current_exception());
            }
            position_ = 0;
            if (!chunk_.values.empty()) return;
            if (chunk_.error) fail(std::exchange(chunk_.error, nullptr));
        }
    }

private:
    void fill_window() {
        while (!exhausted_ && in_flight_.size() < source_.window()) {
            auto fut = source_.submit_next();
            if (!fut.valid()) {
                exhausted_ = true;
                break;
            }
            in_flight_.push_back(std::move(fut));
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
        finish_with([&] { std::rethrow_exception(error); });
    }

    source_type source_;
    std::deque<typename source_type::chunk_future> in_flight_;
    chunk_result<result_type> chunk_;
    std::size_t position_ = 0;
    bool started_ = false;
    bool exhausted_ = false;
    bool finished_ = false;
};

template <class F, class View>
class unordered_map_impl {
public:
    using source_type = map_source<F, View>;
    using result_type = typename source_type::result_type;

    unordered_map_impl(chunk_submitter<typename source_type::input_type, result_type> submit, std::size_t concurrency,
                       View view, const map_options& options,
                       std::shared_ptr<typename source_type::journal_type> journal = nullptr)
        : source_(std::move(submit), concurrency, std::move(view), options, std::move(journal)),
          slots_(source_.window()), watcher_(source_.window()) {
        for (std::size_t slot = 0; slot < slots_.size() && !exhausted_; ++slot) refill(slot);
    }
    ~unordered_map_impl() { cancel_rest(); }

    result_type& current() { return chunk_.values[position_]; }
    bool finished() const noexcept { return finished_; }

    void advance() {
        if (finished_) return;
        if (started_ && ++position_ < chunk_.values.size()) return;
        started_ = true;
        if (chunk_.error) fail(std::exchange(chunk_.error, nullptr));
        for (;;) {
            if (ready_.empty()) {
                if (live_ == 0) {
                    finished_ = true;
                    return;
                }
                const auto seen = watcher_.generation();
                watcher_.drain([this](std::size_t slot) { ready_.push_back(slot); });
                if (ready_.empty() && !watcher_.wait_for_change(seen, source_.until())) {
                    watcher_.drain([this](std::size_t slot) { ready_.push_back(slot); });
                    if (ready_.empty()) {
                        finished_ = true;
                        cancel_rest();
                        source_.throw_timeout("map_unordered");
                    }
                }
                continue;
            }
            const std::size_t slot = ready_.front();
            ready_.pop_front();
            auto done = std::move(slots_[slot]);
            --live_;
            if (!exhausted_) refill(slot);
            try {
                chunk_ = done.take();
            } catch (...) {
                fail(std::current_exception());
            }
            position_ = 0;
            if (!chunk_.values.empty()) return;
            if (chunk_.error) fail(std::exchange(chunk_.error, nullptr));
        }
    }

private:
    void refill(std::size_t slot) {
        auto fut = source_.submit_next();
        if (!fut.valid()) {
            exhausted_ = true;
            return;
        }
        slots_[slot] = std::move(fut);
        ++live_;
        if (!watcher_.watch(slots_[slot].state(), slot)) ready_.push_back(slot);
    }
    void cancel_rest() noexcept {
        for (auto& f : slots_)
            if (f.valid()) f.cancel();
    }
    [[noreturn]] void fail(std::exception_ptr error) {
        finished_ = true;
        cancel_rest();
        std::rethrow_exception(error);
    }

    source_type source_;
    std::vector<typename source_type::chunk_future> slots_;
    completion_list watcher_;  // after slots_: unregisters before the futures go
    std::deque<std::size_t> ready_;
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
