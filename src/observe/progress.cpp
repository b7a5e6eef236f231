// Progress bars: the text of a line (format_progress), and a bar that draws it on stderr.
#include "fronta/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

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

// stderr is shared by every bar: one line at a time.
std::mutex& stderr_mutex() {
    static std::mutex m;
    return m;
}

}  // namespace

std::string format_progress(const progress_state& state, std::size_t width) {
    const double seconds = state.elapsed.count();
    const double rate = seconds > 0 ? static_cast<double>(state.done) / seconds : 0;
    std::string head = state.label.empty() ? "" : state.label + " ";
    std::string counts, tail;
    char buffer[64];
    if (state.total) {
        const double fraction =
            *state.total == 0 ? 1.0
                              : std::min(1.0, static_cast<double>(state.done) / static_cast<double>(*state.total));
        std::snprintf(buffer, sizeof buffer, "%zu/%zu %3.0f%%", state.done, *state.total, fraction * 100);
        counts = buffer;
        const double left =
            rate > 0 ? static_cast<double>(*state.total - std::min(state.done, *state.total)) / rate : NAN;
        tail = " " + rate_text(rate) + " " + clock_text(seconds) + (state.finished ? "" : "<" + clock_text(left));
    } else {
        counts = std::to_string(state.done);
        tail = " " + rate_text(rate) + " " + clock_text(seconds);
    }
    if (state.failures != 0) tail += " " + std::to_string(state.failures) + " failed";
    const std::size_t fixed = head.size() + counts.size() + tail.size();
    std::string bar;
    if (state.total && width >= fixed + 3 + 10) {
        const std::size_t cells = std::min<std::size_t>(40, width - fixed - 3);
        const double fraction =
            *state.total == 0 ? 1.0
                              : std::min(1.0, static_cast<double>(state.done) / static_cast<double>(*state.total));
        const auto full = static_cast<std::size_t>(fraction * static_cast<double>(cells));
        bar = "[" + std::string(full, '#') + std::string(cells - full, '.') + "] ";
    }
    return head + bar + counts + tail;
}

struct progress_bar::impl {
    progress_options options;
    std::atomic<std::size_t> done{0}, failures{0};
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    std::atomic<std::int64_t> last_draw_ns{0};
    std::mutex draw_mutex;
    bool enabled = true, terminal = false, finished = false;
    std::chrono::nanoseconds interval{};

    explicit impl(progress_options o) : options(std::move(o)) {
        const char* setting = std::getenv("FRONTA_PROGRESS");
        enabled = !(setting != nullptr && std::strcmp(setting, "0") == 0);
        terminal = isatty(STDERR_FILENO) == 1;
        interval = terminal ? std::chrono::milliseconds(100) : std::chrono::seconds(5);
        // FRONTA_PROGRESS_INTERVAL_MS: how often a bar may redraw (tests use 0: every item).
        if (const char* ms = std::getenv("FRONTA_PROGRESS_INTERVAL_MS")) {
            char* end = nullptr;
            const long value = std::strtol(ms, &end, 10);
            if (end != ms && *end == '\0' && value >= 0) interval = std::chrono::milliseconds(value);
        }
    }
    progress_state state() const {
        progress_state s;
        s.label = options.label;
        s.done = done.load(std::memory_order_relaxed);
        s.total = options.total;
        s.failures = failures.load(std::memory_order_relaxed);
        s.elapsed = std::chrono::steady_clock::now() - start;
        return s;
    }
    static std::size_t terminal_width() {
        winsize size{};
        if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
        return 80;
    }
    void draw(bool last) {
        progress_state s = state();
        s.finished = last;
        const std::string line = format_progress(s, terminal ? terminal_width() - 1 : 100);
        std::lock_guard lock(stderr_mutex());
        if (terminal)
            std::fprintf(stderr, "\r%s\x1b[K%s", line.c_str(), last ? "\n" : "");
        else
            std::fprintf(stderr, "%s\n", line.c_str());
        std::fflush(stderr);
    }
    void maybe_draw() noexcept {
        if (!enabled) return;
        const auto now = (std::chrono::steady_clock::now() - start).count();
        auto last = last_draw_ns.load(std::memory_order_relaxed);
        if (now - last < interval.count() && interval.count() != 0) return;
        if (!last_draw_ns.compare_exchange_strong(last, now)) return;  // another thread draws
        std::unique_lock lock(draw_mutex, std::try_to_lock);
        if (!lock || finished) return;
        try {
            draw(false);
        } catch (...) {  // a bar never fails the work it watches
        }
    }
};

progress_bar::progress_bar(progress_options options) : impl_(std::make_unique<impl>(std::move(options))) {}
progress_bar::~progress_bar() { finish(); }

void progress_bar::advance(std::size_t n) noexcept {
    impl_->done.fetch_add(n, std::memory_order_relaxed);
    impl_->maybe_draw();
}
void progress_bar::fail(std::size_t n) noexcept {
    impl_->failures.fetch_add(n, std::memory_order_relaxed);
    impl_->maybe_draw();
}
void progress_bar::finish() noexcept {
    std::lock_guard lock(impl_->draw_mutex);
    if (impl_->finished || !impl_->enabled) return;
    impl_->finished = true;
    try {
        impl_->draw(true);
    } catch (...) {
    }
}

}  // namespace fronta
