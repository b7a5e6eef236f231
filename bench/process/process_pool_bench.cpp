// Process pools side by side with thread_pool, 2 workers each (Python's ProcessPoolExecutor and
// loky run from bench/process/python_process_pool.py in the same `make bench`):
//   start:      construct a pool of 2 and get one result from each worker
//   round_trip: one submit + get at a time; the median is reported
//   batched:    submit N = 20,000 tasks, then get them all; time per task
//   map:        map over 1,000,000 items in chunks of 10,000; time per item
//   handoff:    a task receives a 100 MB array (shared_array: only a descriptor travels) and
//               reads one element; time of the whole round trip
//   large_value/MB: by value, a std::vector<double> of MB megabytes (10^6 bytes) goes to a task that
//               returns it; throughput = (argument + result bytes) / median round trip
#include <benchmark/benchmark.h>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "fronta/fronta.hpp"
#include "measure.hpp"

namespace {

constexpr int workers = 2;
constexpr long batch = 20'000;
constexpr long map_items = 1'000'000;

double trivial(double x) { return x + 1; }
FRONTA_REMOTE(trivial);

double first_element(fronta::shared_array<const double> values) { return values[values.size() / 2]; }
FRONTA_REMOTE(first_element);

std::vector<double> echo(std::vector<double> values) { return values; }
FRONTA_REMOTE(echo);

template <class Pool>
void batched(benchmark::State& state) {
    Pool pool(workers);
    for (auto _ : state) {
        std::vector<fronta::future<double>> futures;
        futures.reserve(batch);
        for (long i = 0; i < batch; ++i) futures.push_back(pool.submit(trivial, double(i)));
        double sum = 0;
        for (auto& f : futures) sum += f.get();
        benchmark::DoNotOptimize(sum);
    }
    state.counters["ns_per_task"] = benchmark::Counter(double(batch) * state.iterations(),
                                                       benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

template <class Pool>
void round_trip(benchmark::State& state) {
    Pool pool(workers);
    measure_round_trips(state, [&](int i) { return pool.submit(trivial, double(i)).get(); });
}

template <class Pool>
void chunked_map(benchmark::State& state) {
    Pool pool(workers);
    std::vector<double> inputs(map_items, 1.0);
    for (auto _ : state) {
        double sum = 0;
        for (double y : pool.map(trivial, inputs, {.chunk_size = 10'000})) sum += y;
        benchmark::DoNotOptimize(sum);
    }
    state.counters["ns_per_item"] = benchmark::Counter(double(map_items) * state.iterations(),
                                                       benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void process_pool_start(benchmark::State& state) {
    for (auto _ : state) {
        fronta::process_pool pool(workers);
        auto a = pool.submit(trivial, 1.0);
        auto b = pool.submit(trivial, 2.0);
        benchmark::DoNotOptimize(a.get() + b.get());
        state.PauseTiming();  // the shutdown is not part of starting
        pool.shutdown();
        state.ResumeTiming();
    }
}

template <class Pool>
void handoff_100mb(benchmark::State& state) {
    Pool pool(workers);
    std::vector<double> data(100'000'000 / sizeof(double), 2.0);
    const auto shared = fronta::shared_array<const double>::copy_of(data);
    pool.submit(first_element, shared).get();  // warm: mappings, caches
    measure_round_trips(state, [&](int) { return pool.submit(first_element, shared).get(); });
}

// By value: argument and result are copied through whatever the pool's transport does.
template <class Pool>
void large_value(benchmark::State& state) {
    Pool pool(workers);
    const std::size_t bytes = static_cast<std::size_t>(state.range(0)) * 1'000'000;
    std::vector<double> data(bytes / sizeof(double), 1.5);
    pool.submit(echo, data).get();  // warm
    // The value is read where the future holds it (as Python's result() hands over its object).
    measure_round_trips(state, [&](int) {
        auto f = pool.submit(echo, data);
        return f.get().size();
    });
    state.counters["bytes"] = double(2 * bytes);
}

// The floor under any socket transport on this machine: 8 bytes there and back over a Unix
// socket pair between two threads that block in read(), with nothing else done.
void socket_ping_pong_floor(benchmark::State& state) {
    int ends[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, ends) != 0) {
        state.SkipWithError("socketpair failed");
        return;
    }
    std::thread echo([fd = ends[1]] {
        char buffer[8];
        while (read(fd, buffer, sizeof buffer) == static_cast<ssize_t>(sizeof buffer))
            if (write(fd, buffer, sizeof buffer) != static_cast<ssize_t>(sizeof buffer)) break;
    });
    char buffer[8] = {};
    measure_round_trips(state, [&](int) {
        if (write(ends[0], buffer, sizeof buffer) != static_cast<ssize_t>(sizeof buffer)) return -1L;
        return static_cast<long>(read(ends[0], buffer, sizeof buffer));
    });
    close(ends[0]);
    echo.join();
    close(ends[1]);
}

}  // namespace

BENCHMARK(socket_ping_pong_floor)->MinTime(1.0)->UseRealTime();
BENCHMARK(process_pool_start)->Unit(benchmark::kMillisecond)->Iterations(10)->UseRealTime();
BENCHMARK(round_trip<fronta::process_pool>)->MinTime(1.0)->UseRealTime();
BENCHMARK(round_trip<fronta::thread_pool>)->MinTime(1.0)->UseRealTime();
BENCHMARK(batched<fronta::process_pool>)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(batched<fronta::thread_pool>)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(chunked_map<fronta::process_pool>)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(chunked_map<fronta::thread_pool>)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(handoff_100mb<fronta::process_pool>)->MinTime(1.0)->UseRealTime();
BENCHMARK(handoff_100mb<fronta::thread_pool>)->MinTime(1.0)->UseRealTime();
BENCHMARK(large_value<fronta::process_pool>)
    ->Arg(8)
    ->Arg(32)
    ->Arg(128)
    ->Arg(256)
    ->MinTime(2.0)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // the workers are copies of this benchmark
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
}
