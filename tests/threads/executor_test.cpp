// The type-erased executor and the inline executor.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fronta/executor.hpp"
#include "fronta/inline_executor.hpp"
#include "fronta/thread_pool.hpp"

namespace {
fronta::executor make_executor(const std::string& kind) {
    if (kind == "inline") return fronta::inline_executor();
    return fronta::thread_pool(2);
}
int twice(const int* p) { return *p * 2; }
void add_to(int& total, int amount) { total += amount; }

// What std::thread accepts, a local executor runs: a raw pointer, a reference through std::ref, a
// move-only argument, a lambda with captures, and a move-only callable.
template <class Executor>
void runs_what_std_thread_accepts(Executor& ex, const std::string& kind) {
    int x = 21;
    EXPECT_EQ(ex.submit(twice, &x).get(), 42) << kind;
    int total = 0;
    ex.submit(add_to, std::ref(total), 5).get();
    EXPECT_EQ(total, 5) << kind << ": std::ref reached the caller's variable";
    auto owned = std::make_unique<int>(7);
    EXPECT_EQ(ex.submit([](std::unique_ptr<int> p) { return *p; }, std::move(owned)).get(), 7) << kind;
    EXPECT_EQ(ex.submit([&x](int y) { return x + y; }, 1).get(), 22) << kind;
    EXPECT_EQ(ex.submit([p = std::make_unique<int>(9)] { return *p; }).get(), 9) << kind;
    std::vector<const int*> pointers{&x, &total};
    int sum = 0;
    for (int y : ex.map(twice, pointers)) sum += y;
    EXPECT_EQ(sum, 52) << kind << ": map over raw pointers";
}

}  // namespace

TEST(local_executors, raw_pointer_argument_compiles_and_runs_like_std_thread) {
    fronta::thread_pool pool(2);
    runs_what_std_thread_accepts(pool, "thread_pool");
    fronta::inline_executor inline_ex;
    runs_what_std_thread_accepts(inline_ex, "inline_executor");
    for (std::string kind : {"inline", "threads"}) {
        fronta::executor erased = make_executor(kind);
        runs_what_std_thread_accepts(erased, "executor over " + kind);
    }
}

TEST(inline_executor, runs_in_the_calling_thread_at_submit) {
    fronta::inline_executor ex;
    auto f = ex.submit([] { return std::this_thread::get_id(); });
    EXPECT_TRUE(f.done());
    EXPECT_EQ(f.get(), std::this_thread::get_id());
    ex.shutdown();
    EXPECT_THROW(ex.submit([] {}), fronta::shutdown_error);
}

TEST(executor_erased, copies_share_and_last_copy_shuts_down) {
    std::atomic<int> count{0};
    {
        fronta::executor a = fronta::thread_pool(2);
        fronta::executor b = a;
        for (int i = 0; i < 100; ++i) b.submit([&] { ++count; });
    }
    EXPECT_EQ(count.load(), 100) << "the owning handle waited for the tasks";
}

TEST(executor_erased, shared_lvalue_pool_outlived_by_handle) {
    std::unique_ptr<fronta::executor> handle;
    {
        fronta::thread_pool pool(1);
        handle = std::make_unique<fronta::executor>(pool);
        EXPECT_EQ(handle->submit([] { return 1; }).get(), 1);
    }
    EXPECT_THROW(handle->submit([] {}), fronta::shutdown_error);
}
