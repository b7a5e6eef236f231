// map_options::progress on a process_pool: map_reduce's bar counts the inputs folded in the worker
// processes, from the chunk sizes the client already knows (nothing extra travels), and its
// failures; map's bar counts the results.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "fronta/executor.hpp"
#include "fronta/init.hpp"
#include "fronta/map_reduce.hpp"
#include "fronta/process_pool.hpp"

namespace {

long as_long(int x) { return x; }
FRONTA_REMOTE(as_long);

long fails_at_500(int x) {
    if (x == 500) throw std::runtime_error("five hundred");
    return x;
}
FRONTA_REMOTE(fails_at_500);

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

std::vector<int> numbers(int n) {
    std::vector<int> out(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) out[static_cast<std::size_t>(i)] = i;
    return out;
}

TEST(progress_on_processes, map_reduce_counts_the_inputs_folded_in_the_workers) {
    fronta::process_pool pool(2);
    long sum = 0;
    const std::string out = captured_stderr([&] {
        sum = fronta::map_reduce(pool, as_long, numbers(1000), std::plus<long>(), 0L,
                                 {.chunk_size = 64, .progress = "folding"});
    });
    EXPECT_EQ(sum, 499500);
    EXPECT_NE(out.find("folding"), std::string::npos) << out;
    EXPECT_NE(out.find("1000/1000 100%"), std::string::npos) << "16 chunks, 1000 inputs: " << out;
}

TEST(progress_on_processes, map_reduce_counts_a_failed_chunk_as_a_failure) {
    fronta::process_pool pool(2);
    const std::string out = captured_stderr([&] {
        EXPECT_THROW(fronta::map_reduce(pool, fails_at_500, numbers(1000), std::plus<long>(), 0L,
                                        {.chunk_size = 100, .max_in_flight = 1, .progress = "failing"}),
                     std::runtime_error);
    });
    EXPECT_NE(out.find("500/1000  50%"), std::string::npos) << "the five chunks before the failure: " << out;
    EXPECT_NE(out.find("1 failed"), std::string::npos) << out;
}

TEST(progress_on_processes, the_type_erased_executor_shows_the_same_bars) {
    fronta::process_pool pool(2);
    fronta::executor ex(pool);
    long sum = 0, mapped = 0;
    const std::string out = captured_stderr([&] {
        sum = fronta::map_reduce(ex, as_long, numbers(300), std::plus<long>(), 0L,
                                 {.chunk_size = 7, .progress = "erased-fold"});
        for (long y : ex.map(as_long, numbers(200), {.chunk_size = 9, .progress = "erased-map"})) mapped += y;
    });
    EXPECT_EQ(sum, 300L * 299 / 2);
    EXPECT_EQ(mapped, 200L * 199 / 2);
    EXPECT_NE(out.find("erased-fold"), std::string::npos) << out;
    EXPECT_NE(out.find("300/300 100%"), std::string::npos) << out;
    EXPECT_NE(out.find("200/200 100%"), std::string::npos) << out;
}

}  // namespace

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // workers are copies of this program
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
