// Progress bars: the text of a line, and what a bar writes where stderr is a file or a pipe.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <ranges>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

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

}  // namespace
