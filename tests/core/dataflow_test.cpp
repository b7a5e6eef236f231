// Futures as task arguments (`ex.submit(f, a, fut_b)`) on inline_executor, thread_pool and the
// type-erased `executor` over each: values (copied, or moved when the task holds the last handle),
// move-only values, future<void> as a pure dependency, std::ref(fut) passing the handle; inputs
// done before submit; failures and cancellation along chains, fans and diamonds, an input
// cancelled while its consumer waits, a consumer cancelled while it waits. Promises complete the
// inputs; nothing sleeps. tests/core/dataflow_graph_test.cpp has big graphs, other executors and
// shutdown.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "dataflow_support.hpp"
#include "fronta/combinators.hpp"
#include "fronta/promise.hpp"

namespace {
template <class Maker>
class dataflow : public dataflow_fixture<Maker> {};
TYPED_TEST_SUITE(dataflow, makers, maker_names);
}  // namespace

// ---- values -------------------------------------------------------------------------------------

TYPED_TEST(dataflow, a_future_argument_is_replaced_by_its_value_once_every_input_is_done) {
    auto ex = TypeParam::make();
    fronta::promise<int> a;
    fronta::promise<std::string> b;
    std::atomic<int> calls{0};
    auto f = ex.submit(
        [&calls](int x, const std::string& s, double y) {
            ++calls;
            return s + std::to_string(x) + "/" + std::to_string(int(y));
        },
        a.get_future(), b.get_future(), 2.0);
    EXPECT_FALSE(f.done());
    a.set_value(7);
    EXPECT_FALSE(f.done());  // b is not done yet
    EXPECT_EQ(calls, 0);
    b.set_value("x");
    EXPECT_EQ(done_within(f).get(), "x7/2");
    EXPECT_EQ(calls, 1);
}

TYPED_TEST(dataflow, futures_of_the_same_executor_chain_without_the_client_waiting) {
    auto ex = TypeParam::make();
    auto three = ex.submit([] { return 3; });
    auto nine = ex.submit([](int x) { return x * x; }, three);
    auto ninety_nine = ex.submit([](int x, int y) { return x * 10 + y; }, nine, nine);  // one input twice
    EXPECT_EQ(done_within(ninety_nine).get(), 99);
    EXPECT_EQ(three.get(), 3);
    EXPECT_EQ(nine.get(), 9);
}

TYPED_TEST(dataflow, an_input_passed_twice_reaches_both_parameters_whole) {
    auto ex = TypeParam::make();
    fronta::promise<std::string> p;
    fronta::future<std::string> both;
    {
        auto text = p.get_future();
        both = ex.submit([](std::string x, std::string y) { return x + "|" + y; }, text, text);
    }  // the task holds both handles, the client none
    p.set_value(std::string(100, 'a'));
    // Moving the value out for the first parameter must not leave the second empty.
    EXPECT_EQ(done_within(both).get(), std::string(100, 'a') + "|" + std::string(100, 'a'));
}

TYPED_TEST(dataflow, a_value_the_client_can_still_read_is_copied_into_the_task) {
    auto ex = TypeParam::make();
    auto text = ex.submit([] { return std::string(1000, 'x'); });
    auto taken = ex.submit(
        [](std::string&& v) {
            const std::string mine = std::move(v);  // the task may take what it was given
            return mine.size();
        },
        text);
    EXPECT_EQ(done_within(taken).get(), 1000U);
    EXPECT_EQ(text.get(), std::string(1000, 'x'));  // the client's value is intact
}

TYPED_TEST(dataflow, a_value_only_the_task_can_read_is_moved_not_copied) {
    auto ex = TypeParam::make();
    tracked::copies = 0;
    fronta::future<tracked> last = ex.submit([] { return tracked(0); });
    for (int k = 0; k < 100; ++k)
        last = ex.submit([](tracked t) { return tracked(t.value + 1); }, std::move(last));  // the client keeps none
    EXPECT_EQ(done_within(last).get().value, 100);
    EXPECT_EQ(tracked::copies, 0);  // each value moved into the one task that could read it
}

TYPED_TEST(dataflow, move_only_values_move_along_a_chain) {
    auto ex = TypeParam::make();
    fronta::future<std::unique_ptr<int>> last = ex.submit([] { return std::make_unique<int>(1); });
    for (int k = 0; k < 100; ++k)
        last = ex.submit(
            [](std::unique_ptr<int> p) {
                ++*p;
                return p;
            },
            std::move(last));
    done_within(last);
    EXPECT_EQ(*last.take(), 101);

    fronta::promise<std::unique_ptr<int>> a, b;
    auto sum = ex.submit([](std::unique_ptr<int> x, const std::unique_ptr<int>& y) { return *x + *y; }, a.get_future(),
                         b.get_future());
    b.set_value(std::make_unique<int>(20));
    a.set_value(std::make_unique<int>(1));
    EXPECT_EQ(done_within(sum).get(), 21);
}

TYPED_TEST(dataflow, future_void_is_a_dependency_that_passes_nothing) {
    auto ex = TypeParam::make();
    std::vector<int> log;  // written by the producers, read by the consumer after them
    fronta::promise<void> later;
    auto first = ex.submit([&log] { log.push_back(1); });
    auto second = ex.submit([&log] { log.push_back(2); }, first);
    auto reader = ex.submit([&log](int x) { return int(log.size()) * 100 + x; }, second, later.get_future(), 7, first);
    EXPECT_FALSE(reader.done());
    later.set_value();
    EXPECT_EQ(done_within(reader).get(), 207);
    EXPECT_EQ(log, (std::vector<int>{1, 2}));

    fronta::promise<void> broken;
    auto after_failure = ex.submit([] { return 1; }, broken.get_future());
    broken.set_exception(error("void input failed"));
    expect_failed_with(after_failure, "void input failed");
    fronta::promise<void> dropped;
    auto after_cancel = ex.submit([] { return 1; }, dropped.get_future());
    EXPECT_TRUE(dropped.get_future().cancel());
    expect_cancelled(after_cancel);
}

TYPED_TEST(dataflow, std_ref_passes_the_handle_itself_and_the_task_does_not_wait_for_it) {
    auto ex = TypeParam::make();
    fronta::promise<int> p;
    fronta::future<int> pending = p.get_future();
    auto seen =
        ex.submit([&pending](
                      fronta::future<int>& f) { return !f.done() && f.state() == pending.state() && &f == &pending; },
                  std::ref(pending));
    EXPECT_TRUE(done_within(seen).get());  // ran while the future was pending, with that very handle
    auto by_value = ex.submit([](fronta::future<int> f) { return f.valid() && !f.done(); }, std::cref(pending));
    EXPECT_TRUE(done_within(by_value).get());
    p.set_value(1);
}

TYPED_TEST(dataflow, inputs_done_before_submit) {
    auto ex = TypeParam::make();
    fronta::promise<int> ready;
    ready.set_value(4);
    auto f = ex.submit([](int x, int y) { return x + y; }, ready.get_future(), ready.get_future());
    if (TypeParam::runs_at_submit) {
        EXPECT_TRUE(f.done());
    }
    EXPECT_EQ(done_within(f).get(), 8);

    fronta::promise<int> failed;
    failed.set_exception(error("failed before"));
    std::atomic<int> calls{0};
    auto g = ex.submit(
        [&calls](int x) {
            ++calls;
            return x;
        },
        failed.get_future());
    expect_failed_with(g, "failed before");

    fronta::promise<int> cancelled;
    EXPECT_TRUE(cancelled.get_future().cancel());
    auto h = ex.submit(
        [&calls](int x) {
            ++calls;
            return x;
        },
        cancelled.get_future());
    expect_cancelled(h);
    EXPECT_EQ(calls, 0);
}

// ---- failures and cancellation ----------------------------------------------------------------------

TYPED_TEST(dataflow, a_failure_passes_down_a_chain_of_10000_without_running_it) {
    auto ex = TypeParam::make();
    std::atomic<int> calls{0};
    fronta::promise<int> head;
    fronta::future<int> last = head.get_future();
    for (int k = 0; k < 10'000; ++k)
        last = ex.submit(
            [&calls](int x) {
                ++calls;
                return x + 1;
            },
            std::move(last));
    head.set_exception(error("at the head"));  // on the inline executor: the whole chain, here
    expect_failed_with(last, "at the head");
    EXPECT_EQ(calls, 0);
}

TYPED_TEST(dataflow, a_chain_of_10000_gives_its_value_and_a_failure_midway_stops_it_there) {
    auto ex = TypeParam::make();
    std::atomic<int> calls{0};
    fronta::promise<int> head;
    fronta::future<int> last = head.get_future();
    fronta::future<int> before_failure;
    for (int k = 0; k < 10'000; ++k) {
        last = ex.submit(
            [&calls, k](int x) {
                ++calls;
                if (k == 5'000) throw custom_error("midway");
                return x + 1;
            },
            std::move(last));
        if (k == 4'999) before_failure = last;
    }
    head.set_value(0);
    expect_failed_with(last, "midway");
    EXPECT_EQ(done_within(before_failure).get(), 5'000);
    EXPECT_EQ(calls, 5'001);

    fronta::future<int> whole = ex.submit([] { return 0; });
    for (int k = 0; k < 10'000; ++k) whole = ex.submit([](int x) { return x + 1; }, std::move(whole));
    EXPECT_EQ(done_within(whole).get(), 10'000);
}

TYPED_TEST(dataflow, cancelling_the_head_of_a_chain_of_10000_cancels_all_of_it) {
    auto ex = TypeParam::make();
    std::atomic<int> calls{0};
    fronta::promise<int> head;
    fronta::future<int> first = head.get_future();
    fronta::future<int> last = first;
    std::vector<fronta::future<int>> all;
    for (int k = 0; k < 10'000; ++k) {
        last = ex.submit(
            [&calls](int x) {
                ++calls;
                return x;
            },
            std::move(last));
        if (k % 1000 == 0) all.push_back(last);
    }
    EXPECT_TRUE(first.cancel());  // an input cancelled while its consumers wait
    expect_cancelled(last);
    for (auto& f : all) expect_cancelled(f);
    EXPECT_EQ(calls, 0);
}

TYPED_TEST(dataflow, the_first_failed_input_in_argument_order_fails_the_task) {
    auto ex = TypeParam::make();
    fronta::promise<int> a, b, c;
    auto f = ex.submit([](int x, int y, int z) { return x + y + z; }, a.get_future(), b.get_future(), c.get_future());
    c.set_exception(error("third"));
    b.set_exception(error("second"));
    a.set_value(1);
    expect_failed_with(f, "second");

    fronta::promise<int> d, e;
    auto g = ex.submit([](int x, int y) { return x + y; }, d.get_future(), e.get_future());
    e.set_exception(error("later in the arguments, earlier in time"));
    d.set_exception(error("earlier in the arguments"));
    expect_failed_with(g, "earlier in the arguments");
}

TYPED_TEST(dataflow, fan_in_of_1000_through_gather_and_through_a_tree) {
    auto ex = TypeParam::make();
    std::vector<fronta::future<long>> leaves;
    for (long i = 0; i < 1000; ++i) leaves.push_back(ex.submit([](long x) { return x * x; }, i));
    auto total =
        ex.submit([](const std::vector<long>& values) { return std::accumulate(values.begin(), values.end(), 0L); },
                  fronta::gather(leaves));
    std::vector<fronta::future<long>> level = leaves;
    while (level.size() > 1) {
        std::vector<fronta::future<long>> next;
        for (std::size_t k = 0; k + 1 < level.size(); k += 2)
            next.push_back(ex.submit([](long x, long y) { return x + y; }, level[k], level[k + 1]));
        if (level.size() % 2) next.push_back(level.back());
        level = std::move(next);
    }
    constexpr long expected = 999L * 1000 * 1999 / 6;  // the sum of squares below 1000
    EXPECT_EQ(done_within(total).get(), expected);
    EXPECT_EQ(done_within(level[0]).get(), expected);
}

TYPED_TEST(dataflow, fan_in_of_1000_fails_with_the_one_failed_leaf_and_is_cancelled_by_a_cancelled_one) {
    auto ex = TypeParam::make();
    for (const bool cancel : {false, true}) {
        std::vector<fronta::promise<long>> promises(1000);
        std::vector<fronta::future<long>> level;
        for (auto& p : promises) level.push_back(p.get_future());
        auto gathered = ex.submit([](std::vector<long> v) { return long(v.size()); }, fronta::gather(level));
        while (level.size() > 1) {
            std::vector<fronta::future<long>> next;
            for (std::size_t k = 0; k + 1 < level.size(); k += 2)
                next.push_back(ex.submit([](long x, long y) { return x + y; }, level[k], level[k + 1]));
            if (level.size() % 2) next.push_back(level.back());
            level = std::move(next);
        }
        auto root = level[0];
        level.clear();
        for (std::size_t i = 0; i < promises.size(); ++i) {
            if (i != 617)
                promises[i].set_value(long(i));
            else if (cancel)
                EXPECT_TRUE(promises[i].get_future().cancel());
            else
                promises[i].set_exception(error("leaf 617"));
        }
        if (cancel) {
            expect_cancelled(root);
            // gather reports a cancelled input as cancelled_error (a failure): the task fails with it
            EXPECT_THROW(done_within(gathered).get(), fronta::cancelled_error);
        } else {
            expect_failed_with(root, "leaf 617");
            expect_failed_with(gathered, "leaf 617");
        }
    }
}

TYPED_TEST(dataflow, fan_out_of_1000_from_one_input) {
    auto ex = TypeParam::make();
    for (int outcome = 0; outcome < 3; ++outcome) {
        std::atomic<int> calls{0};
        fronta::promise<std::string> p;
        std::vector<fronta::future<std::size_t>> consumers;
        {
            auto input = p.get_future();
            for (std::size_t i = 0; i < 1000; ++i)
                consumers.push_back(ex.submit(
                    [&calls](const std::string& s, std::size_t k) {
                        ++calls;
                        return s.size() + k;
                    },
                    input, i));
        }
        if (outcome == 0) p.set_value(std::string(50, 'v'));
        if (outcome == 1) p.set_exception(error("the one input"));
        if (outcome == 2) {
            EXPECT_TRUE(p.get_future().cancel());
        }
        for (std::size_t i = 0; i < consumers.size(); ++i) {
            if (outcome == 0) {
                EXPECT_EQ(done_within(consumers[i]).get(), 50 + i);
            }
            if (outcome == 1) expect_failed_with(consumers[i], "the one input");
            if (outcome == 2) expect_cancelled(consumers[i]);
        }
        EXPECT_EQ(calls, outcome == 0 ? 1000 : 0);
    }
}

TYPED_TEST(dataflow, diamond) {
    auto ex = TypeParam::make();
    auto diamond = [&](fronta::future<int> top, bool left_throws, bool right_throws) {
        auto left = ex.submit(
            [left_throws](int x) {
                if (left_throws) throw custom_error("left");
                return x + 1;
            },
            top);
        auto right = ex.submit(
            [right_throws](int x) {
                if (right_throws) throw custom_error("right");
                return x * 2;
            },
            top);
        return ex.submit([](int x, int y) { return x * y; }, std::move(left), std::move(right));
    };
    fronta::promise<int> a;
    auto d = diamond(a.get_future(), false, false);
    a.set_value(3);
    EXPECT_EQ(done_within(d).get(), 4 * 6);

    fronta::promise<int> b;
    auto failed_top = diamond(b.get_future(), false, false);
    b.set_exception(error("top"));
    expect_failed_with(failed_top, "top");

    fronta::promise<int> c;
    auto cancelled_top = diamond(c.get_future(), false, false);
    EXPECT_TRUE(c.get_future().cancel());
    expect_cancelled(cancelled_top);

    fronta::promise<int> e;
    auto right_failed = diamond(e.get_future(), false, true);
    auto both_failed = diamond(e.get_future(), true, true);
    e.set_value(1);
    expect_failed_with(right_failed, "right");
    expect_failed_with(both_failed, "left");  // the first in argument order
}

TYPED_TEST(dataflow, an_input_cancelled_while_the_consumer_waits_cancels_it_without_running_it) {
    auto ex = TypeParam::make();
    std::atomic<int> calls{0};
    fronta::promise<int> a, b;
    auto f = ex.submit(
        [&calls](int x, int y) {
            ++calls;
            return x + y;
        },
        a.get_future(), b.get_future());
    a.set_value(1);
    EXPECT_FALSE(f.done());
    EXPECT_TRUE(b.get_future().cancel());
    expect_cancelled(f);
    EXPECT_EQ(calls, 0);
}

TYPED_TEST(dataflow, a_consumer_cancelled_while_it_waits_never_runs_and_leaves_nothing_behind) {
    tracked::alive = 0;
    std::atomic<int> calls{0};
    {
        auto ex = TypeParam::make();
        fronta::promise<tracked> a;
        fronta::promise<std::unique_ptr<int>> b;
        auto b_future = b.get_future();
        auto f = ex.submit(
            [&calls](const tracked& x, std::unique_ptr<int> y, const tracked& z) {
                ++calls;
                return x.value + *y + z.value;
            },
            a.get_future(), b_future, tracked(100));
        EXPECT_TRUE(f.cancel());
        EXPECT_TRUE(f.cancelled());
        a.set_value(tracked(1));
        b.set_value(std::make_unique<int>(2));
        EXPECT_TRUE(done_within(f).cancelled());
        EXPECT_EQ(*b_future.take(), 2);  // the cancelled task took nothing out of its input
        ex.shutdown(true);
        EXPECT_EQ(tracked::alive, 1);  // a's value, in its promise's state; the bound argument is gone
    }
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(tracked::alive, 0);
}
