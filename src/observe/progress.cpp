// Progress bars: the text of a line (format_progress), and one drawer per process that writes the
// bars on stderr.
//
// On a terminal the live bars form a block at the bottom, one line each; the cursor rests at the
// end of the block's last line. A redraw goes back to the block's first line (`\r`, then cursor
// up `\x1b[<n>A`) and rewrites every line, clearing what is left of the old one (`\x1b[K`). A
// bar that finishes is written as the first line of the redraw and ends with a newline: it stays
// above the block, which is one line shorter. Lines never exceed the terminal's width, or the
// terminal would wrap them and the count of lines to go up would be wrong.
//
// When stderr is not a terminal each bar prints whole lines (one write each) every few seconds
// and a last one. Either way one mutex orders every write, so bars on several threads never tear
// each other's lines; advance() only tries the lock, so the work never waits for stderr.
#include "fronta/progress.hpp"

#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace fronta {

namespace {

std::string clock_text(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "?";
    const auto s = static_cast<long long>(seconds + 0.5);
    char text[32];
    if (s >= 3600)
        std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    else
        std::snprintf(text, sizeof text, "%02lld:%02lld", s / 60, s % 60);
    return text;
}

std::string rate_text(double per_second) {
    char text[32];
    if (per_second >= 1e6)
        std::snprintf(text, sizeof text, "%.1fM/s", per_second / 1e6);
    else if (per_second >= 1e4)
        std::snprintf(text, sizeof text, "%.1fk/s", per_second / 1e3);
    else
        std::snprintf(text, sizeof text, "%.1f/s", per_second);
    return text;
}

// The first `bytes` of `text`, not cutting a UTF-8 character in two.
std::string cut(const std::string& text, std::size_t bytes) {
    if (text.size() <= bytes) return text;
    while (bytes > 0 && (static_cast<unsigned char>(text[bytes]) & 0xC0) == 0x80) --bytes;
    return text.substr(0, bytes);
}

}  // namespace

std::string format_progress(const progress_state& state, std::size_t width) {
    const double seconds = state.elapsed.count();
    const double rate = seconds > 0 ? static_cast<double>(state.done) / seconds : 0;
    const double fraction = !state.total || *state.total == 0
                                ? 1.0
                                : std::min(1.0, static_cast<double>(state.done) / static_cast<double>(*state.total));
    // The parts of the line, in the order they are given up when the width is short: the bar,
    // the time left, the rate, the elapsed time, the percentage, the failures; then the label is
    // shortened, and the count is the last thing left.
    std::string label = state.label;
    std::string count, percent, rate_part = " " + rate_text(rate), elapsed = " " + clock_text(seconds), left, failed;
    char buffer[64];
    if (state.total) {
        std::snprintf(buffer, sizeof buffer, "%zu/%zu", state.done, *state.total);
        count = buffer;
        std::snprintf(buffer, sizeof buffer, " %3.0f%%", fraction * 100);
        percent = buffer;
        const double to_go =
            rate > 0 ? static_cast<double>(*state.total - std::min(state.done, *state.total)) / rate : NAN;
        if (!state.finished) left = "<" + clock_text(to_go);
    } else {
        count = std::to_string(state.done);
    }
    if (state.failures != 0) failed = " " + std::to_string(state.failures) + " failed";

    const auto length = [&] {
        return (label.empty() ? 0 : label.size() + 1) + count.size() + percent.size() + rate_part.size() +
               elapsed.size() + left.size() + failed.size();
    };
    std::string bar;
    constexpr std::size_t min_cells = 10, max_cells = 40;
    if (state.total && width >= length() + min_cells + 3) {
        const std::size_t cells = std::min(max_cells, width - length() - 3);
        const auto full = static_cast<std::size_t>(fraction * static_cast<double>(cells));
        bar = "[" + std::string(full, '#') + std::string(cells - full, '.') + "] ";
    }
    for (std::string* part : {&left, &rate_part, &elapsed, &percent, &failed})
        if (length() + bar.size() > width) part->clear();
    if (length() > width) {  // the label shortened, or gone if not even one letter fits
        const std::size_t room = width > count.size() + 1 ? width - count.size() - 1 : 0;
        label = cut(label, room);
    }
    std::string line = (label.empty() ? "" : label + " ") + bar + count + percent + rate_part + elapsed + left + failed;
    return cut(line, width);
}

struct progress_bar::impl {
    progress_options options;
    std::atomic<std::size_t> done{0}, failures{0};
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    std::atomic<std::int64_t> next_draw_ns{0};  // on detail::coarse_now_ns()'s clock
    std::int64_t interval_ns = 0;
    bool enabled = true, terminal = false;
    bool finished = false;  // under the drawer's mutex

    explicit impl(progress_options o) : options(std::move(o)) {
        const char* setting = std::getenv("FRONTA_PROGRESS");
        enabled = !(setting != nullptr && std::strcmp(setting, "0") == 0);
        terminal = isatty(STDERR_FILENO) == 1;
        std::chrono::nanoseconds interval = terminal ? std::chrono::milliseconds(100) : std::chrono::seconds(5);
        // FRONTA_PROGRESS_INTERVAL_MS: how often a bar may redraw (tests use 0: every item).
        if (const char* ms = std::getenv("FRONTA_PROGRESS_INTERVAL_MS")) {
            char* end = nullptr;
            const long value = std::strtol(ms, &end, 10);
            if (end != ms && *end == '\0' && value >= 0) interval = std::chrono::milliseconds(value);
        }
        interval_ns = interval.count();
        next_draw_ns.store(detail::coarse_now_ns() + interval_ns, std::memory_order_relaxed);
    }
    progress_state state() const {
        progress_state s;
        s.label = options.label;
        s.done = done.load(std::memory_order_relaxed);
        s.total = options.total;
        s.failures = failures.load(std::memory_order_relaxed);
        s.elapsed = std::chrono::steady_clock::now() - start;
        s.finished = finished;
        return s;
    }
    void maybe_draw() noexcept;
};

namespace {

void write_stderr(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
}

struct terminal_size {
    std::size_t columns = 80, rows = 24;
};
terminal_size size_of_terminal() {
    winsize size{};
    terminal_size out;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0) {
        if (size.ws_col > 0) out.columns = size.ws_col;
        if (size.ws_row > 0) out.rows = size.ws_row;
    }
    return out;
}

}  // namespace

// Every bar of the process writes through this one: the block of live bars on a terminal, whole
// lines elsewhere (see the top of this file).
class detail::progress_drawer {
public:
    using bar_impl = progress_bar::impl;

    static progress_drawer& instance() {
        static auto* d = new progress_drawer;  // never destroyed: bars may finish during static destruction
        return *d;
    }
    std::mutex mutex;

    /// A bar on a terminal joins the block and shows at once. Under `mutex`.
    void open(bar_impl& bar) {
        block_.push_back(&bar);
        try {
            redraw(nullptr);
        } catch (...) {  // drawn next time; a bar never fails the work it watches
        }
    }
    /// Draws `bar`'s line now. Under `mutex`.
    void draw(bar_impl& bar) {
        if (bar.terminal)
            redraw(nullptr);
        else
            write_stderr(format_progress(bar.state(), pipe_width) + "\n");
    }
    /// `bar`'s last line. Under `mutex`.
    void close(bar_impl& bar) {
        bar.finished = true;
        if (!bar.terminal) {
            write_stderr(format_progress(bar.state(), pipe_width) + "\n");
            return;
        }
        const auto at = std::find(block_.begin(), block_.end(), &bar);
        if (at == block_.end()) return;
        block_.erase(at);
        redraw(&bar);
    }

private:
    static constexpr std::size_t pipe_width = 100;

    // Rewrites the block in place, `finishing` (no longer in it) first, as a line of its own.
    // A block taller than the terminal could not be reached by going up: the oldest bars that fit
    // (one line less than the terminal's height) are shown, the others wait for room.
    void redraw(const bar_impl* finishing) {
        const terminal_size size = size_of_terminal();
        const std::size_t width = size.columns - 1;  // the last column would make some terminals wrap
        const std::size_t shown = std::min(block_.size(), std::max<std::size_t>(1, size.rows - 1));
        std::string out = "\r";
        if (rows_ > 1) out += "\x1b[" + std::to_string(rows_ - 1) + "A";
        if (finishing != nullptr) out += format_progress(finishing->state(), width) + "\x1b[K\n";
        for (std::size_t i = 0; i < shown; ++i) {
            out += format_progress(block_[i]->state(), width) + "\x1b[K";
            if (i + 1 < shown) out += "\n";
        }
        rows_ = shown;
        write_stderr(out);
    }

    std::vector<const bar_impl*> block_;  // live bars on the terminal, top to bottom
    std::size_t rows_ = 0;                // lines of the block on screen; the cursor ends the last
};

void progress_bar::impl::maybe_draw() noexcept {
    const std::int64_t now = detail::coarse_now_ns();
    std::int64_t next = next_draw_ns.load(std::memory_order_relaxed);
    if (now < next) return;
    if (!next_draw_ns.compare_exchange_strong(next, now + interval_ns, std::memory_order_relaxed))
        return;  // another thread draws this one
    auto& d = detail::progress_drawer::instance();
    std::unique_lock lock(d.mutex, std::try_to_lock);
    if (!lock || finished) return;  // whoever holds the lock is drawing (on a terminal: every bar)
    try {
        d.draw(*this);
    } catch (...) {  // a bar never fails the work it watches
    }
}

progress_bar::progress_bar(progress_options options) : impl_(std::make_unique<impl>(std::move(options))) {
    if (!impl_->enabled || !impl_->terminal) return;
    auto& d = detail::progress_drawer::instance();
    std::lock_guard lock(d.mutex);
    d.open(*impl_);
}
progress_bar::~progress_bar() { finish(); }

void progress_bar::advance(std::size_t n) noexcept {
    impl_->done.fetch_add(n, std::memory_order_relaxed);
    if (impl_->enabled) impl_->maybe_draw();
}
void progress_bar::fail(std::size_t n) noexcept {
    impl_->failures.fetch_add(n, std::memory_order_relaxed);
    if (impl_->enabled) impl_->maybe_draw();
}
void progress_bar::finish() noexcept {
    if (!impl_->enabled) return;
    auto& d = detail::progress_drawer::instance();
    std::lock_guard lock(d.mutex);
    if (impl_->finished) return;
    try {
        d.close(*impl_);
    } catch (...) {
    }
}

}  // namespace fronta
