// when_all, when_any and gather (<fronta/combinators.hpp>): values, move-only values, exceptions
// and cancellation; inputs done before and after; O(n) with many inputs; use with then and
// co_await. Promises complete the inputs, on this thread or on others.

#include "fronta/combinators.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "fronta/thread_pool.hpp"

namespace {

std::vector<fronta::future<int>> futures_of(std::vector<fronta::promise<int>>& promises) {
    std::vector<fronta::future<int>> out;
    for (auto& p : promises) out.push_back(p.get_future());
    return out;
}

TEST(when_all, range_completes_when_the_last_input_does_and_never_fails) {
    std::vector<fronta::promise<int>> promises(3);
    auto all = fronta::when_all(futures_of(promises));
    promises[2].set_value(2);
    promises[0].set_exception(std::make_exception_ptr(std::runtime_error("boom")));
    EXPECT_FALSE(all.done());
    promises[1].set_value(1);
    ASSERT_TRUE(all.done());
    auto done = all.get();
    ASSERT_EQ(done.size(), 3U);
    EXPECT_THROW(done[0].get(), std::runtime_error);
    EXPECT_EQ(done[1].get(), 1);
    EXPECT_EQ(done[2].get(), 2);
}

TEST(when_all, empty_range_and_inputs_already_done_complete_at_once) {
    EXPECT_TRUE(fronta::when_all(std::vector<fronta::future<int>>{}).get().empty());
    fronta::promise<int> p;
    p.set_value(4);
    auto all = fronta::when_all(std::vector{p.get_future(), p.get_future()});
    ASSERT_TRUE(all.done());
    EXPECT_EQ(all.get()[1].get(), 4);
}

TEST(when_all, variadic_gives_a_tuple_of_futures_of_each_type) {
    fronta::promise<int> a;
    fronta::promise<std::string> b;
    fronta::promise<void> c;
    auto all = fronta::when_all(a.get_future(), b.get_future(), c.get_future());
    b.set_value("bee");
    c.set_exception(std::make_exception_ptr(std::logic_error("sea")));
    EXPECT_FALSE(all.done());
    a.set_value(1);
    auto [fa, fb, fc] = all.get();
    EXPECT_EQ(fa.get(), 1);
    EXPECT_EQ(fb.get(), "bee");
    EXPECT_THROW(fc.get(), std::logic_error);
    EXPECT_TRUE(fronta::when_all().done());
}

TEST(when_all, an_empty_future_is_an_error_at_the_call) {
    EXPECT_THROW(fronta::when_all(std::vector<fronta::future<int>>(2)), fronta::invalid_state_error);
    EXPECT_THROW(fronta::when_all(fronta::future<int>(), fronta::future<int>()), fronta::invalid_state_error);
    EXPECT_THROW(fronta::gather(std::vector<fronta::future<int>>(1)), fronta::invalid_state_error);
    EXPECT_THROW(fronta::when_any(std::vector<fronta::future<int>>(1)), fronta::invalid_state_error);
}

TEST(when_any, gives_the_index_of_the_first_done_including_failures_and_cancellation) {
    std::vector<fronta::promise<int>> promises(4);
    auto futures = futures_of(promises);
    auto first = fronta::when_any(futures);
    EXPECT_FALSE(first.done());
    promises[2].set_exception(std::make_exception_ptr(std::runtime_error("x")));
    ASSERT_TRUE(first.done());
    EXPECT_EQ(first.get(), 2U);
    promises[0].set_value(0);  // later completions change nothing
    EXPECT_EQ(first.get(), 2U);

    std::vector<fronta::promise<int>> more(2);
    auto second = futures_of(more);
    auto any = fronta::when_any(second);
    EXPECT_TRUE(second[1].cancel());
    EXPECT_EQ(any.get(), 1U);
}

TEST(when_any, an_input_already_done_wins_in_input_order_and_an_empty_range_is_an_error) {
    std::vector<fronta::promise<int>> promises(3);
    promises[1].set_value(1);
    promises[2].set_value(2);
    EXPECT_EQ(fronta::when_any(futures_of(promises)).get(), 1U);
    EXPECT_THROW(fronta::when_any(std::vector<fronta::future<int>>{}), std::invalid_argument);
}

TEST(gather, values_in_input_order_whatever_the_completion_order) {
    std::vector<fronta::promise<int>> promises(5);
    auto values = fronta::gather(futures_of(promises));
    for (int i : {3, 1, 4, 0, 2}) {
        EXPECT_FALSE(values.done());
        promises[i].set_value(i * 10);
    }
    EXPECT_EQ(values.get(), (std::vector<int>{0, 10, 20, 30, 40}));
    EXPECT_TRUE(fronta::gather(std::vector<fronta::future<int>>{}).get().empty());
}

TEST(gather, fails_at_once_with_the_first_exception) {
    std::vector<fronta::promise<int>> promises(3);
    auto values = fronta::gather(futures_of(promises));
    promises[1].set_exception(std::make_exception_ptr(std::runtime_error("first")));
    ASSERT_TRUE(values.done());  // without waiting for the others
    promises[0].set_exception(std::make_exception_ptr(std::runtime_error("second")));
    promises[2].set_value(2);
    try {
        values.get();
        FAIL() << "expected the first exception";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "first");
    }
}

TEST(gather, a_cancelled_input_fails_it_with_cancelled_error) {
    std::vector<fronta::promise<int>> promises(2);
    auto futures = futures_of(promises);
    auto values = fronta::gather(futures);
    EXPECT_TRUE(futures[0].cancel());
    EXPECT_THROW(values.get(), fronta::cancelled_error);
}

TEST(gather, move_only_values_are_moved_and_void_futures_give_a_future_of_void) {
    std::vector<fronta::promise<std::unique_ptr<int>>> promises(2);
    std::vector<fronta::future<std::unique_ptr<int>>> futures;
    for (auto& p : promises) futures.push_back(p.get_future());
    auto values = fronta::gather(futures);
    promises[1].set_value(std::make_unique<int>(1));
    promises[0].set_value(std::make_unique<int>(0));
    auto got = values.take();  // (a vector of unique_ptr claims to be copyable: get() would not compile)
    EXPECT_EQ(*got[0], 0);
    EXPECT_EQ(*got[1], 1);

    std::vector<fronta::promise<void>> voids(2);
    auto all = fronta::gather(std::vector{voids[0].get_future(), voids[1].get_future()});
    static_assert(std::is_same_v<decltype(all), fronta::future<void>>);
    voids[0].set_value();
    EXPECT_FALSE(all.done());
    voids[1].set_value();
    EXPECT_NO_THROW(all.get());
}

TEST(combinators, compose_with_then_and_co_await) {
    fronta::thread_pool pool(2);
    std::vector<fronta::future<int>> futures;
    for (int i = 1; i <= 100; ++i) futures.push_back(pool.submit([](int x) { return x; }, i));
    auto sum =
        fronta::gather(futures).then([](const std::vector<int>& v) { return std::accumulate(v.begin(), v.end(), 0); });
    EXPECT_EQ(sum.get(), 5050);

    auto coroutine = [&]() -> fronta::future<int> {
        auto values = co_await fronta::gather(futures);
        auto first = co_await fronta::when_any(futures);
        auto all = co_await fronta::when_all(futures);
        co_return values[first] + static_cast<int>(all.size());
    };
    EXPECT_GE(coroutine().get(), 101);
}

TEST(combinators, many_inputs_completed_from_two_threads) {
    // 200,000 inputs: O(n) in total, every value in its place, from whichever thread completes it.
    constexpr int n = 200000;
    std::vector<fronta::promise<int>> promises(n);
    auto futures = futures_of(promises);
    auto values = fronta::gather(futures);
    auto all = fronta::when_all(futures);
    auto first = fronta::when_any(futures);
    std::thread a([&] {
        for (int i = 0; i < n; i += 2) promises[i].set_value(i);
    });
    std::thread b([&] {
        for (int i = 1; i < n; i += 2) promises[i].set_value(i);
    });
    a.join();
    b.join();
    const auto& v = values.get();
    ASSERT_EQ(v.size(), static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) ASSERT_EQ(v[i], i);
    EXPECT_EQ(all.get().size(), static_cast<std::size_t>(n));
    EXPECT_LT(first.get(), static_cast<std::size_t>(n));
}

TEST(combinators, dropping_the_result_before_the_inputs_complete_leaks_nothing) {
    // ASan's leak check: the combinators' state dies with the last input callback.
    std::vector<fronta::promise<int>> promises(10);
    {
        auto values = fronta::gather(futures_of(promises));
        auto all = fronta::when_all(futures_of(promises));
        auto first = fronta::when_any(futures_of(promises));
    }
    for (auto& p : promises) p.set_value(1);
}

}  // namespace
