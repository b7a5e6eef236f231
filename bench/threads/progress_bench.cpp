// What a progress bar costs: `map` of 1,000,000 trivial items on a thread_pool of 2 workers,
// without a bar and with `map_options::progress`, side by side in one run. The bar draws on
// stderr, which the benchmark points (outside the timed region) at /dev/null, at a pipe and at a
// pseudo-terminal, each drained by a thread as a terminal or `| tee` would. Two chunk sizes:
// 1 (a task per item, the pool's cost dominates) and 1,024 (cheap items, where a bar's cost per
// item shows most). bench/run.sh progress prints the table (bench/report.py progress). And the
// cost of one progress_bar::advance() alone. Wall time and the CPU time of the whole process (all
// threads) are both reported: on a busy machine the second moves less.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <pty.h>
#include <unistd.h>

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

enum target : int { no_bar = 0, dev_null = 1, to_pipe = 2, to_pty = 3 };

// stderr pointed at `where` while it lives; what a pipe or pseudo-terminal receives is read and
// dropped by a thread, as a terminal would.
class stderr_redirect {
public:
    explicit stderr_redirect(target where) {
        if (where == no_bar) return;
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

// args: chunk size, stderr target (no_bar: no progress option)
template <class Executor>
void map_1m(benchmark::State& state, Executor& pool) {
    const auto chunk = static_cast<std::size_t>(state.range(0));
    const auto where = static_cast<target>(state.range(1));
    stderr_redirect redirect(where);
    const std::string label = where == no_bar ? "" : "items";
    for (auto _ : state) {
        long sum = 0;
        for (int y : pool.map([](int x) { return x + 1; }, std::views::iota(0, items),
                              {.chunk_size = chunk, .progress = label}))
            sum += y;
        benchmark::DoNotOptimize(sum);
    }
    state.counters["ns_per_item"] = benchmark::Counter(static_cast<double>(items) * state.iterations(),
                                                       benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.counters["items"] = static_cast<double>(items) * static_cast<double>(state.iterations());
}

void map_1m(benchmark::State& state) {
    fronta::thread_pool pool(workers);
    map_1m(state, pool);
}
// The same on the inline executor (one thread, no scheduling): the bar's own cost without the
// noise of threads waiting for cores on a busy machine.
void map_1m_inline(benchmark::State& state) {
    fronta::inline_executor pool;
    map_1m(state, pool);
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
BENCHMARK(map_1m_inline)
    ->ArgNames({"chunk", "stderr"})
    ->ArgsProduct({{1, 1024}, {no_bar, dev_null, to_pipe, to_pty}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.2)
    ->UseRealTime();
BENCHMARK(map_1m)
    ->ArgNames({"chunk", "stderr"})
    ->ArgsProduct({{1, 1024}, {no_bar, dev_null, to_pipe, to_pty}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.2)  // short runs, many repetitions (bench/run.sh): medians that a busy host moves less
    ->MeasureProcessCPUTime()  // the workers' too: steadier than wall time on a busy machine
    ->UseRealTime();

BENCHMARK_MAIN();
