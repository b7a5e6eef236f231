// Progress bars: the text of a line, and what a bar writes where stderr is a file or a pipe.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <ranges>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fronta/map_reduce.hpp"
#include "fronta/progress.hpp"
#include "fronta/thread_pool.hpp"

namespace {

fronta::progress_state state(std::size_t done, std::optional<std::size_t> total, double seconds) {
    fronta::progress_state s;
    s.label = "files";
    s.done = done;
    s.total = total;
    s.elapsed = std::chrono::duration<double>(seconds);
    return s;
}

TEST(format_progress, shows_label_bar_count_percent_rate_and_times) {
    const std::string line = fronta::format_progress(state(250, 1000, 5.0), 100);
    EXPECT_EQ(line.rfind("files [", 0), 0u) << line;
    EXPECT_NE(line.find("250/1000  25%"), std::string::npos) << line;
    EXPECT_NE(line.find("50.0/s"), std::string::npos) << line;
    EXPECT_NE(line.find("00:05<00:15"), std::string::npos) << "elapsed and left: " << line;
    EXPECT_LE(line.size(), 100u);
    EXPECT_NE(line.find("##########.."), std::string::npos) << "a quarter full: " << line;
}

TEST(format_progress, an_unknown_total_shows_the_count_only) {
    const std::string line = fronta::format_progress(state(1234, std::nullopt, 2.0), 80);
    EXPECT_EQ(line, "files 1234 617.0/s 00:02");
}

TEST(format_progress, failures_are_shown_and_a_narrow_terminal_drops_the_bar_not_the_count) {
    auto s = state(10, 20, 1.0);
    s.failures = 2;
    const std::string wide = fronta::format_progress(s, 100);
    EXPECT_NE(wide.find("2 failed"), std::string::npos) << wide;
    const std::string narrow = fronta::format_progress(s, 20);
    EXPECT_EQ(narrow.find('['), std::string::npos) << narrow;
    EXPECT_NE(narrow.find("10/20"), std::string::npos) << narrow;
}

TEST(format_progress, the_line_fits_every_width_giving_up_the_bar_and_times_before_label_and_count) {
    auto s = state(250, 1000, 5.0);
    s.failures = 2;
    const std::string w80 = fronta::format_progress(s, 80);
    EXPECT_EQ(w80.rfind("files [", 0), 0u) << w80;
    EXPECT_NE(w80.find("00:05<00:15"), std::string::npos) << w80;
    EXPECT_NE(w80.find("2 failed"), std::string::npos) << w80;
    const std::string w40 = fronta::format_progress(s, 40);
    EXPECT_EQ(w40.find('['), std::string::npos) << "no room for a bar of 10 cells: " << w40;
    EXPECT_EQ(w40.find('<'), std::string::npos) << "the time left goes before the count: " << w40;
    EXPECT_EQ(w40.rfind("files 250/1000  25%", 0), 0u) << w40;
    EXPECT_EQ(fronta::format_progress(s, 30), "files 250/1000  25% 2 failed");
    EXPECT_EQ(fronta::format_progress(s, 20), "files 250/1000");
    s.failures = 0;
    EXPECT_EQ(fronta::format_progress(s, 20), "files 250/1000  25%");
    s.failures = 2;
    EXPECT_EQ(fronta::format_progress(s, 10), "f 250/1000") << "the label shortened, the count whole";
    for (std::size_t width : {0u, 3u, 8u, 9u, 10u, 11u, 20u, 40u, 60u, 80u, 200u}) {
        const std::string line = fronta::format_progress(s, width);
        EXPECT_LE(line.size(), width) << line;
        if (width >= 8) {
            EXPECT_NE(line.find("250/1000"), std::string::npos) << width << ": " << line;
        }
    }
    auto endless = state(123456, std::nullopt, 2.0);
    endless.label = "données";  // a shortened label keeps whole UTF-8 characters
    EXPECT_EQ(fronta::format_progress(endless, 13), "donné 123456");
    EXPECT_EQ(fronta::format_progress(endless, 12), "donn 123456");
    EXPECT_EQ(fronta::format_progress(endless, 6), "123456");
}

// A small terminal: applies what a bar writes (text, \r, \n, \x1b[K, \x1b[<n>A) to rows of
// `width` columns that wrap as a terminal does, and fails the test on any other control sequence.
// The cursor cannot go up past the top of the `height` rows on screen (the rows above have
// scrolled away); `clamped()` counts the times something tried.
class screen {
public:
    explicit screen(std::size_t width, std::size_t height = 1000) : width_(width), height_(height) {}
    void apply(const std::string& out) {
        for (std::size_t i = 0; i < out.size(); ++i) {
            const char c = out[i];
            if (c == '\r') {
                col_ = 0;
            } else if (c == '\n') {
                ++row_;
                col_ = 0;  // the pty's output processing turns \n into \r\n anyway
            } else if (c == '\x1b') {
                std::size_t j = i + 1;
                ASSERT_LT(j, out.size());
                ASSERT_EQ(out[j], '[') << "escape at " << i;
                std::size_t n = 0;
                bool digits = false;
                for (++j; j < out.size() && std::isdigit(static_cast<unsigned char>(out[j])); ++j, digits = true)
                    n = n * 10 + static_cast<std::size_t>(out[j] - '0');
                ASSERT_LT(j, out.size());
                if (out[j] == 'K') {
                    ASSERT_FALSE(digits);
                    line().resize(std::min(line().size(), col_));
                } else if (out[j] == 'A') {
                    const std::size_t top = bottom_ + 1 > height_ ? bottom_ + 1 - height_ : 0;
                    const std::size_t up = digits ? n : 1;
                    if (row_ < top + up) ++clamped_;
                    row_ = row_ < top + up ? top : row_ - up;
                } else {
                    FAIL() << "unexpected escape sequence ending in '" << out[j] << "'";
                }
                i = j;
            } else {
                if (col_ == width_) {  // the terminal wraps: a line too long breaks redrawing in place
                    ++row_;
                    col_ = 0;
                    ++wraps_;
                }
                std::string& l = line();
                if (l.size() <= col_) l.resize(col_ + 1, ' ');
                l[col_++] = c;
            }
        }
    }
    /// The rows written to, without their trailing blanks.
    std::vector<std::string> rows() const {
        std::vector<std::string> out;
        for (std::string r : rows_) out.push_back(r.erase(r.find_last_not_of(' ') + 1));
        while (!out.empty() && out.back().empty()) out.pop_back();
        return out;
    }
    int wraps() const { return wraps_; }
    int clamped() const { return clamped_; }

private:
    std::string& line() {
        if (rows_.size() <= row_) rows_.resize(row_ + 1);
        bottom_ = std::max(bottom_, row_);
        return rows_[row_];
    }
    std::size_t width_, height_, row_ = 0, col_ = 0, bottom_ = 0;
    std::vector<std::string> rows_;
    int wraps_ = 0, clamped_ = 0;
};

// Runs `body` with stderr on a pseudo-terminal of `columns`, read meanwhile by a thread (a pty
// holds only a few kilobytes); returns everything the terminal received.
std::string on_a_terminal(unsigned short columns, const std::function<void()>& body, unsigned short rows = 50) {
    winsize size{};
    size.ws_col = columns;
    size.ws_row = rows;
    int master = -1, slave = -1;
    if (openpty(&master, &slave, nullptr, nullptr, &size) != 0) throw std::runtime_error("openpty failed");
    static const std::string end_mark = "<end of output>";
    std::string out;
    std::thread reader([&] {
        char buffer[4096];
        while (out.find(end_mark) == std::string::npos) {
            const ssize_t n = read(master, buffer, sizeof buffer);
            if (n <= 0) break;
            out.append(buffer, static_cast<std::size_t>(n));
        }
    });
    std::fflush(stderr);
    const int saved = dup(STDERR_FILENO);
    dup2(slave, STDERR_FILENO);
    setenv("FRONTA_PROGRESS_INTERVAL_MS", "0", 1);
    body();
    unsetenv("FRONTA_PROGRESS_INTERVAL_MS");
    std::fflush(stderr);
    if (write(STDERR_FILENO, end_mark.data(), end_mark.size()) != static_cast<ssize_t>(end_mark.size()))
        throw std::runtime_error("write to the pty failed");
    reader.join();  // it has read up to the mark: all of the body's output
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(slave);
    close(master);
    const auto mark = out.find(end_mark);
    if (mark == std::string::npos) throw std::runtime_error("the pty's output ended early");
    return out.substr(0, mark);
}

// Two bars on two threads, `items` each, advanced in lockstep: both threads call advance() at
// once, item after item, so their draws meet (one of the two draws each item at least: the other
// may find stderr taken and skip).
void two_bars_on_two_threads(std::size_t items) {
    std::barrier step(2);
    auto run = [&](std::string label) {
        fronta::progress_bar bar({.label = std::move(label), .total = items});
        for (std::size_t i = 0; i < items; ++i) {
            step.arrive_and_wait();
            bar.advance();
        }
        step.arrive_and_wait();  // both finish together too
    };
    std::thread alpha(run, "alpha"), beta(run, "beta");
    alpha.join();
    beta.join();
}

TEST(progress, two_bars_on_two_threads_share_a_terminal_each_on_its_own_line) {
    const std::string out = on_a_terminal(80, [] { two_bars_on_two_threads(200); });
    EXPECT_NE(out.find("\x1b[1A"), std::string::npos) << "the block of two lines redrawn in place";
    screen terminal(80);
    terminal.apply(out);
    EXPECT_EQ(terminal.wraps(), 0);
    const auto rows = terminal.rows();
    ASSERT_EQ(rows.size(), 2u) << "both bars, one line each, nothing left behind:\n" << out;
    const std::regex line(R"((alpha|beta) \[#{40}\] (\d+)/\2 100% [0-9.kM]+/s \d\d:\d\d)");
    std::smatch first, second;
    ASSERT_TRUE(std::regex_match(rows[0], first, line)) << rows[0];
    ASSERT_TRUE(std::regex_match(rows[1], second, line)) << rows[1];
    EXPECT_NE(first[1], second[1]) << "one line for each bar";
}

TEST(progress, more_bars_than_the_terminal_has_rows_show_the_oldest_that_fit_and_all_end_whole) {
    const std::string out = on_a_terminal(
        80,
        [] {
            std::vector<std::unique_ptr<fronta::progress_bar>> bars;
            for (int i = 0; i < 5; ++i)
                bars.push_back(std::make_unique<fronta::progress_bar>(
                    fronta::progress_options{.label = "bar" + std::to_string(i), .total = 30}));
            for (int item = 0; item < 30; ++item)
                for (auto& bar : bars) bar->advance();
            for (auto& bar : bars) bar->finish();
        },
        /*rows=*/4);
    screen terminal(80, 4);
    terminal.apply(out);
    EXPECT_EQ(terminal.clamped(), 0) << "the cursor never went above the screen";
    const auto rows = terminal.rows();
    ASSERT_EQ(rows.size(), 5u) << out;
    for (std::size_t i = 0; i < 5; ++i)
        EXPECT_TRUE(
            rows[i].starts_with("bar" + std::to_string(i) + " [########################################] 30/30 100%"))
            << rows[i];
}

TEST(progress, a_narrow_terminal_gets_lines_that_fit_so_the_bar_redraws_in_place) {
    for (unsigned short columns : {10, 20, 40, 80}) {
        const std::string out = on_a_terminal(columns, [] {
            std::vector<int> inputs(50, 1);
            for (int x : fronta::progress(inputs, "narrow-rows")) (void)x;
        });
        screen terminal(columns);
        terminal.apply(out);
        EXPECT_EQ(terminal.wraps(), 0) << columns << " columns:\n" << out;
        const auto rows = terminal.rows();
        ASSERT_EQ(rows.size(), 1u) << columns << " columns:\n" << out;
        EXPECT_NE(rows[0].find("50/50"), std::string::npos) << columns << " columns: " << rows[0];
        EXPECT_LT(rows[0].size(), columns);
        EXPECT_GE(std::count(out.begin(), out.end(), '\r'), 40) << "redrawn in place";
    }
}

TEST(progress, two_bars_on_two_threads_write_whole_lines_to_a_pipe) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    std::string out;
    std::thread reader([&] {
        char buffer[4096];
        for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) out.append(buffer, static_cast<std::size_t>(n));
    });
    std::fflush(stderr);
    const int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    setenv("FRONTA_PROGRESS_INTERVAL_MS", "0", 1);
    two_bars_on_two_threads(200);
    unsetenv("FRONTA_PROGRESS_INTERVAL_MS");
    std::fflush(stderr);
    dup2(saved, STDERR_FILENO);  // the pipe's last writer goes: the reader sees its end
    close(saved);
    reader.join();
    close(fds[0]);
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out.back(), '\n');
    const std::regex whole(
        R"((alpha \[[#.]{40}\] \d+/200|beta \[[#.]{40}\] \d+/200) +\d+% [0-9.kM]+/s \d\d:\d\d(<(\d\d:\d\d|\?))?)");
    std::istringstream lines(out);
    std::size_t count = 0;
    std::string alpha_last, beta_last;
    for (std::string l; std::getline(lines, l); ++count) {
        EXPECT_TRUE(std::regex_match(l, whole)) << "not a whole line of one bar: " << l;
        (l.starts_with("alpha") ? alpha_last : beta_last) = l;
    }
    EXPECT_GE(count, 200u + 2) << "a line per item at least, and each bar's last";
    EXPECT_EQ(out.find('\r'), std::string::npos);
    // The last line of each: complete, with no time left.
    EXPECT_TRUE(alpha_last.starts_with("alpha [########################################] 200/200 100%")) << alpha_last;
    EXPECT_TRUE(beta_last.starts_with("beta [########################################] 200/200 100%")) << beta_last;
    EXPECT_EQ(alpha_last.find('<'), std::string::npos) << alpha_last;
    EXPECT_EQ(beta_last.find('<'), std::string::npos) << beta_last;
}

// Runs `body` with stderr going to a file; returns what was written.
template <class Body>
std::string captured_stderr(Body body) {
    char path[] = "/tmp/fronta-progress-XXXXXX";
    const int fd = mkstemp(path);
    std::fflush(stderr);
    const int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    body();
    std::fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    unlink(path);
    return text.str();
}

TEST(progress, off_a_terminal_it_prints_a_final_line_with_the_count) {
    fronta::thread_pool pool(2);
    std::vector<int> inputs(500, 1);
    long total = 0;
    const std::string out = captured_stderr([&] {
        for (int y : fronta::progress(pool.map([](int x) { return 2 * x; }, inputs), "doubling")) total += y;
    });
    EXPECT_EQ(total, 1000);
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out.find('\r'), std::string::npos) << "no redrawing off a terminal";
    const std::string last = out.substr(out.rfind("doubling"));
    EXPECT_NE(last.find("500"), std::string::npos) << out;
}

TEST(progress, a_sized_range_gives_its_total_and_fronta_progress_0_turns_bars_off) {
    std::vector<int> inputs(40, 1);
    std::string out = captured_stderr([&] {
        for (int x : fronta::progress(inputs, "items")) (void)x;
    });
    EXPECT_NE(out.find("40/40 100%"), std::string::npos) << out;
    setenv("FRONTA_PROGRESS", "0", 1);
    out = captured_stderr([&] {
        for (int x : fronta::progress(inputs, "items")) (void)x;
    });
    unsetenv("FRONTA_PROGRESS");
    EXPECT_EQ(out, "");
}

TEST(progress, map_options_progress_shows_a_bar_for_map_and_map_unordered) {
    fronta::thread_pool pool(2);
    std::vector<int> inputs(300, 1);
    long total = 0;
    std::string out = captured_stderr([&] {
        for (int y : pool.map([](int x) { return x + 1; }, inputs, {.chunk_size = 7, .progress = "adding"})) total += y;
    });
    EXPECT_EQ(total, 600);
    EXPECT_NE(out.find("adding"), std::string::npos) << out;
    EXPECT_NE(out.find("300/300 100%"), std::string::npos) << "the input's size is the total: " << out;
    out = captured_stderr([&] {
        for (int y : pool.map_unordered([](int x) { return x; }, std::views::iota(0, 50), {.progress = "lazy"}))
            (void)y;
    });
    EXPECT_NE(out.find("50/50 100%"), std::string::npos) << out;
    out = captured_stderr([&] {
        try {
            for (int y : pool.map(
                     [](int x) {
                         if (x == 3) throw std::runtime_error("three");
                         return x;
                     },
                     std::vector<int>{1, 2, 3, 4}, {.progress = "failing"}))
                (void)y;
        } catch (const std::runtime_error&) {
        }
    });
    EXPECT_NE(out.find("1 failed"), std::string::npos) << out;
}

TEST(progress, on_a_terminal_it_redraws_one_line_in_place_and_ends_it) {
    int master = -1, slave = -1;
    ASSERT_EQ(openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
    std::fflush(stderr);
    const int saved = dup(STDERR_FILENO);
    dup2(slave, STDERR_FILENO);
    setenv("FRONTA_PROGRESS_INTERVAL_MS", "0", 1);
    std::vector<int> inputs(20, 1);
    for (int x : fronta::progress(inputs, "rows")) (void)x;
    unsetenv("FRONTA_PROGRESS_INTERVAL_MS");
    std::fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(slave);
    std::string out;
    char buffer[4096];
    fcntl(master, F_SETFL, O_NONBLOCK);
    for (ssize_t n; (n = read(master, buffer, sizeof buffer)) > 0;) out.append(buffer, static_cast<std::size_t>(n));
    close(master);
    EXPECT_GE(std::count(out.begin(), out.end(), '\r'), 10) << "redrawn in place";
    EXPECT_NE(out.find("\x1b[K"), std::string::npos) << "the rest of the line cleared";
    EXPECT_NE(out.find("20/20 100%"), std::string::npos);
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << "one line, ended once";
}

TEST(progress, map_reduce_counts_inputs_not_chunks) {
    fronta::thread_pool pool(2);
    long sum = 0;
    std::string out = captured_stderr([&] {
        sum = fronta::map_reduce(pool, [](int x) { return long{x}; }, std::views::iota(0, 1000), std::plus<long>(), 0L,
                                 {.chunk_size = 64, .progress = "folding"});
    });
    EXPECT_EQ(sum, 499500);
    EXPECT_NE(out.find("folding"), std::string::npos) << out;
    EXPECT_NE(out.find("1000/1000 100%"), std::string::npos) << "16 chunks, 1000 inputs: " << out;
    std::vector<int> inputs(1000);
    for (int i = 0; i < 1000; ++i) inputs[static_cast<std::size_t>(i)] = i;
    out = captured_stderr([&] {
        EXPECT_THROW(fronta::map_reduce(pool,
                                        [](int x) {
                                            if (x == 500) throw std::runtime_error("five hundred");
                                            return long{x};
                                        },
                                        inputs, std::plus<long>(), 0L,
                                        {.chunk_size = 100, .max_in_flight = 1, .progress = "failing"}),
                     std::runtime_error);
    });
    EXPECT_NE(out.find("500/1000  50%"), std::string::npos) << "the five chunks before the failure: " << out;
    EXPECT_NE(out.find("1 failed"), std::string::npos) << out;
}

TEST(progress, map_reduce_on_a_terminal_redraws_as_chunks_come_back) {
    fronta::thread_pool pool(2);
    long sum = 0;
    const std::string out = on_a_terminal(60, [&] {
        sum = fronta::map_reduce(pool, [](int x) { return long{x}; }, std::views::iota(0, 640), std::plus<long>(), 0L,
                                 {.chunk_size = 10, .progress = "rows"});
    });
    EXPECT_EQ(sum, 640L * 639 / 2);
    screen terminal(60);
    terminal.apply(out);
    const auto rows = terminal.rows();
    ASSERT_EQ(rows.size(), 1u) << out;
    EXPECT_NE(rows[0].find("640/640 100%"), std::string::npos) << rows[0];
    EXPECT_GE(std::count(out.begin(), out.end(), '\r'), 10) << "a redraw per chunk or so: " << out;
}

}  // namespace
