// wait() for every return_when, with and without timeout (CPython's WaitTests).
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "fronta/promise.hpp"
#include "fronta/wait.hpp"

using namespace std::chrono_literals;
using fronta::return_when;

namespace {

struct futures_fixture {
    std::vector<fronta::promise<int>> promises;
    std::vector<fronta::future<int>> futures;
    explicit futures_fixture(int n) : promises(n) {
        for (auto& p : promises) futures.push_back(p.get_future());
    }
};

bool contains(const std::vector<fronta::future<int>>& v, const fronta::future<int>& f) {
    return std::find(v.begin(), v.end(), f) != v.end();
}

}  // namespace

TEST(wait_all_completed, returns_everything_done_and_same_handles) {
    futures_fixture fx(3);
    std::thread t([&] {
        for (auto& p : fx.promises) p.set_value(1);
    });
    auto [done, not_done] = fronta::wait(fx.futures);
    t.join();
    EXPECT_EQ(done.size(), 3u);
    EXPECT_TRUE(not_done.empty());
    for (auto& f : fx.futures) EXPECT_TRUE(contains(done, f));
}

TEST(wait_all_completed, timeout_returns_partial_split) {
    futures_fixture fx(3);
    fx.promises[1].set_value(1);
    auto result = fronta::wait(fx.futures, 5ms);
    ASSERT_EQ(result.done.size(), 1u);
    EXPECT_EQ(result.done[0], fx.futures[1]);
    EXPECT_EQ(result.not_done.size(), 2u);
}

TEST(wait_first_completed, returns_once_one_completes) {
    futures_fixture fx(3);
    std::thread t([&] { fx.promises[2].set_value(7); });
    auto [done, not_done] = fronta::wait(fx.futures, return_when::first_completed);
    t.join();
    ASSERT_GE(done.size(), 1u);
    EXPECT_TRUE(contains(done, fx.futures[2]));
    EXPECT_EQ(done.size() + not_done.size(), 3u);
}

TEST(wait_first_completed, already_done_returns_immediately) {
    futures_fixture fx(2);
    fx.futures[0].cancel();
    auto [done, not_done] = fronta::wait(fx.futures, return_when::first_completed);
    EXPECT_EQ(done.size(), 1u);
    EXPECT_EQ(not_done.size(), 1u);
}

TEST(wait_first_completed, timeout_with_nothing_done) {
    futures_fixture fx(2);
    auto [done, not_done] = fronta::wait(fx.futures, 2ms, return_when::first_completed);
    EXPECT_TRUE(done.empty());
    EXPECT_EQ(not_done.size(), 2u);
}

TEST(wait_first_exception, returns_on_first_exception) {
    futures_fixture fx(3);
    fx.promises[0].set_value(1);
    std::thread t([&] { fx.promises[1].set_exception(std::make_exception_ptr(std::runtime_error("x"))); });
    auto [done, not_done] = fronta::wait(fx.futures, return_when::first_exception);
    t.join();
    EXPECT_TRUE(contains(done, fx.futures[1]));
    EXPECT_TRUE(contains(not_done, fx.futures[2]));
}

TEST(wait_first_exception, cancellation_is_not_an_exception) {
    futures_fixture fx(2);
    fx.futures[0].cancel();
    auto [done, not_done] = fronta::wait(fx.futures, 3ms, return_when::first_exception);
    EXPECT_EQ(done.size(), 1u);
    EXPECT_EQ(not_done.size(), 1u) << "waited for the timeout, not returned at the cancellation";
}

TEST(wait_first_exception, without_exceptions_waits_for_all) {
    futures_fixture fx(3);
    std::thread t([&] {
        for (auto& p : fx.promises) p.set_value(0);
    });
    auto [done, not_done] = fronta::wait(fx.futures, return_when::first_exception);
    t.join();
    EXPECT_EQ(done.size(), 3u);
    EXPECT_TRUE(not_done.empty());
}

TEST(wait_edge_cases, empty_input_returns_at_once) {
    std::vector<fronta::future<int>> none;
    auto [done, not_done] = fronta::wait(none, return_when::first_completed);
    EXPECT_TRUE(done.empty());
    EXPECT_TRUE(not_done.empty());
}

TEST(wait_edge_cases, empty_future_is_rejected) {
    std::vector<fronta::future<int>> bad(1);
    EXPECT_THROW(fronta::wait(bad), fronta::invalid_state_error);
}

TEST(wait_edge_cases, zero_timeout_polls) {
    futures_fixture fx(2);
    fx.promises[0].set_value(1);
    auto [done, not_done] = fronta::wait(fx.futures, 0s);
    EXPECT_EQ(done.size(), 1u);
    EXPECT_EQ(not_done.size(), 1u);
}

TEST(wait_edge_cases, repeated_polling_does_not_accumulate_waiters) {
    futures_fixture fx(1);
    for (int i = 0; i < 1000; ++i) {
        auto r = fronta::wait(fx.futures, 0ms, return_when::first_completed);
        ASSERT_TRUE(r.done.empty());
        auto r2 = fronta::wait(fx.futures, 1us, return_when::first_completed);
        ASSERT_TRUE(r2.done.empty());
    }
    int calls = 0;
    fx.futures[0].add_done_callback([&](const fronta::future<int>&) { ++calls; });
    fx.promises[0].set_value(1);
    EXPECT_EQ(calls, 1) << "timed-out waits must have unregistered themselves";
}

TEST(wait_scale, a_million_futures_complete_in_linear_time) {
    constexpr int n = 1'000'000;
    std::vector<fronta::promise<int>> promises(n);
    std::vector<fronta::future<int>> futures;
    futures.reserve(n);
    for (auto& p : promises) futures.push_back(p.get_future());
    std::thread producer([&] {
        for (int i = 0; i < n; ++i) promises[i].set_value(i);
    });
    auto [done, not_done] = fronta::wait(futures);
    producer.join();
    EXPECT_EQ(done.size(), static_cast<std::size_t>(n));
    EXPECT_TRUE(not_done.empty());
}
