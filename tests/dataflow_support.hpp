#pragma once
// What the tests of futures as task arguments share (tests/core/dataflow_test.cpp,
// tests/core/dataflow_graph_test.cpp): the in-process executors they run on, a watchdog that ends
// a hung test with a failure, a gate outside fronta, and a value type that counts its copies and
// live instances. Each test binary is one translation unit.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>

#include "fronta/errors.hpp"
#include "fronta/executor.hpp"
#include "fronta/inline_executor.hpp"
#include "fronta/thread_pool.hpp"

using namespace std::chrono_literals;

namespace {

// ---- helpers ----------------------------------------------------------------------------------

// A hung pool would hang its destructor too: end the process with a failure instead (CTest runs
// each test in a process of its own).
[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "FAILED: %s: not done within the time limit; something hangs\n", what);
    std::fflush(stderr);
    std::_Exit(3);
}

// Ends the process if the test (its executors' destructors included) outlives `limit`.
class watchdog {
public:
    explicit watchdog(std::chrono::seconds limit)
        : thread_([this, limit] {
              std::unique_lock lock(mutex_);
              if (!disarmed_cv_.wait_for(lock, limit, [this] { return disarmed_; })) die("the test");
          }) {}
    ~watchdog() {
        {
            std::lock_guard lock(mutex_);
            disarmed_ = true;
        }
        disarmed_cv_.notify_one();
        thread_.join();
    }

private:
    std::mutex mutex_;
    std::condition_variable disarmed_cv_;
    bool disarmed_ = false;
    std::thread thread_;
};

// The future, once done; the process fails if it is not done within a minute.
template <class T>
const fronta::future<T>& done_within(const fronta::future<T>& f, const char* what = "a future") {
    if (!f.wait_for(60s)) die(what);
    return f;
}

struct custom_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

[[maybe_unused]] std::exception_ptr error(const char* message) {
    return std::make_exception_ptr(custom_error(message));
}

// Fails the test unless `f` failed with a custom_error saying `message`.
template <class T>
void expect_failed_with(const fronta::future<T>& f, const std::string& message) {
    try {
        done_within(f).get();
        ADD_FAILURE() << "expected custom_error(" << message << "), got a value";
    } catch (const custom_error& e) {
        EXPECT_EQ(e.what(), message);
    } catch (const std::exception& e) {
        ADD_FAILURE() << "expected custom_error(" << message << "), got " << e.what();
    }
}

template <class T>
void expect_cancelled(const fronta::future<T>& f) {
    EXPECT_TRUE(done_within(f).cancelled());
    EXPECT_THROW(f.get(), fronta::cancelled_error);
}

// Blocks a worker until opened, outside fronta (so no stand-in thread replaces it).
class gate {
public:
    void wait() const { opened_.wait(); }
    void open() { promise_.set_value(); }

private:
    std::promise<void> promise_;
    std::shared_future<void> opened_ = promise_.get_future().share();
};

// Counts its live instances and its copies: what a graph leaves behind, and what it copied.
struct tracked {
    static inline std::atomic<int> alive{0};
    static inline std::atomic<int> copies{0};
    int value = 0;
    explicit tracked(int v) : value(v) { ++alive; }
    tracked(const tracked& other) : value(other.value) {
        ++alive;
        ++copies;
    }
    tracked(tracked&& other) noexcept : value(other.value) { ++alive; }
    tracked& operator=(const tracked&) = delete;
    ~tracked() { --alive; }
};

// ---- the executors ----------------------------------------------------------------------------

struct inline_maker {
    static constexpr bool runs_at_submit = true;  // nothing queues: a ready task runs in submit
    static fronta::inline_executor make() { return {}; }
};
struct thread_pool_maker {
    static constexpr bool runs_at_submit = false;
    static fronta::thread_pool make() { return fronta::thread_pool(2); }
};
struct executor_over_inline_maker {
    static constexpr bool runs_at_submit = true;
    static fronta::executor make() { return fronta::executor(fronta::inline_executor()); }
};
struct executor_over_thread_pool_maker {
    static constexpr bool runs_at_submit = false;
    static fronta::executor make() { return fronta::executor(fronta::thread_pool(2)); }
};

// A typed suite over the makers: `template <class M> class suite : public dataflow_fixture<M> {};
// TYPED_TEST_SUITE(suite, makers, maker_names);`
template <class Maker>
class dataflow_fixture : public testing::Test {
protected:
    watchdog dog_{std::chrono::seconds(240)};  // first: destroyed last, after the test's executors
};
using makers =
    testing::Types<inline_maker, thread_pool_maker, executor_over_inline_maker, executor_over_thread_pool_maker>;
class maker_names {
public:
    template <class T>
    static std::string GetName(int) {
        if (std::is_same_v<T, inline_maker>) return "inline_executor";
        if (std::is_same_v<T, thread_pool_maker>) return "thread_pool";
        if (std::is_same_v<T, executor_over_inline_maker>) return "executor_over_inline";
        return "executor_over_thread_pool";
    }
};
}  // namespace
