// as_completed(): order, already-done first, timeout (CPython's AsCompletedTests).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "fronta/as_completed.hpp"
#include "fronta/promise.hpp"

using namespace std::chrono_literals;

TEST(as_completed_order, done_first_then_in_completion_order) {
    std::vector<fronta::promise<int>> promises(4);
    std::vector<fronta::future<int>> futures;
    for (auto& p : promises) futures.push_back(p.get_future());
    promises[2].set_value(2);
    auto range = fronta::as_completed(futures);
    auto it = range.begin();
    ASSERT_NE(it, range.end());
    EXPECT_EQ(*it, futures[2]) << "already-done futures come first";
    // Complete the rest in a chosen order, one at a time, each after the previous was seen.
    const int order[] = {3, 0, 1};
    for (int index : order) {
        std::thread t([&, index] { promises[index].set_value(index); });
        ++it;
        ASSERT_NE(it, range.end());
        EXPECT_EQ(*it, futures[index]);
        EXPECT_EQ(it->get(), index);
        t.join();
    }
    ++it;
    EXPECT_EQ(it, range.end());
}

TEST(as_completed_order, yields_every_future_including_cancelled_and_failed) {
    std::vector<fronta::promise<int>> promises(3);
    std::vector<fronta::future<int>> futures;
    for (auto& p : promises) futures.push_back(p.get_future());
    std::thread t([&] {
        promises[0].set_value(1);
        futures[1].cancel();
        promises[2].set_exception(std::make_exception_ptr(std::runtime_error("x")));
    });
    int count = 0;
    for (const auto& f : fronta::as_completed(futures)) {
        EXPECT_TRUE(f.done());
        ++count;
    }
    t.join();
    EXPECT_EQ(count, 3);
}

TEST(as_completed_timeout, throws_timeout_error_with_futures_left) {
    std::vector<fronta::promise<int>> promises(2);
    std::vector<fronta::future<int>> futures;
    for (auto& p : promises) futures.push_back(p.get_future());
    promises[0].set_value(1);
    int seen = 0;
    try {
        for (const auto& f : fronta::as_completed(futures, 5ms)) {
            EXPECT_EQ(f, futures[0]);
            ++seen;
        }
        FAIL() << "expected timeout_error";
    } catch (const fronta::timeout_error& e) {
        EXPECT_NE(std::string(e.what()).find("1 of 2"), std::string::npos) << e.what();
    }
    EXPECT_EQ(seen, 1);
}

TEST(as_completed_timeout, all_done_before_timeout_does_not_throw) {
    std::vector<fronta::promise<int>> promises(2);
    std::vector<fronta::future<int>> futures;
    for (auto& p : promises) {
        futures.push_back(p.get_future());
        p.set_value(0);
    }
    int count = 0;
    for (const auto& f : fronta::as_completed(futures, 0s)) count += f.done();
    EXPECT_EQ(count, 2);
}

TEST(as_completed_lifetime, abandoning_iteration_unregisters_cleanly) {
    std::vector<fronta::promise<int>> promises(3);
    std::vector<fronta::future<int>> futures;
    for (auto& p : promises) futures.push_back(p.get_future());
    promises[0].set_value(0);
    {
        auto range = fronta::as_completed(futures);
        EXPECT_EQ(*range.begin(), futures[0]);
    }
    promises[1].set_value(1);  // would touch freed memory if the waiter were still registered
    promises[2].set_value(2);
    EXPECT_EQ(futures[2].get(), 2);
}

TEST(as_completed_scale, a_million_futures) {
    constexpr int n = 1'000'000;
    std::vector<fronta::promise<int>> promises(n);
    std::vector<fronta::future<int>> futures;
    futures.reserve(n);
    for (auto& p : promises) futures.push_back(p.get_future());
    for (int i = 0; i < n; i += 2) promises[i].set_value(i);  // half already done
    std::thread producer([&] {
        for (int i = 1; i < n; i += 2) promises[i].set_value(i);
    });
    long long sum = 0;
    std::size_t count = 0;
    for (const auto& f : fronta::as_completed(futures)) {
        sum += f.get();
        ++count;
    }
    producer.join();
    EXPECT_EQ(count, static_cast<std::size_t>(n));
    EXPECT_EQ(sum, static_cast<long long>(n) * (n - 1) / 2);
}
