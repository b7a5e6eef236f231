// fronta futures inside standalone Asio (<fronta/asio.hpp>): async_get with every completion token,
// run_in_executor, cancellation through Asio, futures of every in-process executor and of a
// process_pool, many waits at once, an io_context destroyed with waits pending, and the other
// direction (an Asio operation as a fronta::future through fronta::asio::use_future).
//
// No sleeps: tasks that must stay pending wait on a gate the test opens; the io_context runs until
// its work is done, inside a child-free `run_for` bound that fails the test instead of hanging.

#include <gtest/gtest.h>

#include <algorithm>
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/experimental/promise.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "bridge_test_support.hpp"
#include "fronta/asio.hpp"
#include "fronta/executor.hpp"
#include "fronta/init.hpp"
#include "fronta/inline_executor.hpp"
#include "fronta/process_pool.hpp"
#include "fronta/promise.hpp"
#include "fronta/thread_pool.hpp"

namespace {

using namespace std::chrono_literals;
using ::asio::awaitable;
using ::asio::use_awaitable;
using namespace ::asio::experimental::awaitable_operators;

using fronta::test::counted;
using fronta::test::gate;
using fronta::test::run_all;

int square(int x) { return x * x; }
FRONTA_REMOTE(square);

int fail_with(int x) { throw std::runtime_error("task failed with " + std::to_string(x)); }
FRONTA_REMOTE(fail_with);

int die_now(int) {
    std::raise(SIGKILL);
    return 0;
}
FRONTA_REMOTE(die_now);

std::unique_ptr<int> boxed(int x) { return std::make_unique<int>(x); }

// A system_error of asio::error::operation_aborted, as a cancelled wait completes with.
bool is_operation_aborted(const std::exception_ptr& error) {
    try {
        if (error) std::rethrow_exception(error);
    } catch (const std::system_error& e) {
        return e.code() == ::asio::error::operation_aborted;
    } catch (...) {
    }
    return false;
}

std::string message_of(const std::exception_ptr& error) {
    try {
        if (error) std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

// --- every completion token ------------------------------------------------------------------

TEST(asio_async_get, callback_bound_to_the_io_context_runs_on_its_thread_with_the_value) {
    fronta::thread_pool pool(2);
    ::asio::io_context io;
    std::thread::id worker, handler_thread;
    int got = 0;
    auto f = pool.submit([&] {
        worker = std::this_thread::get_id();
        return square(7);
    });
    fronta::asio::async_get(f, ::asio::bind_executor(io, [&](std::exception_ptr e, int v) {
                                EXPECT_FALSE(e);
                                got = v;
                                handler_thread = std::this_thread::get_id();
                            }));
    run_all(io);
    EXPECT_EQ(got, 49);
    EXPECT_EQ(handler_thread, std::this_thread::get_id());  // the thread that ran io.run
    EXPECT_NE(handler_thread, worker);
}

TEST(asio_async_get, never_runs_the_handler_inside_async_get_even_when_the_future_is_done) {
    fronta::inline_executor inline_ex;
    ::asio::io_context io;
    auto f = inline_ex.submit(square, 3);
    ASSERT_TRUE(f.done());
    bool ran = false;
    fronta::asio::async_get(f, ::asio::bind_executor(io, [&](std::exception_ptr, int) { ran = true; }));
    EXPECT_FALSE(ran);  // posted, as Asio's rules want, not called in the initiating function
    run_all(io);
    EXPECT_TRUE(ran);
}

TEST(asio_async_get, callback_gets_the_exception_as_the_first_argument) {
    fronta::thread_pool pool(1);
    ::asio::io_context io;
    std::exception_ptr error;
    int value = -1;
    fronta::asio::async_get(pool.submit(fail_with, 5), ::asio::bind_executor(io, [&](std::exception_ptr e, int v) {
                                error = e;
                                value = v;
                            }));
    run_all(io);
    EXPECT_EQ(message_of(error), "task failed with 5");
    EXPECT_EQ(value, 0);  // a T() beside the exception, as asio::co_spawn passes
}

TEST(asio_async_get, use_awaitable_returns_values_moves_move_only_ones_and_rethrows) {
    fronta::thread_pool pool(2);
    ::asio::io_context io;
    auto result = ::asio::co_spawn(
        io,
        [&]() -> awaitable<std::string> {
            const int a = co_await fronta::asio::async_get(pool.submit(square, 6), use_awaitable);
            std::unique_ptr<int> b = co_await fronta::asio::async_get(pool.submit(boxed, 11), use_awaitable);
            co_await fronta::asio::async_get(pool.submit([] {}), use_awaitable);  // future<void>
            std::string caught;
            try {
                co_await fronta::asio::async_get(pool.submit(fail_with, 9), use_awaitable);
            } catch (const std::runtime_error& e) {
                caught = e.what();  // the task's own exception type
            }
            co_return std::to_string(a) + " " + std::to_string(*b) + " " + caught;
        },
        ::asio::use_future);
    run_all(io);
    EXPECT_EQ(result.get(), "36 11 task failed with 9");
}

TEST(asio_async_get, use_awaitable_resumes_on_the_coroutines_strand) {
    fronta::thread_pool pool(2);
    ::asio::io_context io;
    auto strand = ::asio::make_strand(io);
    std::atomic<int> on_strand{0};
    for (int i = 0; i < 4; ++i) {
        ::asio::co_spawn(
            strand,
            [&, i]() -> awaitable<void> {
                for (int k = 0; k < 25; ++k) {
                    co_await fronta::asio::async_get(pool.submit(square, i + k), use_awaitable);
                    if (strand.running_in_this_thread()) ++on_strand;
                }
            },
            ::asio::detached);
    }
    // Two threads run the io_context; the strand still serialises the coroutines.
    std::thread second([&] { io.run(); });
    run_all(io, false);
    second.join();
    EXPECT_EQ(on_strand.load(), 100);
}

TEST(asio_async_get, use_future_gives_a_std_future) {
    fronta::thread_pool pool(2);
    std::future<int> value = fronta::asio::async_get(pool.submit(square, 8), ::asio::use_future);
    std::future<void> nothing = fronta::asio::async_get(pool.submit([] {}), ::asio::use_future);
    std::future<int> failed = fronta::asio::async_get(pool.submit(fail_with, 2), ::asio::use_future);
    ASSERT_EQ(value.wait_for(60s), std::future_status::ready);
    EXPECT_EQ(value.get(), 64);
    ASSERT_EQ(nothing.wait_for(60s), std::future_status::ready);
    nothing.get();
    ASSERT_EQ(failed.wait_for(60s), std::future_status::ready);
    EXPECT_THROW(failed.get(), std::runtime_error);
}

TEST(asio_async_get, deferred_starts_waiting_only_when_launched) {
    fronta::thread_pool pool(2);
    ::asio::io_context io;
    auto f = pool.submit(boxed, 4);
    auto op = fronta::asio::async_get(f, ::asio::experimental::deferred);
    int got = 0;
    std::move(op)(::asio::bind_executor(io, [&](std::exception_ptr e, std::unique_ptr<int> v) {
        EXPECT_FALSE(e);
        got = *v;
    }));
    run_all(io);
    EXPECT_EQ(got, 4);

    // Composed: a deferred wait awaited in a coroutine.
    auto twice = ::asio::co_spawn(
        io,
        [&]() -> awaitable<int> {
            auto deferred = fronta::asio::async_get(pool.submit(square, 5), ::asio::experimental::deferred);
            co_return co_await std::move(deferred)(use_awaitable);
        },
        ::asio::use_future);
    run_all(io);
    EXPECT_EQ(twice.get(), 25);
}

TEST(asio_async_get, use_promise_completes_its_promise) {
    fronta::thread_pool pool(2);
    ::asio::io_context io;
    // With an executor first, the promise is of that executor (as for asio::post(ex, token)).
    auto promise =
        fronta::asio::async_get(io.get_executor(), pool.submit(square, 12), ::asio::experimental::use_promise);
    auto failed =
        fronta::asio::async_get(io.get_executor(), pool.submit(fail_with, 1), ::asio::experimental::use_promise);
    // (A promise made without an executor is of the system executor: waiting on it from io would
    // not keep io.run() going, as Asio's promises hold no work on the waiter's executor.)
    int got = 0;
    std::string error;
    promise.async_wait(::asio::bind_executor(io, [&](std::exception_ptr e, int v) {
        EXPECT_FALSE(e);
        got = v;
    }));
    failed.async_wait(::asio::bind_executor(io, [&](std::exception_ptr e, int) { error = message_of(e); }));
    run_all(io);
    EXPECT_EQ(got, 144);
    EXPECT_EQ(error, "task failed with 1");
}

TEST(asio_async_get, as_tuple_hands_the_exception_over_without_throwing) {
    fronta::thread_pool pool(1);
    ::asio::io_context io;
    auto result = ::asio::co_spawn(
        io,
        [&]() -> awaitable<std::string> {
            auto [error, value] = co_await fronta::asio::async_get(pool.submit(fail_with, 6),
                                                                   ::asio::experimental::as_tuple(use_awaitable));
            auto [none, squared] =
                co_await fronta::asio::async_get(pool.submit(square, 6), ::asio::experimental::as_tuple(use_awaitable));
            co_return message_of(error) + " " + std::to_string(value) + " " + std::to_string(!none) + " " +
                std::to_string(squared);
        },
        ::asio::use_future);
    run_all(io);
    EXPECT_EQ(result.get(), "task failed with 6 0 1 36");
}

TEST(asio_async_get, an_executor_first_is_where_a_plain_callback_runs) {
    fronta::thread_pool pool(1);
    ::asio::io_context io;
    std::thread::id handler_thread;
    fronta::asio::async_get(io.get_executor(), pool.submit(square, 2),
                            [&](std::exception_ptr, int) { handler_thread = std::this_thread::get_id(); });
    run_all(io);
    EXPECT_EQ(handler_thread, std::this_thread::get_id());
}

// Every token with the three kinds of completion: a value, a move-only value, an exception.
TEST(asio_async_get, every_token_with_a_value_a_move_only_value_and_an_exception) {
    fronta::thread_pool pool(2);
    ::asio::io_context io;
    auto ex = io.get_executor();
    std::vector<std::string> got;
    auto record = [&](const std::string& token) {
        return [&got, token](std::exception_ptr e, auto v) {
            if (e)
                got.push_back(token + ": " + message_of(e));
            else if constexpr (std::is_same_v<decltype(v), std::unique_ptr<int>>)
                got.push_back(token + ": box " + std::to_string(*v));
            else
                got.push_back(token + ": " + std::to_string(v));
        };
    };
    // callback
    fronta::asio::async_get(ex, pool.submit(square, 3), record("callback"));
    fronta::asio::async_get(ex, pool.submit(boxed, 3), record("callback"));
    fronta::asio::async_get(ex, pool.submit(fail_with, 3), record("callback"));
    // deferred, launched with a callback
    fronta::asio::async_get(ex, pool.submit(square, 4), ::asio::experimental::deferred)(record("deferred"));
    fronta::asio::async_get(ex, pool.submit(boxed, 4), ::asio::experimental::deferred)(record("deferred"));
    fronta::asio::async_get(ex, pool.submit(fail_with, 4), ::asio::experimental::deferred)(record("deferred"));
    // use_promise
    auto p1 = fronta::asio::async_get(ex, pool.submit(square, 5), ::asio::experimental::use_promise);
    auto p2 = fronta::asio::async_get(ex, pool.submit(boxed, 5), ::asio::experimental::use_promise);
    auto p3 = fronta::asio::async_get(ex, pool.submit(fail_with, 5), ::asio::experimental::use_promise);
    p1.async_wait(::asio::bind_executor(ex, record("use_promise")));
    p2.async_wait(::asio::bind_executor(ex, record("use_promise")));
    p3.async_wait(::asio::bind_executor(ex, record("use_promise")));
    // use_awaitable
    ::asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
            got.push_back("use_awaitable: " +
                          std::to_string(co_await fronta::asio::async_get(pool.submit(square, 6), use_awaitable)));
            got.push_back("use_awaitable: box " +
                          std::to_string(*co_await fronta::asio::async_get(pool.submit(boxed, 6), use_awaitable)));
            try {
                co_await fronta::asio::async_get(pool.submit(fail_with, 6), use_awaitable);
            } catch (const std::runtime_error& e) {
                got.push_back(std::string("use_awaitable: ") + e.what());
            }
        },
        ::asio::detached);
    run_all(io);
    // use_future (std::future)
    auto f1 = fronta::asio::async_get(pool.submit(square, 7), ::asio::use_future);
    auto f2 = fronta::asio::async_get(pool.submit(boxed, 7), ::asio::use_future);
    auto f3 = fronta::asio::async_get(pool.submit(fail_with, 7), ::asio::use_future);
    ASSERT_EQ(f1.wait_for(60s), std::future_status::ready);
    ASSERT_EQ(f2.wait_for(60s), std::future_status::ready);
    ASSERT_EQ(f3.wait_for(60s), std::future_status::ready);
    got.push_back("use_future: " + std::to_string(f1.get()));
    got.push_back("use_future: box " + std::to_string(*f2.get()));
    try {
        f3.get();
    } catch (const std::runtime_error& e) {
        got.push_back(std::string("use_future: ") + e.what());
    }
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<std::string>{"callback: 9", "callback: box 3", "callback: task failed with 3",
                                             "deferred: 16", "deferred: box 4", "deferred: task failed with 4",
                                             "use_awaitable: 36", "use_awaitable: box 6",
                                             "use_awaitable: task failed with 6", "use_future: 49", "use_future: box 7",
                                             "use_future: task failed with 7", "use_promise: 25", "use_promise: box 5",
                                             "use_promise: task failed with 5"}));
}

TEST(asio_async_get, an_empty_future_is_an_error_at_the_call) {
    ::asio::io_context io;
    EXPECT_THROW(fronta::asio::async_get(fronta::future<int>(),
                                         ::asio::bind_executor(io, [](std::exception_ptr, int) {})),
                 fronta::invalid_state_error);
}

TEST(asio_async_get, leaves_the_value_readable_through_another_handle) {
    fronta::thread_pool pool(1);
    ::asio::io_context io;
    auto f = pool.submit([] { return std::string(1000, 'x'); });
    std::string got;
    fronta::asio::async_get(f,
                            ::asio::bind_executor(io, [&](std::exception_ptr, std::string v) { got = std::move(v); }));
    run_all(io);
    EXPECT_EQ(got.size(), 1000U);
    EXPECT_EQ(f.get().size(), 1000U);  // copied out, not moved: f can still read it
}

TEST(asio_async_get, a_future_cancelled_through_fronta_completes_with_cancelled_error) {
    fronta::thread_pool pool(1);
    gate g;
    auto blocker = pool.submit([&] { g.pass(); });
    auto queued = pool.submit(square, 2);
    ::asio::io_context io;
    std::exception_ptr error;
    fronta::asio::async_get(queued, ::asio::bind_executor(io, [&](std::exception_ptr e, int) { error = e; }));
    EXPECT_TRUE(queued.cancel());
    run_all(io);
    g.open();
    blocker.get();
    EXPECT_THROW(std::rethrow_exception(error), fronta::cancelled_error);
}

// --- cancellation through Asio -----------------------------------------------------------------

TEST(asio_cancellation, a_signal_before_the_task_starts_aborts_the_wait_and_cancels_the_task) {
    fronta::thread_pool pool(1);
    gate g;
    auto blocker = pool.submit([&] { g.pass(); });
    std::atomic<bool> ran{false};
    auto queued = pool.submit([&] {
        ran = true;
        return 1;
    });
    ::asio::io_context io;
    ::asio::cancellation_signal signal;
    std::exception_ptr error;
    fronta::asio::async_get(queued,
                            ::asio::bind_cancellation_slot(signal.slot(),
                                                           ::asio::bind_executor(io, [&](std::exception_ptr e, int) {
                                                               error = e;
                                                               // The task was cancelled before the handler ran.
                                                               EXPECT_TRUE(queued.cancelled());
                                                           })));
    ::asio::post(io, [&] { signal.emit(::asio::cancellation_type::terminal); });
    run_all(io);
    EXPECT_TRUE(is_operation_aborted(error)) << message_of(error);
    g.open();
    blocker.get();
    pool.shutdown();
    EXPECT_FALSE(ran.load());
    EXPECT_TRUE(queued.cancelled());
}

TEST(asio_cancellation, a_signal_after_the_task_started_aborts_the_wait_and_the_task_runs_on) {
    fronta::thread_pool pool(1);
    gate started_gate, finish;
    auto running = pool.submit([&] {
        started_gate.open();
        finish.pass();
        return 42;
    });
    started_gate.pass();
    ::asio::io_context io;
    ::asio::cancellation_signal signal;
    std::exception_ptr error;
    fronta::asio::async_get(running,
                            ::asio::bind_cancellation_slot(signal.slot(),
                                                           ::asio::bind_executor(io, [&](std::exception_ptr e, int) {
                                                               error = e;
                                                           })));
    ::asio::post(io, [&] { signal.emit(::asio::cancellation_type::terminal); });
    run_all(io);
    EXPECT_TRUE(is_operation_aborted(error));
    EXPECT_FALSE(running.cancelled());
    finish.open();
    EXPECT_EQ(running.get(), 42);  // the result stays in the future
}

TEST(asio_cancellation, a_timer_wins_an_or_race_and_the_queued_task_is_cancelled) {
    fronta::thread_pool pool(1);
    gate g;
    auto blocker = pool.submit([&] { g.pass(); });
    auto queued = pool.submit(square, 3);
    ::asio::io_context io;
    auto outcome = ::asio::co_spawn(
        io,
        [&]() -> awaitable<std::size_t> {
            ::asio::steady_timer timer(co_await ::asio::this_coro::executor, 1ms);
            auto winner = co_await (fronta::asio::async_get(queued, use_awaitable) || timer.async_wait(use_awaitable));
            co_return winner.index();
        },
        ::asio::use_future);
    run_all(io);
    EXPECT_EQ(outcome.get(), 1U);  // the task cannot finish: the pool's one thread is held
    EXPECT_TRUE(queued.cancelled());
    g.open();
    blocker.get();
}

TEST(asio_cancellation, the_task_wins_an_or_race_against_a_long_timer) {
    fronta::thread_pool pool(1);
    ::asio::io_context io;
    auto outcome = ::asio::co_spawn(
        io,
        [&]() -> awaitable<int> {
            ::asio::steady_timer timer(co_await ::asio::this_coro::executor, 1h);
            auto winner = co_await (fronta::asio::async_get(pool.submit(square, 9), use_awaitable) ||
                                    timer.async_wait(use_awaitable));
            co_return std::get<0>(winner);
        },
        ::asio::use_future);
    run_all(io);
    EXPECT_EQ(outcome.get(), 81);
}

TEST(asio_cancellation, cancellation_after_completion_changes_nothing) {
    fronta::thread_pool pool(1);
    ::asio::io_context io;
    ::asio::cancellation_signal signal;
    int got = 0;
    auto f = pool.submit(square, 4);
    f.wait();
    fronta::asio::async_get(f,
                            ::asio::bind_cancellation_slot(signal.slot(),
                                                           ::asio::bind_executor(io, [&](std::exception_ptr e, int v) {
                                                               EXPECT_FALSE(e);
                                                               got = v;
                                                           })));
    run_all(io);
    signal.emit(::asio::cancellation_type::terminal);  // the slot was cleared: nothing happens
    EXPECT_EQ(got, 16);
    EXPECT_EQ(f.get(), 16);
}

TEST(asio_cancellation, run_in_executor_cancelled_before_start_never_runs_the_task) {
    fronta::thread_pool pool(1);
    gate g;
    auto blocker = pool.submit([&] { g.pass(); });
    std::atomic<int> runs{0};
    ::asio::io_context io;
    auto outcome = ::asio::co_spawn(
        io,
        [&]() -> awaitable<std::size_t> {
            ::asio::steady_timer timer(co_await ::asio::this_coro::executor, 1ms);
            auto winner = co_await (fronta::asio::run_in_executor(
                                        pool, [&](int x) { return runs += x; }, 1, use_awaitable) ||
                                    timer.async_wait(use_awaitable));
            co_return winner.index();
        },
        ::asio::use_future);
    run_all(io);
    EXPECT_EQ(outcome.get(), 1U);
    g.open();
    blocker.get();
    pool.shutdown();
    EXPECT_EQ(runs.load(), 0);
}

// --- run_in_executor -----------------------------------------------------------------------------

TEST(asio_run_in_executor, submits_with_arguments_and_completes_through_the_token) {
    fronta::thread_pool pool(2);
    ::asio::io_context io;
    auto result = ::asio::co_spawn(
        io,
        [&]() -> awaitable<std::string> {
            const int a = co_await fronta::asio::run_in_executor(pool, square, 5, use_awaitable);
            auto text = std::make_unique<std::string>("moved");
            std::string b = co_await fronta::asio::run_in_executor(
                pool, [](std::unique_ptr<std::string> s, const std::string& tail) { return *s + tail; },
                std::move(text), std::string("!"), use_awaitable);
            co_await fronta::asio::run_in_executor(
                pool, [] {}, use_awaitable);
            std::string caught;
            try {
                co_await fronta::asio::run_in_executor(pool, fail_with, 3, use_awaitable);
            } catch (const std::runtime_error& e) {
                caught = e.what();
            }
            co_return std::to_string(a) + " " + b + " " + caught;
        },
        ::asio::use_future);
    run_all(io);
    EXPECT_EQ(result.get(), "25 moved! task failed with 3");
}

TEST(asio_run_in_executor, deferred_submits_only_when_launched) {
    fronta::inline_executor ex;  // runs each task inside submit: a submission shows at once
    ::asio::io_context io;
    int submitted = 0;
    auto op = fronta::asio::run_in_executor(
        ex, [&] { return ++submitted; }, ::asio::experimental::deferred);
    EXPECT_EQ(submitted, 0);
    int got = 0;
    std::move(op)(::asio::bind_executor(io, [&](std::exception_ptr, int v) { got = v; }));
    EXPECT_EQ(submitted, 1);
    run_all(io);
    EXPECT_EQ(got, 1);
}

TEST(asio_run_in_executor, a_shut_down_executor_fails_through_the_handler) {
    fronta::thread_pool pool(1);
    pool.shutdown();
    ::asio::io_context io;
    std::exception_ptr error;
    bool called = false;
    fronta::asio::run_in_executor(pool, square, 2, ::asio::bind_executor(io, [&](std::exception_ptr e, int) {
                                      called = true;
                                      error = e;
                                  }));
    run_all(io);
    EXPECT_TRUE(called);
    EXPECT_TRUE(error);
}

// --- futures of every executor -------------------------------------------------------------------

template <class Executor>
int sum_of_squares_through_asio(Executor& ex, int n) {
    ::asio::io_context io;
    auto total = ::asio::co_spawn(
        io,
        [&]() -> awaitable<int> {
            int sum = 0;
            for (int i = 1; i <= n; ++i) sum += co_await fronta::asio::async_get(ex.submit(square, i), use_awaitable);
            sum += co_await fronta::asio::run_in_executor(ex, square, n + 1, use_awaitable);
            co_return sum;
        },
        ::asio::use_future);
    run_all(io);
    return total.get();
}
constexpr int expected_sum(int n) { return (n + 1) * (n + 2) * (2 * n + 3) / 6; }

TEST(asio_executors, inline_executor) {
    fronta::inline_executor ex;
    EXPECT_EQ(sum_of_squares_through_asio(ex, 20), expected_sum(20));
}
TEST(asio_executors, thread_pool) {
    fronta::thread_pool ex(2);
    EXPECT_EQ(sum_of_squares_through_asio(ex, 20), expected_sum(20));
}
TEST(asio_executors, process_pool) {
    fronta::process_pool ex(2);
    EXPECT_EQ(sum_of_squares_through_asio(ex, 20), expected_sum(20));
}
TEST(asio_executors, type_erased_executor_over_each_pool) {
    fronta::executor threads{fronta::thread_pool(2)};
    EXPECT_EQ(sum_of_squares_through_asio(threads, 10), expected_sum(10));
    fronta::executor processes{fronta::process_pool(2)};
    EXPECT_EQ(sum_of_squares_through_asio(processes, 10), expected_sum(10));
}

TEST(asio_executors, a_process_pool_failure_arrives_as_the_tasks_exception) {
    fronta::process_pool ex(1);
    ::asio::io_context io;
    std::string error;
    fronta::asio::async_get(ex.submit(fail_with, 8),
                            ::asio::bind_executor(io, [&](std::exception_ptr e, int) { error = message_of(e); }));
    run_all(io);
    EXPECT_NE(error.find("task failed with 8"), std::string::npos) << error;
}

TEST(asio_executors, a_process_pool_worker_dying_arrives_as_worker_died_and_the_pool_serves_on) {
    fronta::process_pool ex(1);
    ::asio::io_context io;
    auto outcome = ::asio::co_spawn(
        io,
        [&]() -> awaitable<std::string> {
            std::string what;
            try {
                co_await fronta::asio::async_get(ex.submit(die_now, 1), use_awaitable);
            } catch (const fronta::worker_died& e) {
                what = "worker_died";
            }
            const int after = co_await fronta::asio::run_in_executor(ex, square, 7, use_awaitable);
            co_return what + " " + std::to_string(after);
        },
        ::asio::use_future);
    run_all(io);
    EXPECT_EQ(outcome.get(), "worker_died 49");
}

TEST(asio_async_get, a_handler_that_throws_propagates_out_of_run_as_asio_does) {
    fronta::thread_pool pool(1);
    ::asio::io_context io;
    fronta::asio::async_get(pool.submit(square, 1), ::asio::bind_executor(io, [](std::exception_ptr, int) {
                                throw std::runtime_error("handler threw");
                            }));
    EXPECT_THROW(io.run(), std::runtime_error);
    io.restart();
    int got = 0;  // the io_context goes on serving waits
    fronta::asio::async_get(pool.submit(square, 2),
                            ::asio::bind_executor(io, [&](std::exception_ptr, int v) { got = v; }));
    run_all(io);
    EXPECT_EQ(got, 4);
}

// --- many waits, and the io_context going away ------------------------------------------------

TEST(asio_many, thousands_of_concurrent_waits_on_one_io_context) {
    fronta::thread_pool pool(2);
    ::asio::io_context io;
    constexpr int n = 5000;
    std::vector<fronta::promise<int>> promises(n);
    long long sum = 0;
    int handled = 0;
    for (int i = 0; i < n; ++i)
        fronta::asio::async_get(promises[i].get_future(), ::asio::bind_executor(io, [&](std::exception_ptr e, int v) {
                                    EXPECT_FALSE(e);
                                    sum += v;
                                    ++handled;
                                }));
    // All 5000 are pending at once; they complete from the pool's threads, in any order.
    std::vector<fronta::future<void>> setters;
    for (int part = 0; part < 2; ++part)
        setters.push_back(pool.submit([&, part] {
            for (int i = part; i < n; i += 2) promises[i].set_value(i);
        }));
    run_all(io);
    for (auto& s : setters) s.get();
    EXPECT_EQ(handled, n);
    EXPECT_EQ(sum, static_cast<long long>(n) * (n - 1) / 2);
}

TEST(asio_shutdown, destroying_the_io_context_destroys_pending_handlers_unrun) {
    std::vector<fronta::promise<int>> promises(100);
    std::atomic<int> ran{0};
    {
        ::asio::io_context io;
        for (auto& p : promises)
            fronta::asio::async_get(p.get_future(), ::asio::bind_executor(io, [&ran, c = counted()](std::exception_ptr,
                                                                                                    int) { ++ran; }));
        EXPECT_EQ(counted::alive.load(), 100);
    }  // the waits are pending: their handlers are destroyed, not run
    EXPECT_EQ(counted::alive.load(), 0);
    for (int i = 0; i < 100; ++i) promises[i].set_value(i);  // nothing left to post to
    EXPECT_EQ(ran.load(), 0);
}

TEST(asio_shutdown, destroying_the_io_context_destroys_suspended_coroutines) {
    fronta::thread_pool pool(1);
    gate g;
    auto blocker = pool.submit([&] { g.pass(); });
    std::vector<fronta::future<int>> queued;
    for (int i = 0; i < 10; ++i) queued.push_back(pool.submit(square, i));
    std::atomic<int> frames{0};
    {
        ::asio::io_context io;
        for (auto& f : queued)
            ::asio::co_spawn(
                io,
                [&frames, f, c = counted()]() -> awaitable<void> {
                    ++frames;
                    co_await fronta::asio::async_get(f, use_awaitable);
                    ADD_FAILURE() << "resumed after its io_context was destroyed";
                },
                ::asio::detached);
        while (frames.load() < 10 && io.run_one_for(1s) != 0) {  // step each coroutine into its wait
        }
        ASSERT_EQ(frames.load(), 10);
    }
    EXPECT_EQ(counted::alive.load(), 0);
    g.open();  // the tasks now complete, with no io_context left to resume anything
    for (int i = 0; i < 10; ++i) EXPECT_EQ(queued[i].get(), i * i);
    blocker.get();
}

TEST(asio_shutdown, completions_racing_with_the_io_context_destruction) {
    // Futures complete from two pool threads while the io_context is destroyed: each wait either
    // ran its handler or had it destroyed; none runs after, none crashes (ASan, TSan).
    fronta::thread_pool pool(2);
    for (int round = 0; round < 50; ++round) {
        std::vector<fronta::promise<int>> promises(200);
        std::atomic<int> ran{0};
        std::vector<fronta::future<void>> setters;
        {
            ::asio::io_context io;
            for (auto& p : promises)
                fronta::asio::async_get(p.get_future(),
                                        ::asio::bind_executor(io, [&ran, c = counted()](std::exception_ptr, int) {
                                            ++ran;
                                        }));
            for (int part = 0; part < 2; ++part)
                setters.push_back(pool.submit([&promises, part] {
                    for (std::size_t i = part; i < promises.size(); i += 2) promises[i].set_value(1);
                }));
            io.poll();
        }
        for (auto& s : setters) s.get();
        EXPECT_EQ(counted::alive.load(), 0);
        EXPECT_LE(ran.load(), 200);
    }
}

// --- the other direction: an Asio operation as a fronta::future -------------------------------

fronta::future<int> timer_then_value(::asio::io_context& io, int value) {
    ::asio::steady_timer timer(io, 1ms);
    co_await timer.async_wait(fronta::asio::use_future);  // a fronta coroutine awaiting Asio
    co_return value;
}

TEST(asio_use_future, a_fronta_coroutine_awaits_an_asio_timer) {
    ::asio::io_context io;
    auto f = timer_then_value(io, 5);
    EXPECT_FALSE(f.done());
    run_all(io);
    EXPECT_EQ(f.get(), 5);
}

TEST(asio_use_future, an_error_code_becomes_a_system_error) {
    ::asio::io_context io;
    ::asio::steady_timer timer(io, 1h);
    fronta::future<void> f = timer.async_wait(fronta::asio::use_future);
    ::asio::post(io, [&] { timer.cancel(); });
    run_all(io);
    try {
        f.get();
        FAIL() << "expected a system_error";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), ::asio::error::operation_aborted);
    }
}

TEST(asio_use_future, values_and_several_values) {
    ::asio::io_context io;
    ::asio::ip::tcp::acceptor acceptor(io, {::asio::ip::address_v4::loopback(), 0});
    ::asio::ip::tcp::socket client(io), server(io);
    fronta::future<void> connected = client.async_connect(acceptor.local_endpoint(), fronta::asio::use_future);
    fronta::future<::asio::ip::tcp::socket> accepted = acceptor.async_accept(fronta::asio::use_future);
    run_all(io);
    connected.get();
    server = std::move(accepted).get();
    fronta::future<std::size_t> written =
        ::asio::async_write(client, ::asio::buffer("hello", 5), fronta::asio::use_future);
    char buf[5];
    fronta::future<std::size_t> read = ::asio::async_read(server, ::asio::buffer(buf), fronta::asio::use_future);
    run_all(io);
    EXPECT_EQ(written.get(), 5U);
    EXPECT_EQ(read.get(), 5U);
    EXPECT_EQ(std::string(buf, 5), "hello");

    // A signature of more values than one gives a tuple: void(error_code, int, std::string).
    auto op = [&](auto token) {
        return ::asio::async_initiate<decltype(token), void(std::error_code, int, std::string)>(
            [&](auto handler) {
                ::asio::post(io, [h = std::move(handler)]() mutable {
                    std::move(h)(std::error_code(), 7, std::string("seven"));
                });
            },
            token);
    };
    fronta::future<std::tuple<int, std::string>> both = op(fronta::asio::use_future);
    run_all(io);
    EXPECT_EQ(both.get(), std::make_tuple(7, std::string("seven")));
}

TEST(asio_use_future, an_operation_destroyed_unfinished_leaves_broken_promise) {
    fronta::future<void> f;
    {
        ::asio::io_context io;
        ::asio::steady_timer timer(io, 1h);
        f = timer.async_wait(fronta::asio::use_future);
    }
    ASSERT_TRUE(f.done());
    EXPECT_THROW(f.get(), fronta::broken_promise);
}

}  // namespace

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // process_pool workers are copies of this program
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
