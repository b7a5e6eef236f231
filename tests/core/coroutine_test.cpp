// co_await on fronta futures, and coroutines that return fronta::future<T>.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <thread>

#include "fronta/promise.hpp"
#include "fronta/thread_pool.hpp"

namespace {

fronta::future<int> add_remote(fronta::thread_pool& pool, int a, int b) {
    int x = co_await pool.submit([a] { return a; });
    int y = co_await pool.submit([b] { return b; });
    co_return x + y;
}

fronta::future<void> fail_after(fronta::future<int> f) {
    co_await f;
    throw std::out_of_range("after await");
}

fronta::future<int> await_ready(fronta::future<int> f) {
    const int& v = co_await f;
    co_return v + 1;
}

fronta::future<int> await_move_only(fronta::future<std::unique_ptr<int>> f) {
    std::unique_ptr<int> p = co_await std::move(f);
    co_return *p;
}

fronta::future<std::thread::id> resumed_on(fronta::future<int> f) {
    co_await f;
    co_return std::this_thread::get_id();
}

}  // namespace

TEST(coroutine, awaits_pool_futures) {
    fronta::thread_pool pool(2);
    EXPECT_EQ(add_remote(pool, 20, 22).get(), 42);
}

TEST(coroutine, exception_after_await_reaches_the_future) {
    fronta::promise<int> p;
    auto f = fail_after(p.get_future());
    EXPECT_FALSE(f.done());
    p.set_value(1);
    EXPECT_THROW(f.get(), std::out_of_range);
}

TEST(coroutine, awaited_exception_propagates) {
    fronta::promise<int> p;
    auto f = await_ready(p.get_future());
    p.set_exception(std::make_exception_ptr(std::invalid_argument("bad")));
    EXPECT_THROW(f.get(), std::invalid_argument);
}

TEST(coroutine, already_done_does_not_suspend) {
    fronta::promise<int> p;
    p.set_value(4);
    auto f = await_ready(p.get_future());
    EXPECT_TRUE(f.done());
    EXPECT_EQ(f.get(), 5);
}

TEST(coroutine, move_only_value) {
    fronta::promise<std::unique_ptr<int>> p;
    auto f = await_move_only(p.get_future());
    p.set_value(std::make_unique<int>(9));
    EXPECT_EQ(f.get(), 9);
}

TEST(coroutine, resumes_in_the_completing_thread) {
    fronta::promise<int> p;
    auto f = resumed_on(p.get_future());
    std::thread::id setter_id;
    std::thread t([&] {
        setter_id = std::this_thread::get_id();
        p.set_value(0);
    });
    t.join();
    EXPECT_EQ(f.get(), setter_id);
}
