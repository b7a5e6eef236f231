// Semantics of future<T>, modelled on CPython's test_concurrent_futures (FutureTests).
#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <cstdio>
#include <cstdlib>

#include "fronta/future.hpp"
#include "fronta/promise.hpp"

using namespace std::chrono_literals;

namespace {

// Runs `body` on a thread with a stack of `stack_bytes` (std::thread cannot choose it).
void run_on_stack_of(std::size_t stack_bytes, std::function<void()> body) {
    pthread_attr_t attr;
    ASSERT_EQ(pthread_attr_init(&attr), 0);
    ASSERT_EQ(pthread_attr_setstacksize(&attr, stack_bytes), 0);
    pthread_t thread;
    auto entry = [](void* arg) -> void* {
        (*static_cast<std::function<void()>*>(arg))();
        return nullptr;
    };
    ASSERT_EQ(pthread_create(&thread, &attr, entry, &body), 0);
    pthread_join(thread, nullptr);
    pthread_attr_destroy(&attr);
}

constexpr int million = 1'000'000;
constexpr std::size_t small_stack = 256 * 1024;

// A future whose state nobody else holds: dropping every handle destroys it unfinished.
fronta::future<int> orphan_future() {
    return fronta::future<int>(fronta::detail::adopt_state_t{},
                               fronta::detail::state_ref<fronta::detail::state<int>>(new fronta::detail::state<int>()));
}

struct user_error : std::runtime_error {
    explicit user_error(int c) : std::runtime_error("user error " + std::to_string(c)), code(c) {}
    int code;
};

}  // namespace

TEST(future_states, pending_future_is_neither_running_done_nor_cancelled) {
    fronta::promise<int> p;
    auto f = p.get_future();
    EXPECT_FALSE(f.done());
    EXPECT_FALSE(f.running());
    EXPECT_FALSE(f.cancelled());
}

TEST(future_states, running_after_set_running_or_notify_cancel) {
    fronta::promise<int> p;
    auto f = p.get_future();
    EXPECT_TRUE(p.set_running_or_notify_cancel());
    EXPECT_TRUE(f.running());
    EXPECT_FALSE(f.done());
    EXPECT_FALSE(f.cancel()) << "a running future cannot be cancelled";
    EXPECT_TRUE(f.running());
}

TEST(future_states, finished_with_value) {
    fronta::promise<int> p;
    auto f = p.get_future();
    p.set_running_or_notify_cancel();
    p.set_value(42);
    EXPECT_TRUE(f.done());
    EXPECT_FALSE(f.running());
    EXPECT_FALSE(f.cancelled());
    EXPECT_EQ(f.get(), 42);
    EXPECT_EQ(f.exception(), nullptr);
    EXPECT_FALSE(f.cancel()) << "a finished future cannot be cancelled";
}

TEST(future_states, set_value_without_running_state_finishes_too) {
    fronta::promise<std::string> p;
    auto f = p.get_future();
    p.set_value("direct");
    EXPECT_EQ(f.get(), "direct");
}

TEST(future_states, finished_with_exception_rethrows_same_type_and_object) {
    fronta::promise<int> p;
    auto f = p.get_future();
    p.set_exception(std::make_exception_ptr(user_error(7)));
    EXPECT_TRUE(f.done());
    try {
        f.get();
        FAIL() << "get() should throw";
    } catch (const user_error& e) {
        EXPECT_EQ(e.code, 7);
        EXPECT_STREQ(e.what(), "user error 7");
    }
    auto error = f.exception();
    ASSERT_NE(error, nullptr);
    EXPECT_THROW(std::rethrow_exception(error), user_error);
}

TEST(future_cancel, cancel_pending_then_get_throws_cancelled_error) {
    fronta::promise<int> p;
    auto f = p.get_future();
    EXPECT_TRUE(f.cancel());
    EXPECT_TRUE(f.cancelled());
    EXPECT_TRUE(f.done());
    EXPECT_FALSE(f.running());
    EXPECT_THROW(f.get(), fronta::cancelled_error);
    EXPECT_THROW(std::rethrow_exception(f.exception()), fronta::cancelled_error);
    EXPECT_TRUE(f.cancel()) << "cancelling again reports true, as in Python";
}

TEST(future_cancel, producer_sees_cancellation_and_cannot_set) {
    fronta::promise<int> p;
    auto f = p.get_future();
    f.cancel();
    EXPECT_FALSE(p.set_running_or_notify_cancel());
    EXPECT_THROW(p.set_value(1), fronta::invalid_state_error);
}

TEST(future_cancel, cancel_of_exception_future_fails) {
    fronta::promise<int> p;
    auto f = p.get_future();
    p.set_exception(std::make_exception_ptr(user_error(1)));
    EXPECT_FALSE(f.cancel());
    EXPECT_FALSE(f.cancelled());
}

TEST(promise_errors, second_set_throws_invalid_state_error) {
    fronta::promise<int> p;
    p.set_value(1);
    EXPECT_THROW(p.set_value(2), fronta::invalid_state_error);
    EXPECT_THROW(p.set_exception(std::make_exception_ptr(user_error(1))), fronta::invalid_state_error);
    EXPECT_EQ(p.get_future().get(), 1) << "the first value is kept";
}

TEST(promise_errors, set_running_twice_throws) {
    fronta::promise<int> p;
    EXPECT_TRUE(p.set_running_or_notify_cancel());
    EXPECT_THROW(p.set_running_or_notify_cancel(), fronta::invalid_state_error);
}

TEST(promise_errors, destroyed_promise_leaves_broken_promise) {
    fronta::future<int> f;
    {
        fronta::promise<int> p;
        f = p.get_future();
    }
    EXPECT_TRUE(f.done());
    EXPECT_THROW(f.get(), fronta::broken_promise);
}

TEST(future_empty, empty_future_operations_throw) {
    fronta::future<int> f;
    EXPECT_FALSE(f.valid());
    EXPECT_THROW(f.done(), fronta::invalid_state_error);
    EXPECT_THROW(f.get(), fronta::invalid_state_error);
}

TEST(future_timeout, get_with_timeout_throws_timeout_error_then_succeeds_later) {
    fronta::promise<int> p;
    auto f = p.get_future();
    EXPECT_THROW(f.get(1ms), fronta::timeout_error);
    EXPECT_THROW(f.exception(1ms), fronta::timeout_error);
    EXPECT_FALSE(f.wait_for(0s));
    p.set_value(5);
    EXPECT_EQ(f.get(1ms), 5);
    EXPECT_EQ(f.get(0s), 5) << "a zero timeout returns a ready result";
}

TEST(future_timeout, timeout_message_names_the_duration) {
    fronta::promise<int> p;
    auto f = p.get_future();
    try {
        f.get(2ms);
        FAIL();
    } catch (const fronta::timeout_error& e) {
        EXPECT_NE(std::string(e.what()).find("2 ms"), std::string::npos) << e.what();
    }
}

TEST(future_timeout, huge_timeout_does_not_overflow) {
    fronta::promise<int> p;
    auto f = p.get_future();
    std::thread setter([&] { p.set_value(3); });
    EXPECT_EQ(f.get(std::chrono::hours::max()), 3);
    setter.join();
}

TEST(future_wait, get_blocks_until_another_thread_sets_value) {
    fronta::promise<int> p;
    auto f = p.get_future();
    std::thread setter([&] { p.set_value(99); });
    EXPECT_EQ(f.get(), 99);
    setter.join();
}

TEST(future_handles, copies_share_state_and_compare_equal) {
    fronta::promise<int> p;
    auto a = p.get_future();
    auto b = a;
    auto c = p.get_future();
    EXPECT_EQ(a, b);
    EXPECT_EQ(a, c);
    std::unordered_set<fronta::future<int>> set{a, b, c};
    EXPECT_EQ(set.size(), 1u);
    p.set_value(4);
    EXPECT_EQ(b.get(), 4);
    EXPECT_EQ(c.get(), 4);
}

TEST(future_move_only, take_moves_unique_ptr_out_once) {
    fronta::promise<std::unique_ptr<int>> p;
    auto f = p.get_future();
    p.set_value(std::make_unique<int>(11));
    std::unique_ptr<int> v = f.take();
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, 11);
    EXPECT_THROW(f.take(), fronta::invalid_state_error);
    EXPECT_THROW(f.get(), fronta::invalid_state_error);
}

TEST(future_move_only, rvalue_get_of_move_only_takes) {
    fronta::promise<std::unique_ptr<int>> p;
    p.set_value(std::make_unique<int>(12));
    std::unique_ptr<int> v = p.get_future().get();
    EXPECT_EQ(*v, 12);
    const auto& still_there = p.get_future();
    EXPECT_THROW(still_there.get(), fronta::invalid_state_error);
}

TEST(future_copyable, get_after_rvalue_get_says_an_rvalue_get_moved_the_value_out) {
    fronta::future<std::string> f;
    {
        fronta::promise<std::string> p;
        f = p.get_future();
        p.set_value("moved");
    }
    EXPECT_EQ(std::move(f).get(), "moved");  // the last handle: the value is moved out
    try {
        f.get();
        FAIL() << "expected invalid_state_error";
    } catch (const fronta::invalid_state_error& e) {
        EXPECT_NE(std::string(e.what()).find("std::move(f).get()"), std::string::npos) << e.what();
    }
}

TEST(future_move_only, lvalue_get_gives_a_reference) {
    fronta::promise<std::unique_ptr<int>> p;
    auto f = p.get_future();
    p.set_value(std::make_unique<int>(13));
    const std::unique_ptr<int>& ref = f.get();
    EXPECT_EQ(*ref, 13);
    EXPECT_EQ(*f.get(), 13) << "reading by reference does not consume the value";
}

TEST(future_copyable, rvalue_get_copies_when_other_handles_exist) {
    fronta::promise<std::vector<int>> p;
    auto keep = p.get_future();
    p.set_value(std::vector<int>{1, 2, 3});
    std::vector<int> copy = fronta::future<std::vector<int>>(keep).get();
    EXPECT_EQ(copy.size(), 3u);
    EXPECT_EQ(keep.get().size(), 3u) << "the other handle still sees the value";
}

TEST(future_void, void_future_get_and_exception) {
    fronta::promise<void> p;
    auto f = p.get_future();
    p.set_value();
    f.get();
    EXPECT_TRUE(f.done());
    fronta::promise<void> q;
    q.set_exception(std::make_exception_ptr(user_error(3)));
    EXPECT_THROW(q.get_future().get(), user_error);
}

TEST(future_callbacks, run_in_order_added_once_done) {
    fronta::promise<int> p;
    auto f = p.get_future();
    std::vector<int> order;
    f.add_done_callback([&](const fronta::future<int>& done) { order.push_back(done.get()); });
    f.add_done_callback([&](const fronta::future<int>&) { order.push_back(100); });
    f.add_done_callback([&](fronta::future<int> done) { order.push_back(done.get() + 1); });
    EXPECT_TRUE(order.empty());
    p.set_value(1);
    EXPECT_EQ(order, (std::vector<int>{1, 100, 2}));
}

TEST(future_callbacks, callback_receives_the_same_future) {
    fronta::promise<int> p;
    auto f = p.get_future();
    bool same = false;
    f.add_done_callback([&](const fronta::future<int>& done) { same = (done == f); });
    p.set_value(0);
    EXPECT_TRUE(same);
}

TEST(future_callbacks, already_done_runs_immediately) {
    fronta::promise<int> p;
    p.set_value(3);
    int seen = 0;
    p.get_future().add_done_callback([&](const fronta::future<int>& f) { seen = f.get(); });
    EXPECT_EQ(seen, 3);
}

TEST(future_callbacks, run_on_cancel) {
    fronta::promise<int> p;
    auto f = p.get_future();
    bool cancelled_seen = false;
    f.add_done_callback([&](const fronta::future<int>& done) { cancelled_seen = done.cancelled(); });
    f.cancel();
    EXPECT_TRUE(cancelled_seen);
}

TEST(future_callbacks, throwing_callback_breaks_nothing) {
    std::vector<std::string> reported;
    fronta::set_callback_error_handler([&](std::exception_ptr e) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            reported.push_back(ex.what());
        }
    });
    fronta::promise<int> p;
    auto f = p.get_future();
    bool later_ran = false;
    f.add_done_callback([](const fronta::future<int>&) { throw std::runtime_error("callback boom"); });
    f.add_done_callback([&](const fronta::future<int>&) { later_ran = true; });
    p.set_value(8);
    EXPECT_TRUE(later_ran);
    EXPECT_EQ(f.get(), 8);
    EXPECT_EQ(reported, std::vector<std::string>{"callback boom"});
    // Also for callbacks added after completion.
    f.add_done_callback([](const fronta::future<int>&) { throw std::runtime_error("late boom"); });
    EXPECT_EQ(reported.size(), 2u);
    fronta::set_callback_error_handler(nullptr);
}

TEST(future_then, maps_value) {
    fronta::promise<int> p;
    auto f = p.get_future().then([](const int& v) { return v * 2; }).then([](int v) { return std::to_string(v); });
    p.set_value(21);
    EXPECT_EQ(f.get(), "42");
}

TEST(future_then, exception_skips_function_and_propagates) {
    fronta::promise<int> p;
    bool called = false;
    auto f = p.get_future().then([&](int v) {
        called = true;
        return v;
    });
    p.set_exception(std::make_exception_ptr(user_error(9)));
    EXPECT_THROW(f.get(), user_error);
    EXPECT_FALSE(called);
}

TEST(future_then, function_exception_fails_continuation) {
    fronta::promise<int> p;
    auto f = p.get_future().then([](int) -> int { throw user_error(4); });
    p.set_value(1);
    EXPECT_THROW(f.get(), user_error);
}

TEST(future_then, cancelled_source_gives_cancelled_error) {
    fronta::promise<int> p;
    auto src = p.get_future();
    auto f = src.then([](int v) { return v; });
    src.cancel();
    EXPECT_THROW(f.get(), fronta::cancelled_error);
}

TEST(future_then, future_taking_form_sees_failures) {
    fronta::promise<int> p;
    auto f = p.get_future().then([](const fronta::future<int>& src) { return src.exception() != nullptr; });
    p.set_exception(std::make_exception_ptr(user_error(2)));
    EXPECT_TRUE(f.get());
}

TEST(future_then, void_chain_and_move_only_value) {
    fronta::promise<void> p;
    auto f = p.get_future().then([] { return std::make_unique<int>(5); }).then([](std::unique_ptr<int>&& v) {
        return *v + 1;
    });
    p.set_value();
    EXPECT_EQ(f.get(), 6);
}

TEST(future_then, on_already_done_future_runs_now) {
    fronta::promise<int> p;
    p.set_value(1);
    auto f = p.get_future().then([](int v) { return v + 1; });
    EXPECT_TRUE(f.done());
    EXPECT_EQ(f.get(), 2);
}

TEST(future_then, cancelling_continuation_before_source_completes_skips_it) {
    fronta::promise<int> p;
    bool called = false;
    auto f = p.get_future().then([&](int v) {
        called = true;
        return v;
    });
    EXPECT_TRUE(f.cancel());
    p.set_value(1);
    EXPECT_FALSE(called);
    EXPECT_TRUE(f.cancelled());
}

// Each link completed the next one inside its callback, so completing (or destroying) a chain
// used stack in proportion to its length: 70,000 links overflowed an 8 MiB stack.
TEST(future_then, then_chain_of_a_million_links_completes_in_bounded_stack) {
    run_on_stack_of(small_stack, [] {
        fronta::promise<int> p;
        fronta::future<int> f = p.get_future();
        for (int i = 0; i < million; ++i) f = f.then([](int v) { return v + 1; });
        p.set_value(0);
        EXPECT_TRUE(f.done());
        EXPECT_EQ(f.get(), million);
    });
}

TEST(future_then, then_chain_of_a_million_links_fails_through_when_its_promise_is_dropped) {
    run_on_stack_of(small_stack, [] {
        fronta::future<int> last;
        {
            fronta::promise<int> p;
            last = p.get_future();
            for (int i = 0; i < million; ++i) last = last.then([](int v) { return v + 1; });
        }
        EXPECT_THROW(last.get(), fronta::broken_promise);
    });
}

TEST(future_then, then_chain_of_a_million_links_dropped_unfinished_in_bounded_stack) {
    run_on_stack_of(small_stack, [] {
        fronta::future<int> root = orphan_future();
        fronta::future<int> last = root;
        for (int i = 0; i < million; ++i) last = last.then([](int v) { return v + 1; });
        root = {};  // the chain's source dies unfinished: every link fails, in bounded stack
        EXPECT_THROW(last.get(), fronta::broken_promise);
        last = {};
        // And a chain nobody looks at any more is freed without running anything.
        root = orphan_future();
        last = root;
        for (int i = 0; i < million; ++i) last = last.then([](int v) { return v + 1; });
        last = {};
        root = {};
    });
}

TEST(future_callbacks, chain_of_a_million_callbacks_holding_the_next_future_is_destroyed_in_bounded_stack) {
    run_on_stack_of(small_stack, [] {
        fronta::future<int> root = orphan_future();
        fronta::future<int> current = root;
        for (int i = 0; i < million; ++i) {
            fronta::future<int> next = orphan_future();
            current.add_done_callback([next](const fronta::future<int>&) {});
            current = std::move(next);  // now only the callback holds it
        }
        current = {};
        root = {};  // each state's death drops the callback that holds the next one
    });
}

TEST(future_then, long_chains_still_complete_depth_first) {
    // f[i] = f[i-1].then(...), and f[i-1] gets a plain callback after it: recursion runs every
    // `then` first, then the callbacks from the innermost out. The trampoline must keep that order.
    constexpr int links = 200;
    std::vector<int> order;
    fronta::promise<int> p;
    std::vector<fronta::future<int>> chain{p.get_future()};
    for (int i = 1; i <= links; ++i) {
        chain.push_back(chain.back().then([&order, i](int v) {
            order.push_back(i);
            return v + 1;
        }));
        chain[i - 1].add_done_callback([&order, i](const fronta::future<int>&) { order.push_back(-i); });
    }
    p.set_value(0);
    std::vector<int> expected;
    for (int i = 1; i <= links; ++i) expected.push_back(i);
    for (int i = links; i >= 1; --i) expected.push_back(-i);
    EXPECT_EQ(order, expected);
    EXPECT_EQ(chain.back().get(), links);
}

// Deep in a chain, a continuation completed inside a callback waits on the trampoline until the
// callback returns: a callback that then waited on it would wait on itself, unless a wait first
// fires what this thread's trampoline holds.
TEST(future_then, callback_deep_in_a_chain_may_wait_on_a_continuation_it_completes) {
    fronta::promise<int> result;
    auto result_future = result.get_future();
    std::thread completer([&result] {
        fronta::promise<int> root;
        fronta::future<int> f = root.get_future();
        for (int i = 0; i < 100; ++i) f = f.then([](int v) { return v + 1; });
        std::atomic<bool> first_returned{false};
        f.add_done_callback([&](const fronta::future<int>& done) {
            fronta::promise<int> inner;
            auto next = inner.get_future().then([](int v) { return v + 1; });
            inner.set_value(done.get());
            const int value = next.get();  // waits on a continuation of this very thread
            first_returned = true;
            result.set_value(value);
        });
        // The wait fires only what the first callback itself queued, not this one, which must
        // still run after it (callbacks of one future run in the order added).
        f.add_done_callback([&](const fronta::future<int>&) { EXPECT_TRUE(first_returned.load()); });
        root.set_value(0);
    });
    if (!result_future.wait_for(60s)) {
        std::fprintf(stderr, "FAILED: the callback waits on itself\n");
        std::_Exit(3);
    }
    completer.join();
    EXPECT_EQ(result_future.get(), 101);
}

// A container of move-only values claims to be copyable (std::is_copy_constructible), so
// get() && used to instantiate a copy that cannot compile; it moves the value out instead.
TEST(future_values, get_of_a_container_of_move_only_values_moves_it_out) {
    fronta::promise<std::vector<std::unique_ptr<int>>> p;
    auto f = p.get_future();
    std::vector<std::unique_ptr<int>> v;
    v.push_back(std::make_unique<int>(7));
    p.set_value(std::move(v));
    std::vector<std::unique_ptr<int>> out = std::move(f).get();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(*out[0], 7);
    static_assert(!fronta::detail::copyable_value_v<std::vector<std::unique_ptr<int>>>);
    static_assert(fronta::detail::copyable_value_v<std::vector<std::string>>);
    static_assert(fronta::detail::copyable_value_v<std::string>);
}
