// The sink's registry of tasks waiting for input futures (detail/dataflow.hpp, task_sink in
// detail/task.hpp): shutdown racing the inputs that would queue them, shutdown without waiting,
// and nothing left registered or alive afterwards.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "fronta/errors.hpp"
#include "fronta/executor.hpp"
#include "fronta/promise.hpp"
#include "fronta/thread_pool.hpp"

namespace {

// Counts live copies, so a test sees whether a task's arguments were let go.
struct counted {
    static inline std::atomic<int> alive{0};
    counted() { ++alive; }
    counted(const counted&) { ++alive; }
    counted(counted&&) noexcept { ++alive; }
    ~counted() { --alive; }
};

TEST(waiting_tasks, a_cancelling_shutdown_racing_the_inputs_cancels_or_runs_each_task_once) {
    for (int round = 0; round < 200; ++round) {
        std::atomic<int> ran{0};
        std::vector<fronta::future<int>> out;
        {
            fronta::thread_pool pool(2);
            std::vector<fronta::promise<int>> inputs(20);
            for (auto& p : inputs)
                out.push_back(pool.submit(
                    [&ran](int x, counted) {
                        ++ran;
                        return x;
                    },
                    p.get_future(), counted{}));
            std::thread setter([&inputs] {
                for (int i = 0; i < 20; ++i) inputs[i].set_value(i);
            });
            pool.shutdown(true, true);
            setter.join();
            int cancelled = 0;
            for (auto& f : out) {
                ASSERT_TRUE(f.done()) << "round " << round << ": shutdown(wait=true) left a task pending";
                if (f.cancelled()) ++cancelled;
            }
            EXPECT_EQ(ran.load() + cancelled, 20) << "round " << round;
        }
        out.clear();
        EXPECT_EQ(counted::alive.load(), 0) << "round " << round << ": a task's arguments are still alive";
    }
}

TEST(waiting_tasks, shutdown_without_wait_returns_at_once_and_the_waiting_tasks_still_run) {
    fronta::thread_pool pool(2);
    fronta::promise<int> input;
    auto waiting = pool.submit([](int x) { return x + 1; }, input.get_future());
    auto behind = pool.submit([](int x) { return x * 10; }, waiting);
    pool.shutdown(false);
    EXPECT_THROW(pool.submit([] { return 0; }), fronta::shutdown_error);
    EXPECT_THROW(pool.submit([](int x) { return x; }, waiting), fronta::shutdown_error);
    EXPECT_FALSE(behind.done());
    input.set_value(4);
    EXPECT_EQ(behind.get(), 50) << "pending tasks run after shutdown(wait=false), as in Python";
}

TEST(waiting_tasks, a_waiting_task_holds_its_input_promise_alive_until_it_is_cancelled) {
    counted::alive = 0;
    fronta::promise<int> never;
    {
        fronta::executor ex(fronta::thread_pool(2));
        auto f = ex.submit([](int x, counted) { return x; }, never.get_future(), counted{});
        EXPECT_EQ(counted::alive.load(), 1) << "the waiting task holds its argument";
        ex.shutdown(true, true);
        EXPECT_TRUE(f.cancelled());
    }
    EXPECT_EQ(counted::alive.load(), 0) << "cancelled while its input is pending: nothing kept";
}

TEST(waiting_tasks, a_destroyed_promise_fails_the_waiting_task_with_broken_promise) {
    fronta::thread_pool pool(2);
    fronta::future<int> f;
    {
        fronta::promise<int> dropped;
        f = pool.submit([](int x) { return x; }, dropped.get_future());
    }
    EXPECT_THROW(f.get(), fronta::broken_promise);
}

TEST(waiting_tasks, shutdown_from_inside_a_task_does_not_lose_its_dependents) {
    fronta::thread_pool pool(2);
    fronta::promise<int> go;
    auto first = pool.submit(
        [&pool](int x) {
            pool.shutdown(false);
            return x + 1;
        },
        go.get_future());
    auto second = pool.submit([](int x) { return x + 1; }, first);
    go.set_value(0);
    EXPECT_EQ(second.get(), 2);
}

// shutdown(wait=true) in a done callback used to wait for the tasks waiting for that future,
// whose join comes after it in the same callback list, on the same thread: it never returned.
TEST(waiting_tasks, shutdown_in_a_done_callback_does_not_wait_for_the_callbacks_after_it) {
    fronta::thread_pool pool(2);
    fronta::promise<int> go;
    auto first = pool.submit([](int x) { return x; }, go.get_future());
    std::atomic<bool> returned{false};
    first.add_done_callback([&pool, &returned](const fronta::future<int>&) {
        pool.shutdown(true);
        returned = true;
    });
    auto second = pool.submit([](int x) { return x + 1; }, first);
    go.set_value(1);
    EXPECT_EQ(second.get(std::chrono::seconds(120)), 2) << "the waiting task still runs";
    EXPECT_TRUE(returned.load());
    EXPECT_THROW(pool.submit([] { return 0; }), fronta::shutdown_error);
}

}  // namespace
