// Thread pools side by side, 2 workers each, same workloads:
//   batched:    submit N = 200,000 trivial tasks, each returning a future, then get them all
//   round_trip: one submit + get at a time; the median over all iterations is reported
//   as_completed (fronta only): 1,000,000 pool futures iterated in completion order
//   memory (fronta only): library heap bytes per pending task
// Peers without futures of their own get a std::packaged_task per task, as a user would write.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <future>
#include <vector>

#include "fronta/fronta.hpp"
#include "measure.hpp"

namespace {

constexpr int workers = 2;
constexpr long batch = 200'000;

int trivial(int x) { return x + 1; }

template <class SubmitAll>
void measure_batch(benchmark::State& state, SubmitAll&& run_batch, long tasks = batch) {
    for (auto _ : state) benchmark::DoNotOptimize(run_batch());
    state.counters["ns_per_task"] = benchmark::Counter(static_cast<double>(tasks) * state.iterations(),
                                                       benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// ---- fronta ---------------------------------------------------------------------------------
void fronta_batched(benchmark::State& state) {
    fronta::thread_pool pool(workers);
    measure_batch(state, [&] {
        std::vector<fronta::future<int>> futures;
        futures.reserve(batch);
        for (long i = 0; i < batch; ++i) futures.push_back(pool.submit(trivial, static_cast<int>(i)));
        long sum = 0;
        for (auto& f : futures) sum += f.get();
        return sum;
    });
}
void fronta_round_trip(benchmark::State& state) {
    fronta::thread_pool pool(workers);
    measure_round_trips(state, [&](int i) { return pool.submit(trivial, i).get(); });
}
void fronta_as_completed_1m(benchmark::State& state) {
    fronta::thread_pool pool(workers);
    for (auto _ : state) {
        state.PauseTiming();
        std::vector<fronta::future<int>> futures;
        futures.reserve(1'000'000);
        for (int i = 0; i < 1'000'000; ++i) futures.push_back(pool.submit(trivial, i));
        state.ResumeTiming();
        long sum = 0;
        for (const auto& f : fronta::as_completed(futures)) sum += f.get();
        benchmark::DoNotOptimize(sum);
        state.PauseTiming();
        futures.clear();
        state.ResumeTiming();
    }
}
void fronta_memory_per_pending_task(benchmark::State& state) {
    constexpr long pending = 1'000'000;
    for (auto _ : state) {
        fronta::thread_pool pool(1);
        fronta::promise<void> gate;
        auto opened = gate.get_future();
        pool.submit([opened] { opened.wait(); });
        std::vector<fronta::future<int>> futures;
        futures.reserve(pending);  // the caller's vector is not library memory: allocated before
        const auto before = mallinfo2().uordblks;
        for (long i = 0; i < pending; ++i) futures.push_back(pool.submit(trivial, static_cast<int>(i)));
        const auto after = mallinfo2().uordblks;
        state.counters["bytes_per_task"] = static_cast<double>(after - before) / pending;
        gate.set_value();
        for (auto& f : futures) benchmark::DoNotOptimize(f.get());
    }
}

// ---- oneTBB: task_arena with 2 workers, enqueue + packaged_task -------------------------------
void tbb_batched(benchmark::State& state) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, workers + 1);
    tbb::task_arena arena(workers, 0);
    measure_batch(state, [&] {
        std::vector<std::future<int>> futures;
        futures.reserve(batch);
        for (long i = 0; i < batch; ++i) {
            auto task = std::make_shared<std::packaged_task<int()>>([i] { return trivial(static_cast<int>(i)); });
            futures.push_back(task->get_future());
            arena.enqueue([task] { (*task)(); });
        }
        long sum = 0;
        for (auto& f : futures) sum += f.get();
        return sum;
    });
}
void tbb_round_trip(benchmark::State& state) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, workers + 1);
    tbb::task_arena arena(workers, 0);
    measure_round_trips(state, [&](int i) {
        auto task = std::make_shared<std::packaged_task<int()>>([i] { return trivial(i); });
        auto f = task->get_future();
        arena.enqueue([task] { (*task)(); });
        return f.get();
    });
}

// ---- Boost.Asio thread_pool + packaged_task ---------------------------------------------------
void asio_batched(benchmark::State& state) {
    boost::asio::thread_pool pool(workers);
    measure_batch(state, [&] {
        std::vector<std::future<int>> futures;
        futures.reserve(batch);
        for (long i = 0; i < batch; ++i) {
            std::packaged_task<int()> task([i] { return trivial(static_cast<int>(i)); });
            futures.push_back(task.get_future());
            boost::asio::post(pool, std::move(task));
        }
        long sum = 0;
        for (auto& f : futures) sum += f.get();
        return sum;
    });
    pool.join();
}
void asio_round_trip(benchmark::State& state) {
    boost::asio::thread_pool pool(workers);
    measure_round_trips(state, [&](int i) {
        std::packaged_task<int()> task([i] { return trivial(i); });
        auto f = task.get_future();
        boost::asio::post(pool, std::move(task));
        return f.get();
    });
    pool.join();
}

// ---- std::async: a thread per task (there is no pool to size) ---------------------------------
// 200,000 live threads exceed the machine's thread limit, so std::async gets batches of 1,000.
constexpr long async_batch = 1'000;
void std_async_batched(benchmark::State& state) {
    measure_batch(
        state,
        [&] {
            std::vector<std::future<int>> futures;
            futures.reserve(async_batch);
            for (long i = 0; i < async_batch; ++i)
                futures.push_back(std::async(std::launch::async, trivial, static_cast<int>(i)));
            long sum = 0;
            for (auto& f : futures) sum += f.get();
            return sum;
        },
        async_batch);
}
void std_async_round_trip(benchmark::State& state) {
    measure_round_trips(state, [&](int i) { return std::async(std::launch::async, trivial, i).get(); });
}

}  // namespace

BENCHMARK(fronta_batched)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(tbb_batched)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(asio_batched)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(std_async_batched)->Unit(benchmark::kMillisecond)->MinTime(1.0)->UseRealTime();
BENCHMARK(fronta_round_trip)->MinTime(1.0)->UseRealTime();
BENCHMARK(tbb_round_trip)->MinTime(1.0)->UseRealTime();
BENCHMARK(asio_round_trip)->MinTime(1.0)->UseRealTime();
BENCHMARK(std_async_round_trip)->MinTime(1.0)->UseRealTime();
BENCHMARK(fronta_as_completed_1m)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(fronta_memory_per_pending_task)->Unit(benchmark::kMillisecond)->Iterations(1);

BENCHMARK_MAIN();
