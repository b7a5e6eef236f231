// What a progress bar costs: `map` of 1,000,000 trivial items (`x + 1`) on a thread_pool of 2
// workers, without a bar and with `map_options::progress`, side by side: in pairs of runs back to
// back, so a busy machine slows both of a pair alike, and the medians over pairs are reported.
// The bar draws on stderr, which the benchmark points (outside the timed region) at /dev/null, at
// a pipe and at a pseudo-terminal, each drained by a thread as a terminal or `| tee` would. Two
// chunk sizes: 1 (a task per item: the pool's cost dominates) and 1,024 (cheap items: a bar's
// cost per item would show most). The same on the inline executor (no threads), and the cost of
// one progress_bar::advance() alone. `bench/run.sh BUILD progress` prints the table
// (bench/report.py progress).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <pty.h>
#include <unistd.h>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ranges>
#include <stdexcept>
#include <thread>

#include "fronta/inline_executor.hpp"
#include "fronta/map.hpp"
#include "fronta/progress.hpp"
#include "fronta/thread_pool.hpp"

namespace {

constexpr int workers = 2;
constexpr int items = 1'000'000;

enum target : int { dev_null = 1, to_pipe = 2, to_pty = 3 };

// stderr pointed at `where` while it lives; what a pipe or pseudo-terminal receives is read and
// dropped by a thread, as a terminal would.
class stderr_redirect {
public:
    explicit stderr_redirect(target where) {
        std::fflush(stderr);
        saved_ = dup(STDERR_FILENO);
        int write_end = -1;
        if (where == dev_null) {
            write_end = open("/dev/null", O_WRONLY);
        } else if (where == to_pipe) {
            int fds[2];
            if (pipe(fds) != 0) throw std::runtime_error("pipe");
            read_end_ = fds[0];
            write_end = fds[1];
        } else {
            winsize size{};
            size.ws_col = 120;
            size.ws_row = 40;
            if (openpty(&read_end_, &write_end, nullptr, nullptr, &size) != 0) throw std::runtime_error("openpty");
        }
        dup2(write_end, STDERR_FILENO);
        close(write_end);
        if (read_end_ >= 0)
            drain_ = std::thread([fd = read_end_] {
                char buffer[4096];
                while (read(fd, buffer, sizeof buffer) > 0) {
                }
            });
    }
    ~stderr_redirect() {
        if (saved_ < 0) return;
        std::fflush(stderr);
        dup2(saved_, STDERR_FILENO);  // the last writer closes: the drain thread sees the end
        close(saved_);
        if (drain_.joinable()) drain_.join();
        if (read_end_ >= 0) close(read_end_);
    }
    stderr_redirect(const stderr_redirect&) = delete;
    stderr_redirect& operator=(const stderr_redirect&) = delete;

private:
    int saved_ = -1, read_end_ = -1;
    std::thread drain_;
};

double process_cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
}

// Maps 1,000,000 items; returns {wall, CPU of the process} seconds.
template <class Executor>
std::pair<double, double> timed_map(Executor& pool, std::size_t chunk, const std::string& progress) {
    const double cpu = process_cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    long sum = 0;
    for (int y :
         pool.map([](int x) { return x + 1; }, std::views::iota(0, items), {.chunk_size = chunk, .progress = progress}))
        sum += y;
    benchmark::DoNotOptimize(sum);
    return {std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
            process_cpu_seconds() - cpu};
}

double median(std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return v[v.size() / 2];
}

// args: chunk size, stderr target. Pairs of maps of 1,000,000 items back to back, one without a
// bar and one with (which goes first alternates), so that both of a pair see the same machine:
// a busy host moves a pair's two runs together. Counters: the median over pairs of ns per item
// without and with, and of the ratio with/without, for wall time and the process's CPU time
// (all threads, from getrusage).
template <class Executor>
void map_1m_pairs(benchmark::State& state, Executor& pool) {
    const auto chunk = static_cast<std::size_t>(state.range(0));
    stderr_redirect redirect(static_cast<target>(state.range(1)));
    std::vector<double> wall_without, wall_with, wall_ratio, cpu_without, cpu_with, cpu_ratio;
    for (auto _ : state) {
        std::pair<double, double> without, with;
        if (wall_ratio.size() % 2 == 0) {
            without = timed_map(pool, chunk, "");
            with = timed_map(pool, chunk, "items");
        } else {
            with = timed_map(pool, chunk, "items");
            without = timed_map(pool, chunk, "");
        }
        wall_without.push_back(without.first * 1e9 / items);
        wall_with.push_back(with.first * 1e9 / items);
        wall_ratio.push_back(with.first / without.first);
        cpu_without.push_back(without.second * 1e9 / items);
        cpu_with.push_back(with.second * 1e9 / items);
        cpu_ratio.push_back(without.second > 0 ? with.second / without.second : 1.0);
    }
    state.counters["pairs"] = static_cast<double>(wall_ratio.size());
    state.counters["wall_ns_without"] = median(wall_without);
    state.counters["wall_ns_with"] = median(wall_with);
    state.counters["wall_ratio"] = median(wall_ratio);
    state.counters["cpu_ns_without"] = median(cpu_without);
    state.counters["cpu_ns_with"] = median(cpu_with);
    state.counters["cpu_ratio"] = median(cpu_ratio);
}

void map_1m_pairs(benchmark::State& state) {
    fronta::thread_pool pool(workers);
    map_1m_pairs(state, pool);
}
// The same on the inline executor (one thread, no scheduling): the bar's own cost without the
// noise of threads waiting for cores on a busy machine.
void map_1m_pairs_inline(benchmark::State& state) {
    fronta::inline_executor pool;
    map_1m_pairs(state, pool);
}

// One progress_bar::advance() alone (stderr at /dev/null): what wrapping a loop in progress() adds
// per item.
void bar_advance(benchmark::State& state) {
    stderr_redirect redirect(dev_null);
    fronta::progress_bar bar({.label = "items", .total = std::nullopt});
    for (auto _ : state) bar.advance();
}

}  // namespace

BENCHMARK(bar_advance);
// Pairs per case: chunk_size 1 maps take 0.5 s or more each on 2 busy cores, chunk_size 1024 ones
// a few milliseconds.
BENCHMARK(map_1m_pairs)
    ->ArgNames({"chunk", "stderr"})
    ->Args({1, dev_null})
    ->Args({1, to_pipe})
    ->Args({1, to_pty})
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(map_1m_pairs)
    ->ArgNames({"chunk", "stderr"})
    ->Args({1024, dev_null})
    ->Args({1024, to_pipe})
    ->Args({1024, to_pty})
    ->Iterations(100)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(map_1m_pairs_inline)
    ->ArgNames({"chunk", "stderr"})
    ->Args({1, dev_null})
    ->Args({1, to_pipe})
    ->Args({1, to_pty})
    ->Iterations(15)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(map_1m_pairs_inline)
    ->ArgNames({"chunk", "stderr"})
    ->Args({1024, dev_null})
    ->Args({1024, to_pipe})
    ->Args({1024, to_pty})
    ->Iterations(100)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
