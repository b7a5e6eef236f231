// fronta futures inside Boost.Asio (<fronta/boost_asio.hpp>): the same bridge as standalone
// Asio's (asio_test.cpp), under fronta::boost_asio. Debian 12's Boost 1.74 (Asio 1.18) has no
// per-operation cancellation, deferred or use_promise: what it has is tested here, and that a
// future cancelled through fronta ends the wait.

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bridge_test_support.hpp"
#include "fronta/boost_asio.hpp"
#include "fronta/inline_executor.hpp"
#include "fronta/promise.hpp"
#include "fronta/thread_pool.hpp"

namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

using fronta::test::counted;
using fronta::test::gate;
using fronta::test::run_all;

int square(int x) { return x * x; }
int fail_with(int x) { throw std::runtime_error("task failed with " + std::to_string(x)); }

TEST(boost_asio_async_get, callback_runs_on_the_io_context_with_the_value_or_the_exception) {
    fronta::thread_pool pool(2);
    net::io_context io;
    int got = 0;
    std::string error;
    std::thread::id handler_thread;
    fronta::boost_asio::async_get(pool.submit(square, 7), net::bind_executor(io, [&](std::exception_ptr e, int v) {
                                      EXPECT_FALSE(e);
                                      got = v;
                                      handler_thread = std::this_thread::get_id();
                                  }));
    fronta::boost_asio::async_get(pool.submit(fail_with, 3), net::bind_executor(io, [&](std::exception_ptr e, int) {
                                      try {
                                          std::rethrow_exception(e);
                                      } catch (const std::runtime_error& x) {
                                          error = x.what();
                                      }
                                  }));
    run_all(io);
    EXPECT_EQ(got, 49);
    EXPECT_EQ(error, "task failed with 3");
    EXPECT_EQ(handler_thread, std::this_thread::get_id());
}

TEST(boost_asio_async_get, use_awaitable_and_run_in_executor) {
    fronta::thread_pool pool(2);
    net::io_context io;
    auto result = net::co_spawn(
        io,
        [&]() -> net::awaitable<std::string> {
            const int a = co_await fronta::boost_asio::async_get(pool.submit(square, 6), net::use_awaitable);
            auto b = co_await fronta::boost_asio::async_get(pool.submit([] { return std::make_unique<int>(11); }),
                                                            net::use_awaitable);
            const int c = co_await fronta::boost_asio::run_in_executor(pool, square, 3, net::use_awaitable);
            std::string caught;
            try {
                co_await fronta::boost_asio::run_in_executor(pool, fail_with, 4, net::use_awaitable);
            } catch (const std::runtime_error& e) {
                caught = e.what();
            }
            co_return std::to_string(a) + " " + std::to_string(*b) + " " + std::to_string(c) + " " + caught;
        },
        net::use_future);
    run_all(io);
    EXPECT_EQ(result.get(), "36 11 9 task failed with 4");
}

TEST(boost_asio_async_get, use_future_gives_a_std_future) {
    fronta::thread_pool pool(1);
    auto f = fronta::boost_asio::async_get(pool.submit(square, 8), net::use_future);
    ASSERT_EQ(f.wait_for(60s), std::future_status::ready);
    EXPECT_EQ(f.get(), 64);
}

TEST(boost_asio_async_get, a_future_cancelled_through_fronta_ends_the_wait_with_cancelled_error) {
    fronta::thread_pool pool(1);
    gate g;
    auto blocker = pool.submit([&] { g.pass(); });
    auto queued = pool.submit(square, 2);
    net::io_context io;
    std::exception_ptr error;
    fronta::boost_asio::async_get(queued, net::bind_executor(io, [&](std::exception_ptr e, int) { error = e; }));
    EXPECT_TRUE(queued.cancel());
    run_all(io);
    g.open();
    blocker.get();
    EXPECT_THROW(std::rethrow_exception(error), fronta::cancelled_error);
}

TEST(boost_asio_shutdown, destroying_the_io_context_destroys_pending_handlers_unrun) {
    std::vector<fronta::promise<int>> promises(50);
    std::atomic<int> ran{0};
    {
        net::io_context io;
        for (auto& p : promises)
            fronta::boost_asio::async_get(p.get_future(),
                                          net::bind_executor(io, [&ran, c = counted()](std::exception_ptr, int) {
                                              ++ran;
                                          }));
    }
    EXPECT_EQ(counted::alive.load(), 0);
    for (auto& p : promises) p.set_value(1);
    EXPECT_EQ(ran.load(), 0);
}

fronta::future<int> timer_then(net::io_context& io, int value) {
    net::steady_timer timer(io, 1ms);
    co_await timer.async_wait(fronta::boost_asio::use_future);
    co_return value;
}

TEST(boost_asio_use_future, a_fronta_coroutine_awaits_a_boost_timer_and_errors_become_system_errors) {
    net::io_context io;
    auto f = timer_then(io, 4);
    net::steady_timer long_timer(io, 1h);
    fronta::future<void> aborted = long_timer.async_wait(fronta::boost_asio::use_future);
    net::post(io, [&] { long_timer.cancel(); });
    run_all(io);
    EXPECT_EQ(f.get(), 4);
    try {
        aborted.get();
        FAIL() << "expected a system_error";
    } catch (const boost::system::system_error& e) {
        EXPECT_EQ(e.code(), net::error::operation_aborted);
    }
}

}  // namespace
