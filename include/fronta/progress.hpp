#pragma once
/// @file progress.hpp
/// @brief `fronta::progress(range, label)`: a progress bar drawn while a range is iterated (the
/// results of `map`, `as_completed(...)`, a vector of inputs), as Python users wrap loops in tqdm.
/// @code
/// for (double y : fronta::progress(pool.map(simulate, runs), "simulations")) total += y;
/// @endcode
/// On a terminal the bar is one line on stderr, redrawn in place at most 10 times a second:
/// label, bar, done/total and percent, rate, elapsed, time left, failures. With no known total
/// (an endless input) it shows the count. Several bars (from any threads) are drawn as a block,
/// one line each, and a finished bar leaves its last line above the block. When stderr is not a
/// terminal each bar prints a whole line every few seconds and a last one at the end.
/// `FRONTA_PROGRESS=0` turns every bar off; `FRONTA_PROGRESS_INTERVAL_MS` sets how often a bar
/// may redraw (100 on a terminal, 5000 elsewhere).

#include <time.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <utility>

namespace fronta {

struct progress_options {
    /// What the bar counts ("files", "simulations").
    std::string label;
    /// How many items there are; empty: the range's size when it knows it, else unknown.
    std::optional<std::size_t> total;
};

/// What one bar shows at one moment: the text of its line is a function of this and a width.
struct progress_state {
    std::string label;
    std::size_t done = 0;
    std::optional<std::size_t> total;
    std::size_t failures = 0;
    std::chrono::duration<double> elapsed{0};
    bool finished = false;
};

/// The line a bar draws for `state`, at most `width` bytes long (a wrapped line would break the
/// redraw in place). When the width is short the bar goes first, then the time left, the rate,
/// the elapsed time, the percentage and the failures; then the label is shortened; the count
/// stays to the last.
std::string format_progress(const progress_state& state, std::size_t width);

namespace detail {
class progress_drawer;

/// A clock that costs a few nanoseconds to read: its resolution (a few milliseconds) is plenty to
/// decide whether a bar's 100 ms have passed, so a bar may read it for every item.
inline std::int64_t coarse_now_ns() noexcept {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}
}  // namespace detail

/// A bar: counts, and draws on stderr as described above. Thread-safe: `advance` may be called
/// from any thread; several bars take turns on stderr without tearing each other's lines.
/// `advance` costs a relaxed atomic add and a read of a coarse clock, and never waits for stderr
/// (if another thread is drawing, it skips this redraw).
/// @code
/// fronta::progress_bar bar({.label = "files", .total = paths.size()});
/// for (auto& f : pool.map(load, paths)) bar.advance();
/// @endcode
class progress_bar {
public:
    explicit progress_bar(progress_options options);
    ~progress_bar();
    progress_bar(const progress_bar&) = delete;
    progress_bar& operator=(const progress_bar&) = delete;

    void advance(std::size_t n = 1) noexcept;
    void fail(std::size_t n = 1) noexcept;
    /// Draws the last line now (the destructor does it otherwise).
    void finish() noexcept;

private:
    friend class detail::progress_drawer;  // writes every bar of the process on stderr
    struct impl;
    std::unique_ptr<impl> impl_;
};

namespace detail {

template <class View>
class progress_view : public std::ranges::view_interface<progress_view<View>> {
public:
    class iterator {
    public:
        using value_type = std::ranges::range_value_t<View>;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::input_iterator_tag;

        iterator() = default;
        iterator(std::ranges::iterator_t<View> at, progress_bar* bar) : at_(std::move(at)), bar_(bar) {}
        decltype(auto) operator*() const { return *at_; }
        iterator& operator++() {
            ++at_;
            bar_->advance();
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& it, const std::ranges::sentinel_t<View>& end) { return it.at_ == end; }

    private:
        std::ranges::iterator_t<View> at_;
        progress_bar* bar_ = nullptr;
    };

    progress_view(View view, progress_options options) : view_(std::move(view)) {
        if (!options.total) {
            if constexpr (std::ranges::sized_range<View>) options.total = std::ranges::size(view_);
        }
        bar_ = std::make_unique<progress_bar>(std::move(options));
    }
    iterator begin() { return iterator(std::ranges::begin(view_), bar_.get()); }
    auto end() { return std::ranges::end(view_); }

private:
    View view_;
    std::unique_ptr<progress_bar> bar_;
};

}  // namespace detail

/// `range` with a bar counting its items as they are iterated (see above).
template <std::ranges::viewable_range Range>
    requires std::ranges::input_range<Range>
auto progress(Range&& range, progress_options options) {
    return detail::progress_view<std::views::all_t<Range>>(std::views::all(std::forward<Range>(range)),
                                                           std::move(options));
}
template <std::ranges::viewable_range Range>
    requires std::ranges::input_range<Range>
auto progress(Range&& range, std::string label = {}) {
    return progress(std::forward<Range>(range), progress_options{.label = std::move(label), .total = std::nullopt});
}

}  // namespace fronta
