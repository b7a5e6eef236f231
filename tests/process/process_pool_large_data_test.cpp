// process_pool large data: shared_array (read-only and writable, no copies), large arguments and
// results through shared memory and its reuse, messages over 2 GiB and over the memory limit.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <ranges>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fronta/init.hpp"
#include "fronta/process_pool.hpp"
#include "fronta/remote/serialization.hpp"
#include "fronta/shared_array.hpp"
#include "process_helpers.hpp"
#include "remote_functions.hpp"

using namespace std::chrono_literals;

namespace {

double sum_shared(fronta::shared_array<const double> values, std::size_t from, std::size_t to) {
    double total = 0;
    for (std::size_t i = from; i < to; ++i) total += values[i];
    return total;
}
FRONTA_REMOTE(sum_shared);

void fill_row(fronta::shared_array<double> matrix, std::size_t row, std::size_t width) {
    for (std::size_t i = 0; i < width; ++i) matrix[row * width + i] = double(row * 1000 + i);
}
FRONTA_REMOTE(fill_row);

std::vector<double> reverse_big(std::vector<double> values) {
    std::reverse(values.begin(), values.end());
    return values;
}
FRONTA_REMOTE(reverse_big);

// Item 8: flips the last byte, so a result that came back is told from the argument.
std::vector<char> flip_last(std::vector<char> bytes) {
    if (!bytes.empty()) bytes.back() = static_cast<char>(~bytes.back());
    return bytes;
}
FRONTA_REMOTE(flip_last);

std::size_t byte_count(std::vector<char> bytes) { return bytes.size(); }
FRONTA_REMOTE(byte_count);

// A callable whose state is larger than the room kept before a large message's arguments.
struct prefixer {
    std::string prefix;
    std::size_t operator()(const std::vector<double>& values) const { return prefix.size() + values.size(); }
    template <class Archive>
    void serialize(Archive& archive) {
        archive(prefix);
    }
};

std::size_t available_memory() {
    std::ifstream meminfo("/proc/meminfo");
    for (std::string line; std::getline(meminfo, line);)
        if (line.rfind("MemAvailable:", 0) == 0) return std::stoull(line.substr(13)) * 1024;  // "... kB"
    return 0;
}

// The shared-memory message buffers this process has mapped (its own and its workers').
std::set<std::string> message_buffers() {
    std::ifstream maps("/proc/self/maps");
    std::set<std::string> inodes;
    for (std::string line; std::getline(maps, line);)
        if (line.find("memfd:fronta-message") != std::string::npos) {
            std::istringstream fields(line);
            std::string range, perms, offset, device, inode;
            fields >> range >> perms >> offset >> device >> inode;
            inodes.insert(inode);
        }
    return inodes;
}

}  // namespace

TEST(process_pool_data, read_only_shared_array_reaches_many_tasks_without_copies) {
    std::vector<double> data(1'000'000);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = double(i % 97);
    const auto shared = fronta::shared_array<const double>::copy_of(data);
    const auto fds_before = open_fds();
    std::vector<fronta::future<double>> parts;
    {
        fronta::process_pool pool(2);
        for (std::size_t part = 0; part < 100; ++part)
            parts.push_back(pool.submit(sum_shared, shared, part * 10'000, (part + 1) * 10'000));
        double total = 0;
        for (auto& f : parts) total += f.get();
        double expected = 0;
        for (double v : data) expected += v;
        EXPECT_DOUBLE_EQ(total, expected);
    }
    EXPECT_EQ(open_fds(), fds_before) << "descriptors passed to workers were closed, futures still alive";
}

TEST(process_pool_data, writable_shared_array_shows_what_workers_wrote) {
    constexpr std::size_t rows = 8, width = 1000;
    fronta::shared_array<double> matrix(rows * width);
    fronta::process_pool pool(2);
    std::vector<fronta::future<void>> done;
    for (std::size_t row = 0; row < rows; ++row) done.push_back(pool.submit(fill_row, matrix, row, width));
    for (auto& f : done) f.get();
    for (std::size_t row = 0; row < rows; ++row)
        for (std::size_t i = 0; i < width; i += 111) ASSERT_DOUBLE_EQ(matrix[row * width + i], double(row * 1000 + i));
}

TEST(process_pool_data, writable_shared_array_converts_to_a_read_only_view) {
    constexpr std::size_t n = 1000;
    fronta::shared_array<double> values(n);
    for (std::size_t i = 0; i < n; ++i) values[i] = double(i);
    fronta::shared_array<const double> view = values;
    EXPECT_EQ(view.data(), values.data()) << "the view is the same memory";
    EXPECT_EQ(view.size(), n);
    values[0] = 1000;
    EXPECT_DOUBLE_EQ(view[0], 1000.0);
    const double expected = 1000.0 + double(n * (n - 1) / 2);
    fronta::process_pool pool(1);
    EXPECT_DOUBLE_EQ(pool.submit(sum_shared, view, 0, n).get(), expected);
    EXPECT_DOUBLE_EQ(pool.submit(sum_shared, values, 0, n).get(), expected) << "converted for the parameter";
}

TEST(process_pool_data, large_arguments_and_results_go_through_shared_memory) {
    std::vector<double> big(4'000'000);  // 32 MB, far above the 1 MB threshold
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = double(i);
    fronta::process_pool pool(1);
    const std::vector<double> back = pool.submit(reverse_big, big).get();
    ASSERT_EQ(back.size(), big.size());
    EXPECT_DOUBLE_EQ(back.front(), double(big.size() - 1));
    EXPECT_DOUBLE_EQ(back.back(), 0.0);
}

// Item 9: every large message used to get a new memfd, whose pages were faulted in again and
// copied twice more on each side. Now the same few buffers serve message after message.
TEST(process_pool_data, large_messages_reuse_their_shared_memory) {
    fronta::process_pool pool(1);
    std::vector<double> values(1'000'000, 0.25);  // 8 MB each way
    std::set<std::string> seen;
    for (int i = 0; i < 12; ++i) {
        values[0] = i;
        auto back = pool.submit(reverse_big, values);
        ASSERT_EQ(back.get().size(), values.size());
        EXPECT_EQ(back.get().back(), double(i));
        for (const auto& inode : message_buffers()) seen.insert(inode);
    }
    EXPECT_GE(seen.size(), 1u) << "large messages travel in shared memory";
    EXPECT_LE(seen.size(), 6u) << "a new buffer for each message";
}

TEST(process_pool_data, a_large_callable_state_goes_with_large_arguments) {
    fronta::process_pool pool(1);
    const prefixer f{std::string(100'000, 'p')};  // more than the room before the arguments
    const std::vector<double> values(500'000, 1.0);
    EXPECT_EQ(pool.submit(f, values).get(), 600'000u);
    EXPECT_EQ(pool.submit(f, values).get(), 600'000u) << "and again in the same buffer";
}

// Item 8: messages over 1 GiB failed as if the worker had crashed ("shared payload too large", or
// the worker exiting with code 4), and the task was retried. About 7 GB of memory at the peak.
TEST(process_pool_data, arguments_and_results_over_2_gib) {
    constexpr std::size_t size = 2'200'000'000;
    if (sanitized) GTEST_SKIP() << "too large under sanitizers";
    if (available_memory() < (std::size_t{10} << 30)) GTEST_SKIP() << "needs 10 GiB of free memory";
    fronta::process_pool pool(1);
    auto pattern = [](std::size_t i) { return static_cast<char>('a' + (i >> 20) % 26 + (i & 1)); };  // per MiB
    std::vector<char> big(size);
    for (std::size_t i = 0; i < size; i += 2) {
        big[i] = pattern(i);
        big[i + 1] = pattern(i + 1);
    }
    auto back = pool.submit(flip_last, big);
    std::vector<char>().swap(big);  // serialized at submit: no longer needed here
    const std::vector<char>& got = back.get();
    ASSERT_EQ(got.size(), size);
    for (std::size_t i = 0; i + 1 < size; i += 4093) ASSERT_EQ(got[i], pattern(i)) << "at byte " << i;
    EXPECT_EQ(got[size - 2], pattern(size - 2));
    EXPECT_EQ(got[size - 1], static_cast<char>(~pattern(size - 1)));
}

// A message the worker cannot hold under its memory limit fails that task with an error naming the
// limit; the worker lives on (it used to exit, and the task was retried as if it had crashed).
TEST(process_pool_data, a_message_over_the_memory_limit_names_the_limit) {
    if (sanitized) GTEST_SKIP() << "sanitizers reserve more address space than any RLIMIT_AS allows";
    fronta::process_pool_options options;
    options.workers = 1;
    options.memory_limit = std::size_t{1} << 30;
    fronta::process_pool pool(options);
    const int pid = pool.submit(worker_pid).get();
    try {
        pool.submit(byte_count, std::vector<char>(1'200'000'000)).get();
        FAIL() << "1.2 GB cannot be mapped under a 1 GiB address-space limit";
    } catch (const fronta::worker_died& e) {
        FAIL() << "reported as a crash: " << e.what();
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("memory_limit"), std::string::npos) << e.what();
    }
    EXPECT_EQ(pool.submit(worker_pid).get(), pid) << "the worker lives on";
    EXPECT_EQ(pool.submit(byte_count, std::vector<char>(3'000'000)).get(), 3'000'000u);
}

std::string echo_text(std::string s) { return s; }
FRONTA_REMOTE(echo_text);

// The most inputs read ahead of the results consumed, over 60 results of map(echo_text).
long most_read_ahead(fronta::process_pool& pool, const fronta::map_options& options) {
    std::atomic<long> reads{0};
    auto texts = std::views::iota(0) | std::views::transform([&reads](int) {
                     reads.fetch_add(1);
                     return std::string(100'000, 't');
                 });
    long consumed = 0, most = 0;
    for (const std::string& s : pool.map(echo_text, texts, options)) {
        EXPECT_EQ(s.size(), 100'000u);
        most = std::max(most, reads.load() - ++consumed);
        if (consumed == 60) break;
    }
    return most;
}

TEST(process_pool_data, max_in_flight_bytes_counts_the_serialized_inputs_and_results) {
    fronta::process_pool pool(2);
    EXPECT_GE(most_read_ahead(pool, {.max_in_flight = 32}), 16) << "without a bound";
    // 100 KB each way per chunk: under 250 KB, two chunks besides the one being consumed.
    EXPECT_LE(most_read_ahead(pool, {.max_in_flight = 32, .max_in_flight_bytes = 250'000}), 3);
}

TEST(process_pool_data, shared_array_copies_its_contents_where_descriptors_cannot_go) {
    auto original = fronta::shared_array<const int>::copy_of(std::vector<int>{1, 2, 3});
    const std::string bytes = fronta::remote::to_bytes(original);  // no attachment scope: by value
    auto copy = fronta::remote::from_bytes<fronta::shared_array<const int>>(bytes);
    ASSERT_EQ(copy.size(), 3u);
    EXPECT_EQ(copy[2], 3);
    EXPECT_NE(copy.data(), original.data());
}

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // worker copies of this test binary stay in here
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
