// process_pool callbacks: done callbacks, continuations and coroutines that wait on their own pool,
// a blocked callback, callback order before shutdown returns, a pool destroyed from its own callback.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fronta/init.hpp"
#include "fronta/process_pool.hpp"
#include "fronta/promise.hpp"
#include "process_helpers.hpp"
#include "remote_functions.hpp"

using namespace std::chrono_literals;

// Callbacks used to run on the dispatcher, the one thread every future of the pool waits for: a
// callback that waited on the pool stalled it forever, destructor included.
TEST(process_pool_callbacks, done_callback_that_waits_on_the_same_pool_gets_its_result) {
    fronta::process_pool pool(1);
    gate g;
    auto held = pool.submit(wait_at_gate, g.path());
    // f completes on the dispatcher, after the callback is added
    auto result = plus_a_square_waited_on_the_pool(pool, pool.submit(square, 3.0));
    g.open();
    EXPECT_EQ(get_or_die(result, "a done callback waiting on its pool"), 25.0);
    EXPECT_EQ(held.get(), 1);
}

TEST(process_pool_callbacks, then_continuation_that_waits_on_the_same_pool_gets_its_result) {
    fronta::process_pool pool(1);
    gate g;
    auto held = pool.submit(wait_at_gate, g.path());
    std::vector<fronta::future<double>> chained;
    for (int i = 0; i < 4; ++i)
        chained.push_back(pool.submit(square, double(i)).then([&pool](double v) {
            return three_squares_waited_on_the_pool(pool, v);
        }));
    g.open();
    for (int i = 0; i < 4; ++i)
        EXPECT_EQ(get_or_die(chained[i], "a continuation waiting on its pool"), 3.0 * i * i * i * i);
}

fronta::future<double> add_squares_of_the_pool(fronta::process_pool& pool, fronta::future<double> first) {
    const double a = co_await first;                // resumed by the pool
    const double b = pool.submit(square, a).get();  // and blocks on it right there
    co_return a + b + co_await pool.submit(square, 1.0);
}

TEST(process_pool_callbacks, coroutine_resumed_by_the_pool_may_wait_on_it) {
    fronta::process_pool pool(1);
    gate g;
    auto held = pool.submit(wait_at_gate, g.path());
    auto result = add_squares_of_the_pool(pool, pool.submit(square, 2.0));
    g.open();
    EXPECT_EQ(get_or_die(result, "a coroutine waiting on its pool"), 4.0 + 16.0 + 1.0);
}

TEST(process_pool_callbacks, a_blocked_callback_stalls_neither_the_pool_nor_other_callbacks) {
    fronta::process_pool pool(1);  // one worker: everything below waits behind the gate
    gate g;
    auto held = pool.submit(wait_at_gate, g.path());
    fronta::promise<void> released;
    fronta::promise<void> blocked_one_returned;
    auto first = pool.submit(square, 1.0);
    first.add_done_callback([&](const fronta::future<double>&) {
        released.get_future().wait();  // until the test has seen the pool work on
        blocked_one_returned.set_value();
    });
    fronta::promise<std::thread::id> other_callback;
    auto second = pool.submit(square, 2.0);
    second.add_done_callback(
        [&](const fronta::future<double>&) { other_callback.set_value(std::this_thread::get_id()); });
    g.open();
    // While the first callback blocks: futures still complete, and other callbacks still run,
    // on a thread that is neither this one nor, obviously, the blocked one.
    EXPECT_EQ(get_or_die(pool.submit(square, 5.0), "a submit while a callback blocks"), 25.0);
    EXPECT_NE(get_or_die(other_callback.get_future(), "a callback while another blocks"), std::this_thread::get_id());
    released.set_value();
    get_or_die(blocked_one_returned.get_future(), "the blocked callback");
}

TEST(process_pool_callbacks, callbacks_of_a_future_run_in_order_before_shutdown_returns) {
    std::vector<int> order;
    std::set<std::thread::id> threads;
    {
        fronta::process_pool pool(1);
        gate g;
        auto held = pool.submit(wait_at_gate, g.path());
        auto f = pool.submit(square, 3.0);
        for (int i = 0; i < 50; ++i)
            f.add_done_callback([&order, &threads, i](const fronta::future<double>&) {
                order.push_back(i);
                threads.insert(std::this_thread::get_id());
            });
        g.open();
        pool.shutdown(true);  // waits for the callbacks too
        ASSERT_EQ(order.size(), 50u);
    }
    for (int i = 0; i < 50; ++i) EXPECT_EQ(order[i], i);
    EXPECT_EQ(threads.size(), 1u);
    EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
}

// Deleting the pool in its own callback destroyed the joinable dispatcher thread on itself.
TEST(process_pool_callbacks, pool_destroyed_from_its_own_callback) {
    for (const bool then : {false, true}) {
        auto* pool = new fronta::process_pool(1);
        const std::vector<int> pids = pool->worker_pids();
        gate g;
        auto held = pool->submit(wait_at_gate, g.path());
        auto f = pool->submit(square, 3.0);
        fronta::promise<double> destroyed;
        fronta::future<double> continuation;
        if (then) {
            continuation = f.then([pool](double v) {
                delete pool;
                return v;
            });
        } else {
            f.add_done_callback([&](const fronta::future<double>& done) {
                const double v = done.get() + pool->submit(square, 1.0).get();  // wait on it first
                delete pool;
                destroyed.set_value(v);
            });
        }
        g.open();
        if (then)
            EXPECT_EQ(get_or_die(continuation, "a continuation that deletes its pool"), 9.0);
        else
            EXPECT_EQ(get_or_die(destroyed.get_future(), "a callback that deletes its pool"), 10.0);
        EXPECT_EQ(held.get(), 1);
        for (int pid : pids)  // the workers were shut down and reaped
            EXPECT_TRUE(eventually([&] { return kill(pid, 0) != 0 && errno == ESRCH; })) << "worker " << pid;
    }
}

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // worker copies of this test binary stay in here
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
