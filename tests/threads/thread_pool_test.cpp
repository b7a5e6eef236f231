// thread_pool: what the executor contract (tests/contract/) does not cover: its own exception
// types, states under a real pool, shutdown semantics of threads, no self-deadlock, options.
#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fronta/as_completed.hpp"
#include "fronta/promise.hpp"
#include "fronta/thread_pool.hpp"
#include "fronta/wait.hpp"

// Threads need no serialization: the core and the thread pool compile without cereal.
#ifdef CEREAL_CEREAL_HPP_
#error "fronta/thread_pool.hpp (or a header it includes) pulls in cereal"
#endif

using namespace std::chrono_literals;

namespace {

struct custom_error : std::logic_error {
    using std::logic_error::logic_error;
};

// Blocks a worker until released; `started` tells when the task is running.
struct gate {
    fronta::promise<void> release_promise;
    fronta::future<void> released = release_promise.get_future();
    fronta::promise<void> started_promise;
    fronta::future<void> started = started_promise.get_future();
    void release() { release_promise.set_value(); }
    auto task() {
        return [this] {
            started_promise.set_value();
            released.get();
        };
    }
};

// A regression of the deadlock tests would hang the pool, destructor included: end the test
// process with a failure instead (CTest runs each test in a process of its own).
template <class T>
decltype(auto) get_or_die(const fronta::future<T>& f, const char* what) {
    if (!f.wait_for(120s)) {
        std::fprintf(stderr, "FAILED: %s: no result within 120 s; the pool is deadlocked\n", what);
        std::fflush(stderr);
        std::_Exit(3);
    }
    return f.get();
}

// Waits on a task of its own pool `depth` levels deep, by `get` or by `as_completed`.
int nested_waits(fronta::thread_pool& pool, int depth) {
    if (depth == 0) return 0;
    auto inner = pool.submit([&pool, depth] { return nested_waits(pool, depth - 1); });
    if (depth % 2 == 0) return inner.get() + 1;
    int result = 0;
    for (const auto& f : fronta::as_completed(std::vector{inner})) result = f.get() + 1;
    return result;
}

}  // namespace

TEST(thread_pool_submit, rethrows_user_exception_type) {
    fronta::thread_pool pool(2);
    auto f = pool.submit([]() -> int { throw custom_error("bad input"); });
    EXPECT_THROW(f.get(), custom_error);
    try {
        f.get();
    } catch (const custom_error& e) {
        EXPECT_STREQ(e.what(), "bad input");
    }
}

TEST(thread_pool_states, running_task_reports_running_and_refuses_cancel) {
    fronta::thread_pool pool(1);
    gate g;
    auto f = pool.submit(g.task());
    g.started.get();
    EXPECT_TRUE(f.running());
    EXPECT_FALSE(f.cancel());
    g.release();
    f.get();
    EXPECT_TRUE(f.done());
    EXPECT_FALSE(f.running());
}

TEST(thread_pool_states, queued_task_can_be_cancelled_and_never_runs) {
    fronta::thread_pool pool(1);
    gate g;
    auto blocker = pool.submit(g.task());
    g.started.get();
    std::atomic<bool> ran{false};
    auto queued = pool.submit([&] { ran = true; });
    EXPECT_FALSE(queued.running());
    EXPECT_TRUE(queued.cancel());
    g.release();
    pool.shutdown();
    EXPECT_TRUE(queued.cancelled());
    EXPECT_FALSE(ran.load());
    EXPECT_THROW(queued.get(), fronta::cancelled_error);
}

TEST(thread_pool_shutdown, cancel_futures_cancels_pending_only) {
    fronta::thread_pool pool(1);
    gate g;
    auto running = pool.submit(g.task());
    g.started.get();
    std::vector<fronta::future<void>> queued;
    for (int i = 0; i < 10; ++i) queued.push_back(pool.submit([] {}));
    pool.shutdown(false, true);
    for (auto& f : queued) EXPECT_TRUE(f.cancelled());
    EXPECT_FALSE(running.done());
    g.release();
    running.get();
    pool.shutdown(true);
}

TEST(thread_pool_shutdown, wait_false_returns_while_tasks_still_run) {
    fronta::thread_pool pool(1);
    gate g;
    auto f = pool.submit(g.task());
    g.started.get();
    pool.shutdown(false);  // must not block on the gated task
    EXPECT_FALSE(f.done());
    g.release();
    f.get();
}

TEST(thread_pool_shutdown, destructor_waits_for_queued_tasks) {
    std::atomic<int> count{0};
    {
        fronta::thread_pool pool(2);
        for (int i = 0; i < 500; ++i) pool.submit([&] { ++count; });
    }
    EXPECT_EQ(count.load(), 500);
}

TEST(thread_pool_shutdown, shutdown_from_inside_a_task) {
    fronta::thread_pool pool(2);
    auto f = pool.submit([&pool] { pool.shutdown(false); });
    f.get();
    EXPECT_THROW(pool.submit([] {}), fronta::shutdown_error);
}

TEST(thread_pool_deadlock, task_waiting_on_its_own_pool_with_one_worker) {
    fronta::thread_pool pool(1);
    auto outer = pool.submit([&pool] {
        auto inner = pool.submit([] { return 20; });
        return inner.get() + 1;
    });
    EXPECT_EQ(outer.get(), 21);
}

TEST(thread_pool_deadlock, task_blocked_before_its_dependency_is_submitted) {
    fronta::thread_pool pool(1);
    fronta::promise<fronta::future<int>> handoff;
    auto handoff_future = handoff.get_future();
    fronta::promise<void> started;
    auto started_future = started.get_future();
    auto outer = pool.submit([&] {
        started.set_value();
        fronta::future<int> inner = handoff_future.get();  // blocks: the only worker waits
        return inner.get() * 2;
    });
    started_future.get();
    handoff.set_value(pool.submit([] { return 21; }));  // queued behind a blocked worker
    EXPECT_EQ(outer.get(), 42);
}

TEST(thread_pool_deadlock, recursive_fan_out_with_wait_and_as_completed) {
    fronta::thread_pool pool(1);
    auto root = pool.submit([&pool] {
        std::vector<fronta::future<int>> children;
        for (int i = 0; i < 4; ++i)
            children.push_back(pool.submit([&pool, i] {
                auto leaf = pool.submit([i] { return i; });
                return leaf.get();
            }));
        fronta::wait(children);
        int sum = 0;
        for (const auto& f : fronta::as_completed(children)) sum += f.get();
        return sum;
    });
    EXPECT_EQ(root.get(), 6);
}

// Past 256 stand-ins a blocked worker used to wait for a free one that never came: nested waits
// deeper than that hung a pool of one thread. Now the waiter runs the queued work itself.
TEST(thread_pool_deadlock, nested_waits_deeper_than_the_stand_in_cap_complete) {
    fronta::thread_pool pool(1);
    auto root = pool.submit([&pool] { return nested_waits(pool, 1000); });
    EXPECT_EQ(get_or_die(root, "1000 nested waits"), 1000);
    // And again, with the stand-ins of the first run parked.
    root = pool.submit([&pool] { return nested_waits(pool, 600); });
    EXPECT_EQ(get_or_die(root, "600 nested waits"), 600);
}

TEST(thread_pool_deadlock, task_submitted_while_every_thread_waits_past_the_cap_still_runs) {
    fronta::thread_pool pool(1);
    fronta::promise<void> release;
    auto released = release.get_future();
    constexpr int blocked = 300;  // more than 1 worker + 256 stand-ins
    std::atomic<int> started{0};
    fronta::promise<void> all_started;
    std::vector<fronta::future<void>> waiting;
    for (int i = 0; i < blocked; ++i)
        waiting.push_back(pool.submit([&] {
            if (started.fetch_add(1) + 1 == 257) all_started.set_value();
            released.wait();
        }));
    // Every thread the pool may have now waits, the last one helping: a new task wakes it.
    get_or_die(all_started.get_future(), "the first 257 blocked tasks");
    EXPECT_EQ(get_or_die(pool.submit([] { return 42; }), "a task submitted past the cap"), 42);
    release.set_value();
    for (auto& f : waiting) get_or_die(f, "the blocked tasks");
    EXPECT_EQ(started.load(), blocked);
}

TEST(thread_pool_options, initializer_runs_on_every_worker) {
    std::atomic<int> initialized{0};
    {
        fronta::thread_pool_options options;
        options.workers = 3;
        options.initializer = [&] { ++initialized; };
        fronta::thread_pool pool(options);
        pool.submit([] {}).get();
    }
    EXPECT_EQ(initialized.load(), 3);
}

TEST(thread_pool_options, failing_initializer_breaks_the_pool) {
    fronta::thread_pool_options options;
    options.workers = 1;
    options.initializer = [] { throw std::runtime_error("no database"); };
    fronta::thread_pool pool(options);
    bool saw_broken = false;
    try {
        auto f = pool.submit([] { return 1; });
        f.get();
    } catch (const fronta::broken_executor& e) {
        saw_broken = true;
        EXPECT_NE(std::string(e.what()).find("no database"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(saw_broken);
}

TEST(thread_pool_options, workers_carry_the_name_prefix) {
    fronta::thread_pool_options options;
    options.workers = 1;
    options.thread_name_prefix = "crunch";
    fronta::thread_pool pool(options);
    auto name = pool.submit([] {
        char buffer[32] = {};
        pthread_getname_np(pthread_self(), buffer, sizeof buffer);
        return std::string(buffer);
    });
    EXPECT_EQ(name.get(), "crunch-0");
}

TEST(thread_pool_options, zero_workers_is_an_error_and_default_uses_hardware) {
    EXPECT_THROW(fronta::thread_pool(0), std::invalid_argument);
    fronta::thread_pool pool;
    EXPECT_EQ(pool.size(), std::max(1u, std::thread::hardware_concurrency()));
}

TEST(thread_pool_callbacks, throwing_callback_does_not_break_the_pool) {
    std::atomic<int> reported{0};
    fronta::set_callback_error_handler([&](std::exception_ptr) { ++reported; });
    {
        fronta::thread_pool pool(1);
        auto f = pool.submit([] { return 1; });
        f.add_done_callback([](const fronta::future<int>&) { throw std::runtime_error("oops"); });
        f.get();
        EXPECT_EQ(pool.submit([] { return 2; }).get(), 2);
    }
    fronta::set_callback_error_handler(nullptr);
    EXPECT_EQ(reported.load(), 1);
}

TEST(thread_pool_moves, moved_from_pool_is_empty_and_says_so) {
    fronta::thread_pool a(1);
    fronta::thread_pool b(std::move(a));
    EXPECT_EQ(b.submit([] { return 3; }).get(), 3);
    EXPECT_THROW(a.submit([] {}), fronta::invalid_state_error);  // NOLINT(bugprone-use-after-move)
}
