// Task graphs from futures as task arguments: a Task-Bench stencil of 1,000,000 tasks with every
// result checked; inputs from three executors (and a process pool's, both ways); nothing left
// behind when the client drops its handles; shutdown with a graph half done (cancel_futures
// cancels what waits for inputs too; wait runs the rest as inputs complete); no thread held by a
// task waiting for its inputs. Inputs complete by promises or by tasks held at a gate; nothing
// sleeps. FRONTA_STRESS_TASKS sizes the big graph down for sanitizer builds. Its own main:
// process_pool workers are copies of this binary.
#include <dirent.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "dataflow_support.hpp"
#include "fronta/init.hpp"
#include "fronta/process_pool.hpp"
#include "fronta/promise.hpp"

namespace {

template <class Maker>
class dataflow_graph : public dataflow_fixture<Maker> {};
TYPED_TEST_SUITE(dataflow_graph, makers, maker_names);

// Threads of this process, from /proc.
int thread_count() {
    int n = 0;
    if (DIR* dir = opendir("/proc/self/task")) {
        while (dirent* entry = readdir(dir)) n += entry->d_name[0] != '.';
        closedir(dir);
    }
    return n;
}

long stress_tasks() {
    const char* env = std::getenv("FRONTA_STRESS_TASKS");
    return env ? std::atol(env) : 1'000'000;
}

}  // namespace

// ---- graphs ------------------------------------------------------------------------------------------

namespace {
std::uint64_t mix(std::uint64_t left, std::uint64_t centre, std::uint64_t right, std::uint64_t step) {
    std::uint64_t h = centre * 0x9E3779B97F4A7C15ull ^ (left + 0x632BE59BD9B4E019ull) ^ (right << 7) ^ step;
    return h ^ (h >> 29);
}
}  // namespace

// Task Bench's stencil_1d: width W, each point of step t depends on points i-1, i, i+1 of step t-1.
// Every result is checked against a serial loop, as it completes; the client keeps one step.
TYPED_TEST(dataflow_graph, a_stencil_graph_of_a_million_tasks_gives_every_value_of_the_serial_loop) {
    constexpr long width = 1000;
    const long steps = std::max(2L, stress_tasks() / width);
    std::vector<std::uint64_t> expected(width * steps);
    for (long i = 0; i < width; ++i) expected[i] = std::uint64_t(i) * 7 + 1;
    for (long t = 1; t < steps; ++t)
        for (long i = 0; i < width; ++i) {
            const std::uint64_t* row = &expected[(t - 1) * width];
            expected[t * width + i] = mix(i > 0 ? row[i - 1] : 0, row[i], i + 1 < width ? row[i + 1] : 0, t);
        }

    auto ex = TypeParam::make();
    std::atomic<long> checked{0}, wrong{0};
    auto check = [&](fronta::future<std::uint64_t>& f, long index) {
        f.add_done_callback([&checked, &wrong, &expected, index](const fronta::future<std::uint64_t>& done) {
            if (done.exception() || done.get() != expected[index]) ++wrong;
            ++checked;
        });
    };
    std::vector<fronta::future<std::uint64_t>> row, next;
    for (long i = 0; i < width; ++i) {
        row.push_back(ex.submit([](long x) { return std::uint64_t(x) * 7 + 1; }, i));
        check(row.back(), i);
    }
    for (long t = 1; t < steps; ++t) {
        next.clear();
        for (long i = 0; i < width; ++i) {
            const std::uint64_t step = t;
            if (i == 0)
                next.push_back(
                    ex.submit([step](std::uint64_t c, std::uint64_t r) { return mix(0, c, r, step); }, row[0], row[1]));
            else if (i + 1 == width)
                next.push_back(ex.submit([step](std::uint64_t l, std::uint64_t c) { return mix(l, c, 0, step); },
                                         row[i - 1], row[i]));
            else
                next.push_back(
                    ex.submit([step](std::uint64_t l, std::uint64_t c, std::uint64_t r) { return mix(l, c, r, step); },
                              row[i - 1], row[i], row[i + 1]));
            check(next.back(), t * width + i);
        }
        std::swap(row, next);
    }
    for (auto& f : row) done_within(f, "the last step of the stencil");
    ex.shutdown(true);  // every callback has run
    EXPECT_EQ(checked, width * steps);
    EXPECT_EQ(wrong, 0);
}

TYPED_TEST(dataflow_graph, inputs_from_three_executors) {
    auto ex = TypeParam::make();
    fronta::inline_executor elsewhere_inline;
    fronta::thread_pool elsewhere_threads(1);
    gate held;
    fronta::promise<int> p;
    auto from_inline = elsewhere_inline.submit([] { return 1; });
    auto from_threads = elsewhere_threads.submit([&held] {
        held.wait();
        return 20;
    });
    auto sum = ex.submit([](int a, int b, int c) { return a + b + c; }, from_inline, from_threads, p.get_future());
    p.set_value(300);
    EXPECT_FALSE(sum.done());  // the thread pool's task is still held
    held.open();
    EXPECT_EQ(done_within(sum).get(), 321);
}

TYPED_TEST(dataflow_graph, map_over_futures_maps_their_values) {
    auto ex = TypeParam::make();
    std::vector<fronta::promise<int>> promises(20);
    std::vector<fronta::future<int>> inputs;
    for (auto& p : promises) inputs.push_back(p.get_future());
    for (std::size_t i = promises.size(); i-- > 0;) promises[i].set_value(int(i));
    std::vector<int> out;
    for (int y : ex.map([](int x) { return x * 3; }, inputs, {.chunk_size = 3})) out.push_back(y);
    ASSERT_EQ(out.size(), 20U);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(out[i], i * 3);
}

// ---- handles dropped, executors shut down ----------------------------------------------------------

TYPED_TEST(dataflow_graph, intermediate_values_are_freed_when_no_one_can_read_them) {
    tracked::alive = 0;
    {
        auto ex = TypeParam::make();
        fronta::promise<tracked> head;
        fronta::future<int> result;
        {
            fronta::future<tracked> a = head.get_future();
            auto b = ex.submit([](const tracked& t) { return tracked(t.value + 1); }, a);
            auto c = ex.submit([](const tracked& t) { return tracked(t.value * 2); }, a);
            auto d = ex.submit([](const tracked& x, const tracked& y) { return tracked(x.value + y.value); }, b, c);
            result = ex.submit([](tracked t) { return t.value; }, std::move(d));
        }  // the client keeps only the result
        head.set_value(tracked(3));
        EXPECT_EQ(done_within(result).get(), 4 + 6);
        ex.shutdown(true);
        EXPECT_EQ(tracked::alive, 1);  // the head's value, in its promise's state; b, c, d are gone
    }
    EXPECT_EQ(tracked::alive, 0);

    {
        auto ex = TypeParam::make();
        {
            fronta::promise<tracked> never;  // destroyed unset: its future holds broken_promise
            auto a = ex.submit([](const tracked& t, const tracked&) { return tracked(t.value); }, never.get_future(),
                               tracked(0));
            ex.submit([](tracked, tracked) { return 0; }, a, tracked(1));
        }  // the client dropped every handle, and the input of the graph is broken
        ex.shutdown(true);
    }
    EXPECT_EQ(tracked::alive, 0);
}

// The last future of a long chain must not hold the chain: a task done (run, failed or cancelled)
// lets go of its inputs and its arguments, or a client that keeps one result of a big graph keeps
// every value upstream of it.
TYPED_TEST(dataflow_graph, holding_the_last_future_of_a_chain_of_10000_keeps_no_earlier_value) {
    tracked::alive = 0;
    auto ex = TypeParam::make();
    fronta::future<tracked> last = ex.submit([] { return tracked(0); });
    for (int k = 0; k < 10'000; ++k)
        last = ex.submit([](const tracked& t) { return tracked(t.value + 1); }, std::move(last));
    EXPECT_EQ(done_within(last).get().value, 10'000);
    ex.shutdown(true);
    EXPECT_EQ(tracked::alive, 1);  // the last value only
}

// If each state held its inputs until it died, dropping the last future of a long chain would
// destroy the chain one nested destructor per task, and overflow the stack.
TYPED_TEST(dataflow_graph, dropping_the_last_future_of_a_chain_of_a_million_frees_it_in_bounded_stack) {
    const long length = stress_tasks();
    auto ex = TypeParam::make();
    fronta::future<long> last = ex.submit([] { return 0L; });
    for (long k = 0; k < length; ++k) last = ex.submit([](long x) { return x + 1; }, std::move(last));
    EXPECT_EQ(done_within(last).get(), length);
    ex.shutdown(true);
    last = {};  // the process survives this
}

TYPED_TEST(dataflow_graph, shutdown_with_cancel_futures_cancels_every_task_not_started_even_those_waiting) {
    auto ex = TypeParam::make();
    std::atomic<int> calls{0};
    auto counted = [&calls](int x) {
        ++calls;
        return x;
    };
    gate held;
    std::vector<fronta::future<int>> running;  // pools: every worker busy at the gate
    if (!TypeParam::runs_at_submit) {
        std::latch started(std::ptrdiff_t(ex.concurrency()));
        for (std::size_t w = 0; w < ex.concurrency(); ++w)
            running.push_back(ex.submit([&held, &started, w] {
                started.count_down();
                held.wait();
                return int(w);
            }));
        started.wait();
    }
    fronta::promise<int> p;
    std::vector<fronta::future<int>> not_started;
    auto queued = ex.submit(counted, 5);  // pools: queued behind the gate; inline: ran here
    if (!TypeParam::runs_at_submit) {
        not_started.push_back(queued);
        not_started.push_back(ex.submit(counted, running[0]));  // its input runs
        not_started.push_back(ex.submit(counted, queued));      // its input is queued
    }
    not_started.push_back(ex.submit(counted, p.get_future()));
    not_started.push_back(ex.submit(counted, not_started.back()));  // waits for a waiting task
    const int calls_before = calls;

    std::thread closer([&ex] { ex.shutdown(/*wait=*/true, /*cancel_futures=*/true); });
    for (auto& f : not_started) expect_cancelled(f);  // at once: shutdown waits only for what runs
    held.open();
    closer.join();
    for (std::size_t w = 0; w < running.size(); ++w) EXPECT_EQ(running[w].get(), int(w));
    p.set_value(1);  // an input done after the shutdown runs nothing
    EXPECT_EQ(calls, calls_before);
    EXPECT_THROW(ex.submit(counted, 1), fronta::shutdown_error);
}

TYPED_TEST(dataflow_graph, shutdown_with_wait_runs_the_rest_of_the_graph_as_its_inputs_complete) {
    auto ex = TypeParam::make();
    gate held;
    std::vector<fronta::future<int>> running;
    if (!TypeParam::runs_at_submit) {
        std::latch started(std::ptrdiff_t(ex.concurrency()));
        for (std::size_t w = 0; w < ex.concurrency(); ++w)
            running.push_back(ex.submit([&held, &started] {
                started.count_down();
                held.wait();
                return 1;
            }));
        started.wait();
    }
    fronta::promise<int> p;
    std::vector<fronta::future<int>> rest;
    auto queued = ex.submit([](int x) { return x; }, 10);
    rest.push_back(queued);
    if (!running.empty()) rest.push_back(ex.submit([](int x, int y) { return x + y; }, running[0], queued));
    auto waiting = ex.submit([](int x) { return x + 100; }, p.get_future());
    rest.push_back(waiting);
    rest.push_back(ex.submit([](int x, int y) { return x + y; }, waiting, queued));

    std::thread closer([&ex] { ex.shutdown(/*wait=*/true, /*cancel_futures=*/false); });
    // Complete the inputs only once the shutdown has begun: submit is refused from then on.
    for (;;) {
        try {
            ex.submit([] {});
        } catch (const fronta::shutdown_error&) {
            break;
        }
        std::this_thread::yield();
    }
    p.set_value(1);
    held.open();
    closer.join();
    for (auto& f : rest) EXPECT_TRUE(f.done());  // shutdown(wait) returned after all of them
    std::vector<int> values;
    for (auto& f : rest) values.push_back(f.get());
    if (running.empty())
        EXPECT_EQ(values, (std::vector<int>{10, 101, 111}));
    else
        EXPECT_EQ(values, (std::vector<int>{10, 11, 101, 111}));
}

TYPED_TEST(dataflow_graph, submit_after_shutdown_throws_and_keeps_nothing_of_its_arguments) {
    tracked::alive = 0;
    std::atomic<int> calls{0};
    {
        auto ex = TypeParam::make();
        ex.shutdown(true);
        fronta::promise<int> p;
        auto pending = p.get_future();
        EXPECT_THROW(ex.submit(
                         [&calls](int x, const tracked&) {
                             ++calls;
                             return x;
                         },
                         pending, tracked(1)),
                     fronta::shutdown_error);
        EXPECT_THROW(ex.submit([](int x) { return x; }, 1), fronta::shutdown_error);
        p.set_value(1);
        EXPECT_EQ(tracked::alive, 0);
    }
    EXPECT_EQ(calls, 0);
}

// ---- thread_pool only --------------------------------------------------------------------------------

TEST(dataflow_thread_pool, tasks_waiting_for_inputs_hold_no_thread) {
    watchdog dog(240s);
    fronta::thread_pool pool(1);
    done_within(pool.submit([] {}));  // the worker exists
    const int threads_before = thread_count();
    std::vector<fronta::promise<int>> promises(300);  // more than the pool's 256 stand-ins
    std::vector<fronta::future<int>> waiting;
    for (auto& p : promises) waiting.push_back(pool.submit([](int x) { return x; }, p.get_future()));
    EXPECT_EQ(done_within(pool.submit([] { return 7; })).get(), 7);  // the one worker is free
    EXPECT_LT(thread_count(), threads_before + 8);                   // a task blocked on its input would hold one each
    for (std::size_t i = 0; i < promises.size(); ++i) promises[i].set_value(int(i));
    for (std::size_t i = 0; i < waiting.size(); ++i) EXPECT_EQ(done_within(waiting[i]).get(), int(i));
}

// ---- a process pool among the inputs and as the consumer ------------------------------------------------

namespace {
int add3(int a, int b, int c) { return a + b + c; }
FRONTA_REMOTE(add3);
int times_ten(int x) { return x * 10; }
FRONTA_REMOTE(times_ten);
}  // namespace

TEST(dataflow_process_pool, consumes_futures_of_a_thread_pool_an_inline_executor_and_a_promise) {
    watchdog dog(240s);
    fronta::process_pool processes(2);
    fronta::thread_pool threads(1);
    fronta::inline_executor here;
    gate held;
    fronta::promise<int> p;
    auto from_threads = threads.submit([&held] {
        held.wait();
        return 20;
    });
    auto from_processes = processes.submit(times_ten, 30);
    auto sum = processes.submit(add3, here.submit([] { return 1; }), from_threads, p.get_future());
    auto chained = processes.submit(add3, sum, from_processes, 4000);
    p.set_value(300);
    EXPECT_FALSE(sum.done());
    held.open();
    EXPECT_EQ(done_within(sum).get(), 321);
    EXPECT_EQ(done_within(chained).get(), 321 + 300 + 4000);
    // And the other way: a thread pool's task on a process pool's future.
    auto back = threads.submit([](int x) { return x + 1; }, processes.submit(times_ten, 5));
    EXPECT_EQ(done_within(back).get(), 51);
}

TEST(dataflow_process_pool, a_failed_or_cancelled_input_fails_or_cancels_the_shipped_task) {
    watchdog dog(240s);
    fronta::process_pool processes(2);
    fronta::promise<int> failing, cancelled;
    auto f = processes.submit(times_ten, failing.get_future());
    auto g = processes.submit(times_ten, cancelled.get_future());
    failing.set_exception(error("not shipped"));
    EXPECT_TRUE(cancelled.get_future().cancel());
    expect_failed_with(f, "not shipped");
    expect_cancelled(g);
}

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // process_pool workers are copies of this binary: they stay in here
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
