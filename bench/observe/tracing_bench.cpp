// What a trace costs, side by side in one run (issue 11, "Cost"; results in docs/benchmarks.md):
//   tracing_bench [ROUNDS]   (default 5) prints two markdown tables:
//     thread_pool batched (200,000 trivial tasks, 2 workers, as bench/threads/thread_pool_bench.cpp):
//       off              no trace
//       on, hooks only   a trace whose writer thread sleeps (flush_interval 1 h) and flush() between
//                        batches, untimed for the batch: what the hooks cost the submitting and
//                        the worker threads; the flush() and close() time, per task, is the
//                        writing (formatting ~5 Chrome events and a JSON line per task, on one core)
//       on, default      default options (the writer wakes every 1 s, on the same 2 cores as the
//                        workers), batches back to back for >= 2 s, then close(): the total per
//                        task is everything tracing cost, writing included
//     inline_executor (tasks run in submit, one thread): the hooks' CPU time per task, off and on
//     process_pool round trip (median of single submit + get, 2 workers), off and on
//     process_pool batched (20,000 per batch, >= 2 s per side): ns per task, longest submit()
//   Each round runs off and on back to back (alternating which goes first), so both see the same
//   noise of a shared machine; the tables give the medians over rounds and the spread.
//   tracing_bench writer N off|on|on-unflushed   one process, N trivial thread-pool tasks (all
//     submitted, then all got): prints one JSON line with the time, peak RSS (getrusage) and, when
//     traced, the close time and both files' sizes. `on`: default flush (1 s); `on-unflushed`: the
//     writer waits until close, so every record is held in memory (the 64-byte bound). A fifth
//     argument, a path, keeps the trace there (for bench/ checks with tests' check_trace).
// Trace files go to a temporary directory, removed at the end.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "fronta/fronta.hpp"
#include "fronta/tracing.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
constexpr int workers = 2;
constexpr long batch = 200'000;
constexpr int batches_per_side = 5;           // thread pool: batches per side and round (median taken)
constexpr int round_trips_per_side = 20'000;  // process pool: round trips per side and round

int trivial(int x) { return x + 1; }

double remote_trivial(double x) { return x + 1; }
FRONTA_REMOTE(remote_trivial);

double ns_since(clock_type::time_point start) {
    return std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "fronta-tracing-bench-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) {
            std::perror("tracing_bench: mkdtemp");
            std::exit(1);
        }
        path = pattern;
    }
    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
};

// One batch: submit `tasks` trivial tasks, get them all; ns per task.
double run_batch(fronta::thread_pool& pool, long tasks) {
    std::vector<fronta::future<int>> futures;
    futures.reserve(static_cast<std::size_t>(tasks));
    const auto start = clock_type::now();
    for (long i = 0; i < tasks; ++i) futures.push_back(pool.submit(trivial, static_cast<int>(i)));
    long sum = 0;
    for (auto& f : futures) sum += f.get();
    const double ns = ns_since(start);
    if (sum == 0) std::printf("?");  // keeps the work
    return ns / static_cast<double>(tasks);
}

double median_batch(fronta::thread_pool& pool) {
    std::vector<double> v;
    for (int i = 0; i < batches_per_side; ++i) v.push_back(run_batch(pool, batch));
    return median(v);
}

// The hooks' CPU cost on one thread, with no scheduling in the way: inline_executor runs each
// task in submit (stamped at submit, clock read at start and end, record pushed), ns per task.
double inline_batch(fronta::inline_executor& ex, long tasks) {
    const auto start = clock_type::now();
    long sum = 0;
    for (long i = 0; i < tasks; ++i) sum += ex.submit(trivial, static_cast<int>(i)).get();
    const double ns = ns_since(start);
    if (sum == 0) std::printf("?");
    return ns / static_cast<double>(tasks);
}

double median_round_trip(fronta::process_pool& pool) {
    std::vector<double> v;
    v.reserve(round_trips_per_side);
    for (int i = 0; i < round_trips_per_side; ++i) {
        const auto start = clock_type::now();
        const double y = pool.submit(remote_trivial, double(i)).get();
        v.push_back(ns_since(start));
        if (y == -1) std::printf("?");
    }
    return median(v);
}

// process_pool batched: batches of 20,000 (as bench/process/) back to back for at least 2 s;
// the median ns per task and the longest single submit() seen (it would show a submit held up
// by the trace's writer).
struct batched_figures {
    double ns_per_task = 0, longest_submit_us = 0;
};
batched_figures process_batches(fronta::process_pool& pool) {
    constexpr long tasks = 20'000;
    std::vector<double> per_task;
    double longest = 0;
    const auto begin = clock_type::now();
    while (per_task.size() < 3 || ns_since(begin) < 2e9) {
        std::vector<fronta::future<double>> futures;
        futures.reserve(tasks);
        const auto start = clock_type::now();
        for (long i = 0; i < tasks; ++i) {
            const auto before = clock_type::now();
            futures.push_back(pool.submit(remote_trivial, double(i)));
            longest = std::max(longest, ns_since(before));
        }
        double sum = 0;
        for (auto& f : futures) sum += f.get();
        per_task.push_back(ns_since(start) / tasks);
        if (sum < 0) std::printf("?");
    }
    return {median(per_task), longest / 1e3};
}

struct samples {
    std::vector<double> off, on;
};

void print_spread(const char* what, const std::vector<double>& v, double scale, const char* unit) {
    auto s = v;
    std::sort(s.begin(), s.end());
    std::printf("| %s | %.3g %s | %.3g %s | %.3g %s |\n", what, median(v) * scale, unit, s.front() * scale, unit,
                s.back() * scale, unit);
}

int compare(int rounds) {
    temp_dir dir;
    const auto trace_path = [&](const char* name, int round) {
        return dir.path / (std::string(name) + "-" + std::to_string(round) + ".json");
    };
    const auto remove_trace = [&](const char* name, int round) {
        std::filesystem::remove(trace_path(name, round));
        std::filesystem::remove(fronta::trace_records_path(trace_path(name, round)));
    };
    std::vector<double> off, hooks, writing, sustained_median, sustained_total, added_hooks, added_total;
    std::vector<double> rt_off, rt_on, rt_ratio, in_off, in_on, in_added;
    std::vector<double> pb_off, pb_on, pb_ratio, pb_longest_off, pb_longest_on;
    {
        fronta::inline_executor ex;
        inline_batch(ex, batch);  // warm
        for (int r = 0; r < rounds; ++r) {
            double o = 0, t = 0;
            const auto measure_off = [&] {
                std::vector<double> v;
                for (int i = 0; i < batches_per_side; ++i) v.push_back(inline_batch(ex, batch));
                o = median(v);
            };
            const auto measure_on = [&] {
                fronta::tracing trace(
                    fronta::tracing_options{.path = trace_path("inline", r), .flush_interval = std::chrono::hours(1)});
                std::vector<double> v;
                for (int i = 0; i < batches_per_side; ++i) {
                    v.push_back(inline_batch(ex, batch));
                    trace.flush();
                }
                trace.close();
                t = median(v);
            };
            if (r % 2 == 0) {
                measure_off();
                measure_on();
            } else {
                measure_on();
                measure_off();
            }
            remove_trace("inline", r);
            in_off.push_back(o);
            in_on.push_back(t);
            in_added.push_back(t - o);
        }
    }
    {
        fronta::thread_pool pool(workers);
        run_batch(pool, batch);  // warm: threads, allocator
        for (int r = 0; r < rounds; ++r) {
            std::fprintf(stderr, "tracing_bench: thread pool, round %d/%d\n", r + 1, rounds);
            double o = 0, h = 0, w = 0, sm = 0, st = 0;
            const auto measure_off = [&] { o = median_batch(pool); };
            const auto measure_on = [&] {
                {
                    // Hooks only: the writer thread sleeps (flush_interval 1 h); between batches,
                    // untimed for the batch, flush() writes what was recorded (and frees its
                    // blocks, as the writer would), timed as the writing; then close().
                    fronta::tracing trace(fronta::tracing_options{.path = trace_path("hooks", r),
                                                                  .flush_interval = std::chrono::hours(1)});
                    std::vector<double> v;
                    double write_ns = 0;
                    for (int i = 0; i < batches_per_side; ++i) {
                        v.push_back(run_batch(pool, batch));
                        const auto start = clock_type::now();
                        trace.flush();
                        write_ns += ns_since(start);
                    }
                    const auto start = clock_type::now();
                    trace.close();
                    write_ns += ns_since(start);
                    h = median(v);
                    w = write_ns / (double(batch) * batches_per_side);
                }
                remove_trace("hooks", r);
                {
                    // As a program would run: default options (the writer wakes every second on
                    // the same 2 cores), batches back to back for at least 2 s, then close():
                    // the total is everything the trace cost, writing included.
                    fronta::tracing trace(trace_path("sustained", r));
                    std::vector<double> v;
                    const auto start = clock_type::now();
                    while (v.size() < static_cast<std::size_t>(batches_per_side) || ns_since(start) < 2e9)
                        v.push_back(run_batch(pool, batch));
                    trace.close();
                    sm = median(v);
                    st = ns_since(start) / (double(batch) * static_cast<double>(v.size()));
                }
                remove_trace("sustained", r);
            };
            if (r % 2 == 0) {
                measure_off();
                measure_on();
            } else {
                measure_on();
                measure_off();
            }
            off.push_back(o);
            hooks.push_back(h);
            writing.push_back(w);
            sustained_median.push_back(sm);
            sustained_total.push_back(st);
            added_hooks.push_back(h - o);
            added_total.push_back(st - o);
        }
    }
    {
        fronta::process_pool pool(workers);
        median_round_trip(pool);  // warm: workers started, connections
        for (int r = 0; r < rounds; ++r) {
            std::fprintf(stderr, "tracing_bench: process pool, round %d/%d\n", r + 1, rounds);
            double o = 0, t = 0;
            const auto measure_off = [&] { o = median_round_trip(pool); };
            const auto measure_on = [&] {
                fronta::tracing trace(trace_path("process", r));
                t = median_round_trip(pool);
                trace.close();
                std::filesystem::remove(trace_path("process", r));
                std::filesystem::remove(fronta::trace_records_path(trace_path("process", r)));
            };
            if (r % 2 == 0) {
                measure_off();
                measure_on();
            } else {
                measure_on();
                measure_off();
            }
            rt_off.push_back(o);
            rt_on.push_back(t);
            rt_ratio.push_back(t / o);
            batched_figures bo, bt;
            const auto batched_off = [&] { bo = process_batches(pool); };
            const auto batched_on = [&] {
                fronta::tracing trace(trace_path("process-batched", r));
                bt = process_batches(pool);
                trace.close();
                remove_trace("process-batched", r);
            };
            if (r % 2 == 0) {
                batched_off();
                batched_on();
            } else {
                batched_on();
                batched_off();
            }
            pb_off.push_back(bo.ns_per_task);
            pb_on.push_back(bt.ns_per_task);
            pb_ratio.push_back(bt.ns_per_task / bo.ns_per_task);
            pb_longest_off.push_back(bo.longest_submit_us);
            pb_longest_on.push_back(bt.longest_submit_us);
        }
    }
    std::printf("### thread_pool batched: 200,000 trivial tasks, 2 workers, ns per task\n\n");
    std::printf("| | median | min | max |\n|---|---:|---:|---:|\n");
    print_spread("off", off, 1, "ns");
    print_spread("on, hooks only (batch timed; writing done between batches)", hooks, 1, "ns");
    print_spread("**added by the hooks** (hooks only - off, per round)", added_hooks, 1, "ns");
    print_spread("writing those records (flush() + close(), per task)", writing, 1, "ns");
    print_spread("on, default options, batches back to back: median batch", sustained_median, 1, "ns");
    print_spread("on, default options: total per task, writer and close included", sustained_total, 1, "ns");
    print_spread("**added in total** (default options total - off, per round)", added_total, 1, "ns");
    std::printf("\nratio on/off: hooks only %.2f; default options, total with writing %.2f\n\n",
                median(hooks) / median(off), median(sustained_total) / median(off));
    std::printf("### inline_executor: 200,000 trivial tasks run in submit, one thread, ns per task\n\n");
    std::printf("| | median | min | max |\n|---|---:|---:|---:|\n");
    print_spread("off", in_off, 1, "ns");
    print_spread("on, hooks only (writing done between batches)", in_on, 1, "ns");
    print_spread("**added by the hooks: their CPU time per task**", in_added, 1, "ns");
    std::printf("\n");
    std::printf("### process_pool round trip: median of single submit + get, 2 workers\n\n");
    std::printf("| | median | min | max |\n|---|---:|---:|---:|\n");
    print_spread("off", rt_off, 1e-3, "us");
    print_spread("on (flush every 1 s)", rt_on, 1e-3, "us");
    print_spread("ratio on/off, per round", rt_ratio, 1, "");
    std::printf("\n### process_pool batched: 20,000 tasks per batch, batches back to back for >= 2 s, 2 workers\n\n");
    std::printf("| | median | min | max |\n|---|---:|---:|---:|\n");
    print_spread("off, per task", pb_off, 1e-3, "us");
    print_spread("on (flush every 1 s), per task", pb_on, 1e-3, "us");
    print_spread("ratio on/off, per round", pb_ratio, 1, "");
    print_spread("longest single submit(), off", pb_longest_off, 1, "us");
    print_spread("longest single submit(), on", pb_longest_on, 1, "us");
    std::printf(
        "\n(medians of %d rounds; each round runs off and on back to back, alternating which goes first; "
        "thread pool: median of %d batches per side and round; process pool: median of %d round trips)\n",
        rounds, batches_per_side, round_trips_per_side);
    return 0;
}

long peak_rss_kb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

int writer(long tasks, const std::string& mode, const char* keep) {
    temp_dir dir;
    const auto path = keep != nullptr ? std::filesystem::path(keep) : dir.path / "run.json";
    std::optional<fronta::tracing> trace;
    if (mode == "on")
        trace.emplace(path);
    else if (mode == "on-unflushed")
        trace.emplace(fronta::tracing_options{.path = path, .flush_interval = std::chrono::hours(1)});
    else if (mode != "off") {
        std::fprintf(stderr, "tracing_bench writer: mode is off, on or on-unflushed\n");
        return 2;
    }
    double run_ns = 0, close_ns = 0;
    {
        fronta::thread_pool pool(workers);
        run_ns = run_batch(pool, tasks) * double(tasks);
    }
    std::uintmax_t json_bytes = 0, lines_bytes = 0;
    std::size_t recorded = 0;
    if (trace) {
        const auto start = clock_type::now();
        trace->close();
        close_ns = ns_since(start);
        recorded = trace->tasks();
        json_bytes = std::filesystem::file_size(path);
        lines_bytes = std::filesystem::file_size(fronta::trace_records_path(path));
    }
    std::printf(
        "{\"mode\":\"%s\",\"tasks\":%ld,\"recorded\":%zu,\"run_ms\":%.1f,\"close_ms\":%.1f,"
        "\"json_bytes\":%ju,\"jsonl_bytes\":%ju,\"peak_rss_kb\":%ld}\n",
        mode.c_str(), tasks, recorded, run_ns / 1e6, close_ns / 1e6, json_bytes, lines_bytes, peak_rss_kb());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // process_pool's workers are copies of this program
    unsetenv("FRONTA_TRACE");  // this program makes its own traces
    if (argc >= 2 && std::strcmp(argv[1], "writer") == 0) {
        const long tasks = argc >= 3 ? std::atol(argv[2]) : 1'000'000;
        return writer(tasks, argc >= 4 ? argv[3] : "on", argc >= 5 ? argv[4] : nullptr);
    }
    const int rounds = argc >= 2 ? std::max(1, std::atoi(argv[1])) : 5;
    return compare(rounds);
}
