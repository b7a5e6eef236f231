// map and map_unordered on local executors: what the executor contract (tests/contract/) does not
// cover: order when later items finish first, laziness, timeouts, abandoned iteration, move-only results.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fronta/inline_executor.hpp"
#include "fronta/map_reduce.hpp"
#include "fronta/promise.hpp"
#include "fronta/size_estimate.hpp"
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

TEST(map_errors, a_map_reduce_timeout_names_map_reduce) {
    fronta::thread_pool pool(1);
    fronta::promise<void> release;
    auto released = release.get_future();
    try {
        fronta::map_reduce(pool,
                           [released](int x) {
                               released.get();
                               return x;
                           },
                           std::vector<int>{1}, std::plus<int>(), 0, {.timeout = 5ms});
        ADD_FAILURE() << "expected a timeout_error";
    } catch (const fronta::timeout_error& e) {
        EXPECT_EQ(std::string(e.what()).rfind("map_reduce(): ", 0), 0u) << e.what();
    }
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

namespace {

// A map over inputs of `in` bytes each giving results of `out` bytes, that tracks what is held:
// inputs read and not yet processed, results made and not yet consumed.
struct byte_tracker {
    std::atomic<long> reads{0}, finished{0}, running{0}, most_running{0};
    long consumed = 0, most_ahead = 0;  // inputs read ahead of the results consumed
    std::size_t in, out;
    byte_tracker(std::size_t in_bytes, std::size_t out_bytes) : in(in_bytes), out(out_bytes) {}

    auto inputs() {
        return std::views::iota(0L) | std::views::transform([this](long) {
                   reads.fetch_add(1);
                   return std::vector<char>(in, 'x');
               });
    }
    auto function() {
        return [this](std::vector<char>) {
            const long now = running.fetch_add(1) + 1;
            for (long seen = most_running.load(); now > seen && !most_running.compare_exchange_weak(seen, now);) {
            }
            std::string result(out, 'y');
            finished.fetch_add(1);
            running.fetch_sub(1);
            return result;
        };
    }
    std::size_t held() const {
        const long r = reads.load(), f = finished.load();
        return static_cast<std::size_t>(r - f) * in + static_cast<std::size_t>(f - consumed) * out;
    }
    // The most held over `n` results (after the first `skip`) of map with `options`.
    template <class Executor>
    std::size_t peak(Executor& ex, long n, const fronta::map_options& options, long skip = 0) {
        std::size_t most = 0;
        for (const auto& result : ex.map(function(), inputs(), options)) {
            EXPECT_EQ(result.size(), out);
            if (++consumed > skip) {
                most = std::max(most, held());
                most_ahead = std::max(most_ahead, reads.load() - consumed);
            }
            if (consumed == n) break;
        }
        return most;
    }
};

struct image {
    std::size_t pixels = 0;
};

}  // namespace

template <>
struct fronta::size_estimator<image> {
    std::size_t operator()(const image& im) const { return sizeof im + im.pixels * 4; }
};

// Trackers are declared before the pool: chunks still running when an iteration stops use them
// until the pool's destructor has waited for them.
TEST(map_bytes, reading_waits_while_inputs_and_results_exceed_the_bound) {
    byte_tracker unbounded(1000, 1000), bounded(1000, 1000), bounded_inline(1000, 1000);
    fronta::thread_pool pool(2);
    fronta::inline_executor inline_ex;
    EXPECT_GE(unbounded.peak(pool, 200, {.max_in_flight = 64}), 20'000u) << "without a bound";
    // The bound, plus one chunk's inputs and results.
    EXPECT_LE(bounded.peak(pool, 200, {.max_in_flight = 64, .max_in_flight_bytes = 3500}), 3500u + 2000);
    EXPECT_LE(bounded_inline.peak(inline_ex, 200, {.max_in_flight = 64, .max_in_flight_bytes = 3500}), 3500u + 2000);
}

TEST(map_bytes, results_count_as_well_as_inputs) {
    byte_tracker unbounded(1, 10'000), bounded(1, 10'000);
    fronta::thread_pool pool(2);
    // Until results are known, chunks count by their inputs (up to max_in_flight of them); from
    // then on, by what earlier chunks gave.
    unbounded.peak(pool, 200, {.max_in_flight = 64}, 70);
    EXPECT_GE(unbounded.most_ahead, 32) << "without a bound, max_in_flight chunks are read ahead";
    EXPECT_LE(bounded.peak(pool, 200, {.max_in_flight = 64, .max_in_flight_bytes = 25'000}, 70), 25'000u + 10'001);
}

TEST(map_bytes, a_chunk_larger_than_the_bound_runs_alone) {
    byte_tracker big(100'000, 8), unordered(100'000, 8);
    fronta::thread_pool pool(2);
    big.peak(pool, 50, {.max_in_flight = 16, .max_in_flight_bytes = 1000});
    EXPECT_EQ(big.most_running.load(), 1) << "one chunk at a time, and every chunk ran";
    EXPECT_EQ(big.consumed, 50);
    long total = 0;
    for (const auto& r : pool.map_unordered(unordered.function(), unordered.inputs() | std::views::take(30),
                                            {.max_in_flight = 16, .max_in_flight_bytes = 1000}))
        total += static_cast<long>(r.size());
    EXPECT_EQ(total, 30 * 8) << "map_unordered goes on to the end";
    EXPECT_EQ(unordered.most_running.load(), 1);
}

TEST(map_bytes, a_user_estimate_is_used_for_a_type_of_its_own) {
    std::atomic<long> reads{0}, finished{0};
    fronta::thread_pool pool(2);
    auto images = std::views::iota(0L) | std::views::transform([&reads](long) {
                      reads.fetch_add(1);
                      return image{1'000'000};
                  });
    long consumed = 0, most = 0;
    for (std::size_t p : pool.map(
             [&finished](image im) {
                 finished.fetch_add(1);
                 return im.pixels;
             },
             images, {.max_in_flight = 64, .max_in_flight_bytes = 8'000'000})) {
        EXPECT_EQ(p, 1'000'000u);
        most = std::max(most, reads.load() - finished.load());
        if (++consumed == 100) break;
    }
    EXPECT_LE(most, 2) << "4 MB per image by its estimate: at most two waiting under 8 MB";
}

TEST(map_bytes, zero_is_an_error) {
    fronta::thread_pool pool(1);
    EXPECT_THROW(pool.map([](int x) { return x; }, std::vector<int>{1}, {.max_in_flight_bytes = 0}),
                 std::invalid_argument);
}

TEST(size_estimate, counts_what_a_value_owns) {
    EXPECT_EQ(fronta::size_estimate(std::vector<int>(10)), sizeof(std::vector<int>) + 40);
    EXPECT_EQ(fronta::size_estimate(std::string(100, 'a')), sizeof(std::string) + 100);
    EXPECT_EQ(fronta::size_estimate(std::vector<std::string>(2, std::string(50, 'a'))),
              sizeof(std::vector<std::string>) + 2 * (sizeof(std::string) + 50));
    EXPECT_EQ(fronta::size_estimate(std::pair<int, std::string>(1, std::string(30, 'a'))),
              sizeof(std::pair<int, std::string>) + 30);
    EXPECT_EQ(fronta::size_estimate(std::make_unique<std::vector<char>>(7)),
              sizeof(std::unique_ptr<int>) + sizeof(std::vector<char>) + 7);
    EXPECT_EQ(fronta::size_estimate(std::optional<std::string>()), sizeof(std::optional<std::string>));
    const std::string text(1000, 'a');
    EXPECT_EQ(fronta::size_estimate(std::string_view(text)), sizeof(std::string_view)) << "a view owns nothing";
    EXPECT_EQ(fronta::size_estimate(3.0), sizeof(double));
}
