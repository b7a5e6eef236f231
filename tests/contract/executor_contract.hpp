#pragma once
// The contract every fronta executor keeps, written once and run on each of them: inline,
// thread_pool, process_pool, mpi_pool and the type-erased `executor` over a pool. A binary
// includes this once and instantiates the suite with a maker per executor:
//
//   struct thread_pool_maker {
//       static constexpr bool runs_at_submit = false;   // true: inline_executor (nothing queues)
//       static fronta::thread_pool make() { return fronta::thread_pool(2); }
//   };
//   using makers = testing::Types<thread_pool_maker>;
//   INSTANTIATE_TYPED_TEST_SUITE_P(threads, executor_contract, makers);
//
// Only what every executor promises is asserted here; what one executor adds (crashes, retries,
// timeouts, compile-time errors, callbacks on the dispatcher) has its own tests beside it. Tasks
// are functions every executor can run: registered with FRONTA_REMOTE, captureless lambdas and
// serializable function objects. Tasks that must stay queued wait at a FIFO `gate` (works across
// processes of one machine); the tests never sleep to order events.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <numeric>
#include <ranges>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fronta/as_completed.hpp"
#include "fronta/errors.hpp"
#include "fronta/future.hpp"
#include "fronta/map_reduce.hpp"
#include "fronta/promise.hpp"
#include "fronta/wait.hpp"
#include "remote_functions.hpp"

namespace {

std::string shout(std::string text, int times) {
    std::string out;
    for (int i = 0; i < times; ++i) out += text + "!";
    return out;
}
FRONTA_REMOTE(shout);

struct point {
    double x = 0, y = 0;
    template <class Archive>
    void serialize(Archive& archive) {
        archive(x, y);
    }
};
point midpoint(std::vector<point> points) {
    point m;
    for (auto& p : points) {
        m.x += p.x / points.size();
        m.y += p.y / points.size();
    }
    return m;
}
FRONTA_REMOTE(midpoint);

// Returns nothing, so a failure is the only sign that it ran: it throws for negative input.
void require_non_negative(int x) {
    if (x < 0) throw std::invalid_argument("negative: " + std::to_string(x));
}
FRONTA_REMOTE(require_non_negative);

std::unique_ptr<int> boxed(int x) { return std::make_unique<int>(x); }
FRONTA_REMOTE(boxed);

int unboxed(std::unique_ptr<int> p) { return p ? *p * 2 : -1; }
FRONTA_REMOTE(unboxed);

double add(double a, double b) { return a + b; }
FRONTA_REMOTE(add);

// A reduction whose failure says where it came from.
long long add_unless_negative(long long a, long long b) {
    if (a < 0 || b < 0) throw std::domain_error("negative partial sum");
    return a + b;
}
FRONTA_REMOTE(add_unless_negative);

// Shutdown has begun once a submit is refused: then opens `g` for `waiters` tasks. Run on a
// thread of its own while the test calls shutdown, so that shutdown(wait=true) is certain to be
// waiting when the gated tasks are let go (and a shutdown that does not wait returns early).
template <class Executor>
std::thread open_gate_once_shutdown_began(Executor& ex, gate& g, std::size_t waiters) {
    return std::thread([&ex, &g, waiters] {
        for (;;) {
            try {
                ex.submit(square, 0.0);
            } catch (const fronta::shutdown_error&) {
                break;
            }
        }
        g.open(waiters);
    });
}

}  // namespace

template <class Maker>
class executor_contract : public testing::Test {
protected:
    decltype(Maker::make()) ex = Maker::make();
    static constexpr bool runs_at_submit = Maker::runs_at_submit;
};

TYPED_TEST_SUITE_P(executor_contract);

TYPED_TEST_P(executor_contract, submit_returns_values_of_registered_functions_and_user_types) {
    auto& ex = this->ex;
    EXPECT_DOUBLE_EQ(ex.submit(square, 5.0).get(), 25.0);
    EXPECT_DOUBLE_EQ(ex.submit(square, 3).get(), 9.0) << "arguments convert to the parameter types";
    EXPECT_EQ(ex.submit(shout, std::string("hey"), 2).get(), "hey!hey!");
    const point m = ex.submit(midpoint, std::vector<point>{{0, 0}, {2, 4}}).get();
    EXPECT_DOUBLE_EQ(m.x, 1.0);
    EXPECT_DOUBLE_EQ(m.y, 2.0);
}

TYPED_TEST_P(executor_contract, submit_of_a_void_function_runs_it) {
    auto& ex = this->ex;
    fronta::future<void> fine = ex.submit(require_non_negative, 3);
    EXPECT_NO_THROW(fine.get());
    EXPECT_TRUE(fine.done());
    EXPECT_THROW(ex.submit(require_non_negative, -3).get(), std::invalid_argument) << "it ran";
}

TYPED_TEST_P(executor_contract, submit_with_move_only_result_and_argument) {
    auto& ex = this->ex;
    auto f = ex.submit(boxed, 21);
    std::unique_ptr<int> owned = f.take();
    ASSERT_NE(owned, nullptr);
    EXPECT_EQ(*owned, 21);
    EXPECT_EQ(ex.submit(unboxed, std::make_unique<int>(21)).get(), 42);
}

TYPED_TEST_P(executor_contract, ships_captureless_lambdas_and_function_objects_with_state) {
    auto& ex = this->ex;
    EXPECT_EQ(ex.submit([](int a, int b) { return a * b; }, 6, 7).get(), 42);
    EXPECT_DOUBLE_EQ(ex.submit(scaler{2.5}, 4.0).get(), 10.0);
    EXPECT_DOUBLE_EQ(ex.submit(scaler{-1}, 4.0).get(), -4.0) << "each object carries its own state";
}

TYPED_TEST_P(executor_contract, standard_and_registered_exceptions_come_back_typed) {
    auto& ex = this->ex;
    try {
        ex.submit(throw_kind, 0).get();
        FAIL() << "expected std::out_of_range";
    } catch (const std::out_of_range& e) {
        EXPECT_STREQ(e.what(), "index 7 of 3");
    }
    try {
        ex.submit(throw_kind, 1).get();
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "bad argument");
    }
    try {
        ex.submit(throw_kind, 2).get();
        FAIL() << "expected parse_error (registered with FRONTA_REMOTE_EXCEPTION)";
    } catch (const parse_error& e) {
        EXPECT_STREQ(e.what(), "line 3: unexpected ','");
    }
    // An unregistered type is itself in process and a remote_error out of it: a runtime_error
    // whose message survives either way.
    try {
        ex.submit(throw_kind, 3).get();
        FAIL() << "expected a std::runtime_error";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("mine"), std::string::npos) << e.what();
    }
    EXPECT_EQ(ex.submit(throw_kind, 9).get(), 9) << "the executor goes on after exceptions";
}

TYPED_TEST_P(executor_contract, map_gives_results_in_input_order_with_any_chunk_size) {
    auto& ex = this->ex;
    std::vector<double> inputs(1000);
    std::iota(inputs.begin(), inputs.end(), 0.0);
    for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{64}, std::size_t{5000}}) {
        std::vector<double> out;
        for (double y : ex.map(square, inputs, {.chunk_size = chunk})) out.push_back(y);
        ASSERT_EQ(out.size(), inputs.size()) << "chunk_size " << chunk;
        for (std::size_t i = 0; i < out.size(); ++i) ASSERT_DOUBLE_EQ(out[i], inputs[i] * inputs[i]) << "at " << i;
    }
    std::vector<int> out;
    for (int y : ex.map([](int x) { return x * 10; }, std::vector<int>{1, 2, 3})) out.push_back(y);
    EXPECT_EQ(out, (std::vector<int>{10, 20, 30})) << "a captureless lambda";
    int count = 0;
    for (double y : ex.map(square, std::vector<double>{})) count += 1 + int(y);
    EXPECT_EQ(count, 0) << "empty input";
    EXPECT_THROW(ex.map(square, inputs, {.chunk_size = 0}), std::invalid_argument);
}

TYPED_TEST_P(executor_contract, map_reads_a_lazy_input_as_results_are_consumed) {
    auto& ex = this->ex;
    double total = 0;
    auto inputs = std::views::iota(0, 200'000) | std::views::transform([](int k) { return double(k % 10); });
    for (double y : ex.map(square, inputs, {.chunk_size = 1000, .max_in_flight = 4})) total += y;
    EXPECT_DOUBLE_EQ(total, 20'000.0 * (0 + 1 + 4 + 9 + 16 + 25 + 36 + 49 + 64 + 81));
}

TYPED_TEST_P(executor_contract, map_exception_surfaces_when_iterating_to_its_element) {
    auto& ex = this->ex;
    for (std::size_t chunk : {std::size_t{1}, std::size_t{2}, std::size_t{10}}) {
        std::vector<int> seen;
        try {
            for (int y : ex.map(throw_kind, std::vector<int>{5, 6, 7, 0, 8}, {.chunk_size = chunk})) seen.push_back(y);
            FAIL() << "expected std::out_of_range, chunk_size " << chunk;
        } catch (const std::out_of_range& e) {
            EXPECT_STREQ(e.what(), "index 7 of 3");
        }
        EXPECT_EQ(seen, (std::vector<int>{5, 6, 7})) << "the results before it, chunk_size " << chunk;
    }
}

TYPED_TEST_P(executor_contract, map_unordered_yields_every_result) {
    auto& ex = this->ex;
    std::vector<double> inputs(5000);
    std::iota(inputs.begin(), inputs.end(), 0.0);
    for (std::size_t chunk : {std::size_t{1}, std::size_t{100}}) {
        std::multiset<double> got;
        for (double y : ex.map_unordered(scaler{3}, inputs, {.chunk_size = chunk, .max_in_flight = 3})) got.insert(y);
        std::multiset<double> expected;
        for (double x : inputs) expected.insert(3 * x);
        EXPECT_EQ(got, expected) << "chunk_size " << chunk;
    }
}

TYPED_TEST_P(executor_contract, map_unordered_exception_ends_iteration) {
    auto& ex = this->ex;
    std::vector<int> inputs{5, 6, 0, 7, 8};
    std::vector<int> seen;
    try {
        for (int y : ex.map_unordered(throw_kind, inputs, {.chunk_size = 2})) seen.push_back(y);
        FAIL() << "expected std::out_of_range";
    } catch (const std::out_of_range&) {
    }
    for (int y : seen) EXPECT_TRUE(y == 5 || y == 6 || y == 7 || y == 8) << y;
    EXPECT_LE(seen.size(), 4u);
}

double weighted(double x, double weight, int times) { return x * weight * times; }
FRONTA_REMOTE(weighted);

TYPED_TEST_P(executor_contract, map_over_several_ranges_pairs_their_elements_and_stops_at_the_shortest) {
    auto& ex = this->ex;
    const std::vector<std::string> words{"a", "b", "c"};
    std::vector<std::string> out;
    for (auto& s : ex.map(shout, words, std::vector<int>{1, 2})) out.push_back(s);
    EXPECT_EQ(out, (std::vector<std::string>{"a!", "b!b!"})) << "the shorter second range ends it";
    out.clear();
    for (auto& s : ex.map(shout, words, std::views::iota(1))) out.push_back(s);
    EXPECT_EQ(out, (std::vector<std::string>{"a!", "b!b!", "c!c!c!"})) << "an infinite range beside a finite one";
    std::vector<double> xs(500), ws(600, 0.5);
    std::iota(xs.begin(), xs.end(), 0.0);
    for (std::size_t chunk : {std::size_t{1}, std::size_t{64}}) {
        std::vector<double> got;
        for (double y : ex.map(weighted, xs, ws, std::vector<int>(1000, 4), fronta::map_options{.chunk_size = chunk}))
            got.push_back(y);
        ASSERT_EQ(got.size(), 500u) << "three ranges, chunk_size " << chunk;
        for (std::size_t i = 0; i < got.size(); ++i) ASSERT_DOUBLE_EQ(got[i], 2.0 * i) << i;
    }
    std::multiset<int> sums;
    for (int s : ex.map_unordered([](int a, int b) { return a + b; }, std::vector<int>{1, 2, 3},
                                  std::vector<int>{10, 20, 30}, {.chunk_size = 2}))
        sums.insert(s);
    EXPECT_EQ(sums, (std::multiset<int>{11, 22, 33})) << "map_unordered, a captureless lambda, options";
    int count = 0;
    for (int s : ex.map([](int a, int b) { return a + b; }, std::vector<int>{}, std::vector<int>{1})) count += 1 + s;
    EXPECT_EQ(count, 0) << "an empty range";
}

TYPED_TEST_P(executor_contract, map_reduce_combines_every_result_once_with_any_chunk_size) {
    auto& ex = this->ex;
    std::vector<double> inputs(1000);
    std::iota(inputs.begin(), inputs.end(), 0.0);
    const double squares = 999.0 * 1000 * 1999 / 6;
    for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{64}, std::size_t{5000}}) {
        // init is used once, so it need not be an identity of the reduction.
        EXPECT_DOUBLE_EQ(fronta::map_reduce(ex, square, inputs, add, 1e6, {.chunk_size = chunk}), squares + 1e6)
            << "registered functions, chunk_size " << chunk;
        EXPECT_DOUBLE_EQ(fronta::map_reduce(ex, scaler{3}, inputs, std::plus<double>(), 0.0,
                                            {.chunk_size = chunk, .max_in_flight = 2}),
                         3 * 999.0 * 1000 / 2)
            << "a function object with state, a standard one, chunk_size " << chunk;
    }
    const auto longest = fronta::map_reduce(
        ex, [](std::string s) { return s.size(); }, std::vector<std::string>{"a", "abcd", "ab"},
        [](std::size_t a, std::size_t b) { return std::max(a, b); }, std::size_t{0});
    EXPECT_EQ(longest, 4u) << "captureless lambdas";
    EXPECT_DOUBLE_EQ(fronta::map_reduce(ex, square, std::vector<double>{}, add, 42.0), 42.0) << "empty input: init";
    auto lazy = std::views::iota(0, 100'000) | std::views::transform([](int k) { return double(k % 10); });
    EXPECT_DOUBLE_EQ(fronta::map_reduce(ex, square, lazy, add, 0.0, {.chunk_size = 1000, .max_in_flight = 3}),
                     10'000.0 * 285)
        << "a lazy input";
    EXPECT_THROW(fronta::map_reduce(ex, square, inputs, add, 0.0, {.chunk_size = 0}), std::invalid_argument);
}

TYPED_TEST_P(executor_contract, map_reduce_rethrows_a_failure_of_f_or_of_reduce) {
    auto& ex = this->ex;
    for (std::size_t chunk : {std::size_t{1}, std::size_t{3}}) {
        try {
            fronta::map_reduce(ex, throw_kind, std::vector<int>{5, 6, 0, 7, 8}, std::plus<int>(), 0,
                               {.chunk_size = chunk});
            FAIL() << "expected std::out_of_range, chunk_size " << chunk;
        } catch (const std::out_of_range& e) {
            EXPECT_STREQ(e.what(), "index 7 of 3");
        }
    }
    try {
        fronta::map_reduce(ex, [](int x) { return static_cast<long long>(x); }, std::vector<int>{1, 2, -3, 4},
                           add_unless_negative, 0LL, {.chunk_size = 4});
        FAIL() << "expected std::domain_error from the reduction inside the chunk";
    } catch (const std::domain_error& e) {
        EXPECT_STREQ(e.what(), "negative partial sum");
    }
    EXPECT_EQ(fronta::map_reduce(ex, throw_kind, std::vector<int>{5, 6}, std::plus<int>(), 0), 11)
        << "the executor goes on after failures";
}

TYPED_TEST_P(executor_contract, wait_and_as_completed_work_on_its_futures) {
    auto& ex = this->ex;
    std::vector<fronta::future<double>> futures;
    for (int i = 0; i < 20; ++i) futures.push_back(ex.submit(square, double(i)));
    double total = 0;
    for (const auto& f : fronta::as_completed(futures)) total += f.get();
    EXPECT_DOUBLE_EQ(total, 2470.0);
    auto all = fronta::wait(futures);
    EXPECT_EQ(all.done.size(), futures.size());
    EXPECT_TRUE(all.not_done.empty());
    EXPECT_DOUBLE_EQ(ex.submit(square, 3.0).then([](double y) { return y + 1; }).get(), 10.0);

    std::vector<fronta::future<int>> mixed{ex.submit(throw_kind, 5), ex.submit(throw_kind, 0)};
    auto failed = fronta::wait(mixed, fronta::return_when::first_exception);
    ASSERT_FALSE(failed.done.empty());
    EXPECT_TRUE(
        std::any_of(failed.done.begin(), failed.done.end(), [](const auto& f) { return f.exception() != nullptr; }));

    if constexpr (!TestFixture::runs_at_submit) {
        // first_completed with one future done and one that cannot finish (it waits at a gate).
        auto quick = ex.submit(throw_kind, 5);
        EXPECT_EQ(quick.get(), 5);
        gate g;
        std::vector<fronta::future<int>> both{ex.submit(wait_at_gate, g.path()), quick};
        auto first = fronta::wait(both, fronta::return_when::first_completed);
        EXPECT_EQ(first.done, (std::vector<fronta::future<int>>{quick}));
        EXPECT_EQ(first.not_done, (std::vector<fronta::future<int>>{both[0]}));
        // A wait wakes up when the gated one completes.
        std::thread opener([&g] { g.open(); });
        auto last = fronta::wait(std::vector<fronta::future<int>>{both[0]}, std::chrono::seconds(60),
                                 fronta::return_when::first_completed);
        opener.join();
        EXPECT_EQ(last.done.size(), 1u);
        EXPECT_EQ(both[0].get(), 1);
    }
}

// A free worker takes the next task. What broke: on a new process_pool under load, the second
// worker was still starting, the first had learnt that tasks are short and took them 32 ahead, so
// the quick task went behind the one held at its gate (about one run in three, three loops of this
// case in parallel on 2 cores). Now nothing is sent ahead while a worker is starting.
TYPED_TEST_P(executor_contract, a_quick_task_is_not_held_behind_one_waiting_at_its_gate) {
    if constexpr (TestFixture::runs_at_submit) {
        GTEST_SKIP() << "runs each task inside submit: one task at a time";
    } else {
        auto& ex = this->ex;
        std::vector<fronta::future<double>> batch;  // short tasks: the pool learns they are short
        for (int i = 0; i < 20; ++i) batch.push_back(ex.submit(square, double(i)));
        for (auto& f : batch) f.get();
        gate g;
        std::vector<fronta::future<int>> both{ex.submit(wait_at_gate, g.path()), ex.submit(throw_kind, 5)};
        auto first = fronta::wait(both, std::chrono::seconds(30), fronta::return_when::first_completed);
        g.open();
        ASSERT_EQ(first.done.size(), 1u) << "the quick task waited behind the gated one";
        EXPECT_EQ(first.done[0], both[1]);
        EXPECT_EQ(both[0].get(), 1);
        EXPECT_EQ(both[1].get(), 5);
    }
}

TYPED_TEST_P(executor_contract, submit_after_shutdown_throws_shutdown_error) {
    auto& ex = this->ex;
    EXPECT_DOUBLE_EQ(ex.submit(square, 2.0).get(), 4.0);
    ex.shutdown();
    EXPECT_THROW(ex.submit(square, 1.0), fronta::shutdown_error);
    try {
        ex.submit(square, 1.0);
    } catch (const fronta::broken_executor& e) {
        EXPECT_NE(std::string(e.what()).find("shutdown"), std::string::npos) << e.what();
    }
    EXPECT_THROW(for (double y : ex.map(square, std::vector<double>{1, 2}))(void) y, fronta::shutdown_error);
    ex.shutdown();  // idempotent
}

TYPED_TEST_P(executor_contract, shutdown_wait_returns_after_queued_work_is_done) {
    if constexpr (TestFixture::runs_at_submit) {
        GTEST_SKIP() << "runs each task inside submit: nothing is ever queued";
    } else {
        auto& ex = this->ex;
        const std::size_t held = ex.concurrency() + 8;  // every worker busy, more tasks queued
        gate g;
        std::vector<fronta::future<int>> futures;
        for (std::size_t i = 0; i < held; ++i) futures.push_back(ex.submit(wait_at_gate, g.path()));
        std::vector<fronta::future<double>> behind;
        for (int i = 0; i < 20; ++i) behind.push_back(ex.submit(square, double(i)));
        std::thread opener = open_gate_once_shutdown_began(ex, g, held);
        ex.shutdown(true, false);
        std::size_t done = 0;
        for (auto& f : futures) done += f.done() ? 1 : 0;
        for (auto& f : behind) done += f.done() ? 1 : 0;
        EXPECT_EQ(done, futures.size() + behind.size()) << "shutdown(wait=true) returned before the work was done";
        opener.join();
        for (auto& f : futures) EXPECT_EQ(f.get(), 1);
        for (int i = 0; i < 20; ++i) EXPECT_DOUBLE_EQ(behind[i].get(), double(i * i));
    }
}

TYPED_TEST_P(executor_contract, shutdown_cancel_futures_cancels_queued_tasks) {
    if constexpr (TestFixture::runs_at_submit) {
        GTEST_SKIP() << "runs each task inside submit: nothing is ever queued";
    } else {
        auto& ex = this->ex;
        constexpr std::size_t tasks = 200;  // far more than workers and what they are sent ahead
        gate g;
        std::vector<fronta::future<int>> futures;
        for (std::size_t i = 0; i < tasks; ++i) futures.push_back(ex.submit(wait_at_gate, g.path()));
        // Cancelled at once; then the tasks that had started are let go (process_pool stops them
        // instead), and shutdown(wait=true) waits for them.
        ex.shutdown(false, true);
        g.open(tasks);
        ex.shutdown(true);
        // Tasks that had started may finish or (process_pool) be stopped; those queued never run.
        std::size_t cancelled = 0, ran = 0;
        for (auto& f : futures) {
            ASSERT_TRUE(f.done()) << "shutdown(wait=true) returned with work left";
            if (f.cancelled()) {
                ++cancelled;
                EXPECT_THROW(f.get(), fronta::cancelled_error);
                continue;
            }
            try {
                if (f.get() == 1) ++ran;
            } catch (const fronta::cancelled_error&) {
                ++cancelled;
            }
        }
        EXPECT_EQ(cancelled + ran, tasks);
        EXPECT_GE(cancelled, tasks / 2) << "queued tasks were cancelled";
        EXPECT_THROW(ex.submit(square, 1.0), fronta::shutdown_error);
    }
}

// Futures as arguments: the task receives the values, once they are done, on every executor.
TYPED_TEST_P(executor_contract, future_arguments_pass_their_values_along_chains_and_fans) {
    auto& ex = this->ex;
    auto a = ex.submit(square, 3.0);
    auto b = ex.submit(add, a, 1.0);
    auto c = ex.submit(add, a, b);
    EXPECT_DOUBLE_EQ(c.get(), 19.0);
    fronta::future<double> chain = ex.submit(square, 1.0);
    for (int i = 0; i < 200; ++i) chain = ex.submit(add, chain, 1.0);
    EXPECT_DOUBLE_EQ(chain.get(), 201.0) << "a chain";
    std::vector<fronta::future<double>> fan;
    for (int i = 0; i < 50; ++i) fan.push_back(ex.submit(add, a, double(i)));
    double sum = 0;
    for (auto& f : fan) sum += f.get();
    EXPECT_DOUBLE_EQ(sum, 50 * 9.0 + 49 * 50 / 2) << "a fan out of one input";
    EXPECT_EQ(ex.submit(unboxed, ex.submit(boxed, 21)).get(), 42) << "a move-only value";
    fronta::future<void> first = ex.submit(require_non_negative, 1);
    EXPECT_DOUBLE_EQ(ex.submit(square, 5.0, first).get(), 25.0) << "a future<void> passes nothing";
}

TYPED_TEST_P(executor_contract, a_task_waits_for_inputs_without_running_and_runs_once_they_are_set) {
    auto& ex = this->ex;
    fronta::promise<double> x;
    fronta::promise<double> y;
    auto sum = ex.submit(add, x.get_future(), y.get_future());
    auto after = ex.submit(square, sum);
    x.set_value(1.5);
    EXPECT_FALSE(sum.done()) << "one input is still missing";
    y.set_value(2.5);
    EXPECT_DOUBLE_EQ(after.get(), 16.0);
}

TYPED_TEST_P(executor_contract, a_failed_input_fails_the_task_and_a_cancelled_one_cancels_it) {
    auto& ex = this->ex;
    auto bad = ex.submit(throw_kind, 1);  // std::invalid_argument("bad argument")
    auto good = ex.submit(throw_kind, 9);
    try {
        ex.submit([](int a, int b) { return a + b; }, good, bad).get();
        FAIL() << "expected the input's std::invalid_argument";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "bad argument");
    }
    EXPECT_THROW(ex.submit(require_non_negative, bad).get(), std::invalid_argument) << "and along a chain, typed";
    EXPECT_THROW(ex.submit(square, fronta::future<double>()), fronta::invalid_state_error)
        << "an empty future is refused at submit";
    std::vector<fronta::future<double>> with_empty(3);
    EXPECT_THROW(
        {
            for (double y : ex.map(square, with_empty)) (void)y;
        },
        fronta::invalid_state_error)
        << "and in map's inputs";
    fronta::promise<double> never;
    auto input = never.get_future();
    auto waiting = ex.submit(square, input);
    auto next = ex.submit(square, waiting);
    ASSERT_TRUE(input.cancel());
    EXPECT_TRUE(waiting.cancelled());
    EXPECT_TRUE(next.cancelled()) << "cancellation goes down the chain";
    EXPECT_THROW(next.get(), fronta::cancelled_error);
}

TYPED_TEST_P(executor_contract, map_over_futures_passes_their_values_and_raises_a_failed_one_at_its_element) {
    auto& ex = this->ex;
    std::vector<fronta::future<double>> inputs;
    for (int i = 0; i < 100; ++i) inputs.push_back(ex.submit(square, double(i)));
    std::vector<double> out;
    for (double y : ex.map(square, inputs, {.chunk_size = 7})) out.push_back(y);
    ASSERT_EQ(out.size(), 100u);
    for (int i = 0; i < 100; ++i) ASSERT_DOUBLE_EQ(out[i], double(i) * i * i * i) << "at " << i;
    std::vector<fronta::future<int>> ints;
    for (int kind : {9, 9, 1, 9}) ints.push_back(ex.submit(throw_kind, kind));
    std::vector<int> seen;
    try {
        for (int y : ex.map([](int x) { return x + 1; }, ints)) seen.push_back(y);
        FAIL() << "expected the third input's exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "bad argument");
    }
    EXPECT_EQ(seen, (std::vector<int>{10, 10})) << "the elements before it";
}

TYPED_TEST_P(executor_contract, shutdown_cancel_futures_cancels_tasks_waiting_for_inputs) {
    auto& ex = this->ex;
    fronta::promise<double> later;
    auto waiting = ex.submit(square, later.get_future());
    auto behind = ex.submit(add, waiting, 1.0);
    ex.shutdown(true, true);
    EXPECT_TRUE(waiting.cancelled());
    EXPECT_TRUE(behind.cancelled());
    later.set_value(2.0);  // nothing runs, nothing is left waiting
    EXPECT_TRUE(waiting.cancelled());
    EXPECT_THROW(ex.submit(square, later.get_future()), fronta::shutdown_error);
}

TYPED_TEST_P(executor_contract, shutdown_wait_runs_tasks_waiting_for_inputs_first) {
    auto& ex = this->ex;
    fronta::promise<double> later;
    auto waiting = ex.submit(square, later.get_future());
    auto behind = ex.submit(add, waiting, 1.0);
    // Sets the input once shutdown has begun (a submit is refused), so shutdown(wait=true) must
    // wait for the waiting tasks to be queued and run.
    std::thread setter([&ex, &later] {
        for (;;) {
            try {
                ex.submit(square, 0.0);
            } catch (const fronta::shutdown_error&) {
                break;
            }
        }
        later.set_value(3.0);
    });
    ex.shutdown(true);
    setter.join();
    ASSERT_TRUE(behind.done()) << "shutdown(wait=true) returned before a waiting task ran";
    EXPECT_DOUBLE_EQ(behind.get(), 10.0);
}

TYPED_TEST_P(executor_contract, concurrency_is_positive) { EXPECT_GT(this->ex.concurrency(), 0u); }

REGISTER_TYPED_TEST_SUITE_P(
    executor_contract, submit_returns_values_of_registered_functions_and_user_types, submit_of_a_void_function_runs_it,
    submit_with_move_only_result_and_argument, ships_captureless_lambdas_and_function_objects_with_state,
    standard_and_registered_exceptions_come_back_typed, map_gives_results_in_input_order_with_any_chunk_size,
    map_reads_a_lazy_input_as_results_are_consumed, map_exception_surfaces_when_iterating_to_its_element,
    map_unordered_yields_every_result, map_unordered_exception_ends_iteration,
    map_over_several_ranges_pairs_their_elements_and_stops_at_the_shortest,
    map_reduce_combines_every_result_once_with_any_chunk_size, map_reduce_rethrows_a_failure_of_f_or_of_reduce,
    wait_and_as_completed_work_on_its_futures, a_quick_task_is_not_held_behind_one_waiting_at_its_gate,
    submit_after_shutdown_throws_shutdown_error, shutdown_wait_returns_after_queued_work_is_done,
    shutdown_cancel_futures_cancels_queued_tasks, future_arguments_pass_their_values_along_chains_and_fans,
    a_task_waits_for_inputs_without_running_and_runs_once_they_are_set,
    a_failed_input_fails_the_task_and_a_cancelled_one_cancels_it,
    map_over_futures_passes_their_values_and_raises_a_failed_one_at_its_element,
    shutdown_cancel_futures_cancels_tasks_waiting_for_inputs, shutdown_wait_runs_tasks_waiting_for_inputs_first,
    concurrency_is_positive);
