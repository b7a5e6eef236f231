// promise<T> across threads: many waiters, racing cancel and set, waking sleepers.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "fronta/promise.hpp"

TEST(promise_threads, many_waiters_all_wake) {
    fronta::promise<int> p;
    auto f = p.get_future();
    std::atomic<int> sum{0};
    std::vector<std::thread> waiters;
    for (int i = 0; i < 8; ++i) waiters.emplace_back([&, f] { sum += f.get(); });
    p.set_value(5);
    for (auto& t : waiters) t.join();
    EXPECT_EQ(sum.load(), 40);
}

TEST(promise_threads, cancel_racing_set_value_has_exactly_one_winner) {
    for (int round = 0; round < 2000; ++round) {
        fronta::promise<int> p;
        auto f = p.get_future();
        std::atomic<bool> set_ok{false};
        std::thread setter([&] {
            try {
                p.set_value(1);
                set_ok = true;
            } catch (const fronta::invalid_state_error&) {
            }
        });
        const bool cancelled = f.cancel();
        setter.join();
        ASSERT_NE(cancelled, set_ok.load()) << "round " << round;
        ASSERT_EQ(f.cancelled(), cancelled);
        if (!cancelled) {
            ASSERT_EQ(f.get(), 1);
        }
    }
}

TEST(promise_threads, set_running_racing_cancel_has_exactly_one_winner) {
    for (int round = 0; round < 2000; ++round) {
        fronta::promise<int> p;
        auto f = p.get_future();
        std::atomic<bool> running{false};
        std::thread worker([&] { running = p.set_running_or_notify_cancel(); });
        const bool cancelled = f.cancel();
        worker.join();
        ASSERT_NE(cancelled, running.load()) << "round " << round;
    }
}

TEST(promise_moves, move_assignment_breaks_the_overwritten_promise) {
    fronta::promise<int> a;
    auto fa = a.get_future();
    fronta::promise<int> b;
    a = std::move(b);
    EXPECT_THROW(fa.get(), fronta::broken_promise);
}

// set_value wakes the waiters, then runs the callbacks: a waiter that destroyed the promise (and
// dropped its handle) as soon as it woke used to free the state under the setter's feet.
TEST(promise_threads, waiter_may_destroy_the_promise_that_woke_it) {
    for (int round = 0; round < 2000; ++round) {
        auto* p = new fronta::promise<int>();
        auto f = p->get_future();
        std::atomic<int> calls{0};
        for (int i = 0; i < 4; ++i) f.add_done_callback([&calls](const fronta::future<int>&) { ++calls; });
        std::thread setter([p] { p->set_value(1); });
        f.wait();
        f = {};
        delete p;
        setter.join();
        ASSERT_EQ(calls.load(), 4);
    }
}
