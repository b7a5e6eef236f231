// map and map_unordered on local executors: what the executor contract (tests/contract/) does not
// cover: order when later items finish first, laziness, timeouts, abandoned iteration, move-only results.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <numeric>
#include <ranges>
#include <stdexcept>
#include <vector>

#include "fronta/inline_executor.hpp"
#include "fronta/promise.hpp"
#include "fronta/thread_pool.hpp"

using namespace std::chrono_literals;

namespace {

// An input range that counts how many elements were read from it.
auto counted_iota(std::atomic<long>& reads) {
    return std::views::iota(0L) | std::views::transform([&reads](long i) {
               reads.fetch_add(1);
               return i;
           });
}

struct item_error : std::runtime_error {
    explicit item_error(int i) : std::runtime_error("item " + std::to_string(i)), item(i) {}
    int item;
};

}  // namespace

TEST(map_order, in_order_even_when_later_items_finish_first) {
    fronta::thread_pool pool(2);
    fronta::promise<void> release;
    auto released = release.get_future();
    std::vector<int> inputs{0, 1, 2};
    auto results = pool.map(
        [released](int x) {
            if (x == 0) released.get();  // item 0 finishes last
            return x;
        },
        inputs);
    std::thread t([&] { release.set_value(); });
    std::vector<int> out;
    for (int y : results) out.push_back(y);
    t.join();
    EXPECT_EQ(out, (std::vector<int>{0, 1, 2}));
}

TEST(map_lazy, reads_inputs_only_as_results_are_consumed) {
    fronta::inline_executor ex;
    std::atomic<long> reads{0};
    auto results = ex.map([](long x) { return x + 1; }, counted_iota(reads), {.chunk_size = 3, .max_in_flight = 2});
    EXPECT_EQ(reads.load(), 6) << "the window: 2 chunks of 3";
    auto it = results.begin();
    EXPECT_EQ(*it, 1);
    EXPECT_EQ(reads.load(), 9) << "one chunk consumed starts one more";
    ++it;
    ++it;
    EXPECT_EQ(*it, 3);
    EXPECT_EQ(reads.load(), 9) << "still inside the first chunk";
}

TEST(map_lazy, infinite_input_runs_in_flat_memory) {
    fronta::thread_pool pool(2);
    std::atomic<long> reads{0};
    long consumed = 0;
    for (long y : pool.map([](long x) { return 2 * x; }, counted_iota(reads), {.chunk_size = 16, .max_in_flight = 4})) {
        ASSERT_EQ(y, 2 * consumed);
        ++consumed;
        // Never more than the window (4 chunks of 16) plus the chunk being read ahead of us.
        ASSERT_LE(reads.load(), consumed + 5 * 16);
        if (consumed == 200'000) break;
    }
    EXPECT_EQ(consumed, 200'000);
}

TEST(map_errors, timeout_throws_timeout_error) {
    fronta::thread_pool pool(1);
    fronta::promise<void> release;
    auto released = release.get_future();
    std::vector<int> inputs{1};
    auto results = pool.map(
        [released](int x) {
            released.get();
            return x;
        },
        inputs, {.timeout = 5ms});
    EXPECT_THROW(results.begin(), fronta::timeout_error);
    release.set_value();
}

TEST(map_errors, abandoning_iteration_cancels_queued_chunks) {
    fronta::thread_pool pool(1);
    std::atomic<int> calls{0};
    std::vector<int> inputs(100, 1);
    {
        auto results = pool.map(
            [&](int x) {
                ++calls;
                return x;
            },
            inputs, {.max_in_flight = 50});
        EXPECT_EQ(*results.begin(), 1);
    }
    pool.shutdown();
    EXPECT_LT(calls.load(), 100) << "chunks beyond those started were cancelled";
}

TEST(map_values, empty_input_and_move_only_results) {
    fronta::thread_pool pool(2);
    std::vector<int> none;
    int count = 0;
    for (int y : pool.map([](int x) { return x; }, none)) count += y + 1;
    EXPECT_EQ(count, 0);
    std::vector<int> inputs{1, 2, 3};
    int total = 0;
    for (auto& p : pool.map([](int x) { return std::make_unique<int>(x); }, inputs)) {
        std::unique_ptr<int> owned = std::move(p);
        total += *owned;
    }
    EXPECT_EQ(total, 6);
}

TEST(map_unordered, yields_in_completion_order) {
    fronta::thread_pool pool(2);
    fronta::promise<void> release;
    auto released = release.get_future();
    std::vector<int> inputs{0, 1};
    auto results = pool.map_unordered(
        [released](int x) {
            if (x == 0) released.get();
            return x;
        },
        inputs);
    auto it = results.begin();
    EXPECT_EQ(*it, 1) << "item 1 finished first";
    release.set_value();
    ++it;
    EXPECT_EQ(*it, 0);
    ++it;
    EXPECT_EQ(it, results.end());
}

TEST(map_unordered, exception_ends_iteration) {
    fronta::inline_executor ex;
    std::vector<int> inputs{1, 2, 3};
    auto results = ex.map_unordered(
        [](int x) {
            if (x == 2) throw item_error(x);
            return x;
        },
        inputs);
    auto it = results.begin();
    EXPECT_EQ(*it, 1);
    EXPECT_THROW(++it, item_error);
    EXPECT_EQ(it, results.end());
}
