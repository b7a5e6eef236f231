// The talk, on a thread pool: create, submit, map, as_completed, wait (timeout + first_completed)
// and cancel the rest, shutdown. Each step prints what happened and how long it took.
// `demo --executor inline` runs the same code on the inline executor, picked at run time.
#include <fronta/fronta.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <ranges>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

double do_some_math(double x) { return x * x; }

// Stands for a call that waits on something: an API, a disk, a database.
int slow_request(int id) {
    std::this_thread::sleep_for(std::chrono::milliseconds(15 * (id % 4 + 1)));
    return id;
}

class step {
public:
    explicit step(const char* title) : start_(steady::now()) {
        std::printf("\n== %s\n", title);
        std::fflush(stdout);  // before a progress bar on stderr, when both go to one file
    }
    ~step() {
        const double ms = std::chrono::duration<double, std::milli>(steady::now() - start_).count();
        std::printf("   (%.3f ms)\n", ms);
    }

private:
    steady::time_point start_;
};

}  // namespace

int main(int argc, char** argv) {
    std::string kind = "threads";
    std::string trace_path;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--executor" && i + 1 < argc) {
            kind = argv[++i];
        } else if (arg == "--trace" && i + 1 < argc) {
            trace_path = argv[++i];
        } else {
            std::fprintf(stderr, "usage: %s [--executor inline|threads] [--trace run.json]\n", argv[0]);
            return 2;
        }
    }
    // --trace: every task of the walk-through in a Chrome trace, and an HTML report of it at the end.
    std::optional<fronta::tracing> trace;
    try {
        if (!trace_path.empty()) trace.emplace(trace_path);
    } catch (const std::exception& e) {  // a path that cannot be written: said now, not at the end
        std::fprintf(stderr, "demo: %s\n", e.what());
        return 1;
    }
    if (kind != "inline" && kind != "threads") {
        std::fprintf(stderr, "demo: unknown executor '%s': use inline or threads\n", kind.c_str());
        return 2;
    }
    std::printf("fronta demo: Python's concurrent.futures, in C++20 (executor: %s)\n", kind.c_str());
    std::optional<fronta::executor> pool;
    {
        step s(kind == "threads" ? "1. create an executor: fronta::thread_pool(4)  ~ ThreadPoolExecutor(max_workers=4)"
                                 : "1. create an executor: fronta::inline_executor()  (runs each task inside submit)");
        if (kind == "threads")
            pool.emplace(fronta::thread_pool(4));
        else
            pool.emplace(fronta::inline_executor());
        std::printf("   %zu task(s) run at once\n", pool->concurrency());
    }
    {
        step s("2a. submit one call: pool.submit(do_some_math, 5.0)");
        fronta::future<double> result = pool->submit(do_some_math, 5.0);
        const double value = result.get();
        std::printf("   result.get() = %g, then done() = %s\n", value, result.done() ? "true" : "false");
    }
    {
        step s("2b. map over inputs: pool.map(do_some_math, iota(0, 10)) -- lazy, in input order");
        std::printf("  ");
        for (double y : pool->map(do_some_math, std::views::iota(0, 10))) std::printf(" %g", y);
        std::printf("\n");
    }
    {
        step s(
            "2c. map 1,000,000 inputs in chunks of 1024, with a progress bar on stderr: "
            "pool.map(f, inputs, {.chunk_size = 1024, .progress = \"inputs\"})");
        double total = 0;
        for (double y :
             pool->map(do_some_math, std::views::iota(0, 1'000'000), {.chunk_size = 1024, .progress = "inputs"}))
            total += y;
        std::printf("   sum = %.6g\n", total);
    }
    {
        step s("3. as_completed: 8 requests of different lengths, taken as they finish");
        std::vector<fronta::future<int>> futures;
        for (int id = 0; id < 8; ++id) futures.push_back(pool->submit(slow_request, id));
        const auto start = steady::now();
        for (const auto& f : fronta::as_completed(futures)) {
            const double ms = std::chrono::duration<double, std::milli>(steady::now() - start).count();
            std::printf("   request %d finished after %5.1f ms\n", f.get(), ms);
        }
    }
    {
        step s("4. wait(futures, 1s, first_completed), then cancel the rest");
        std::vector<fronta::future<int>> futures;
        for (int id = 0; id < 12; ++id) futures.push_back(pool->submit(slow_request, id));
        auto [done, not_done] = fronta::wait(futures, 1s, fronta::return_when::first_completed);
        std::printf("   %zu done, %zu not done; first answer: request %d\n", done.size(), not_done.size(),
                    done.front().get());
        int cancelled = 0;
        for (auto& f : not_done) cancelled += f.cancel();
        std::printf("   cancelled %d that had not started; %zu were already running\n", cancelled,
                    not_done.size() - cancelled);
    }
    {
        step s("5. shutdown(wait=true, cancel_futures=false)");
        pool->shutdown(true, false);
        try {
            pool->submit(do_some_math, 1.0);
        } catch (const fronta::shutdown_error& e) {
            std::printf("   submit after shutdown throws fronta::shutdown_error: %s\n", e.what());
        }
    }
    if (trace) {
        const std::string report = std::filesystem::path(trace_path).replace_extension(".html");
        trace->write_report(report);
        std::printf(
            "\n== 6. what ran where: fronta::tracing\n   trace %s (open it in https://ui.perfetto.dev or "
            "chrome://tracing)\n   one JSON line per task: %s\n   report: %s (any browser, offline)\n",
            trace_path.c_str(), fronta::trace_records_path(trace_path).c_str(), report.c_str());
    }
    std::printf("\nDone. The examples/ folder has one small program per step.\n");
}
