#pragma once
// The task graphs of Stanford's Task Bench (Slaughter et al., SC'20), written here: a grid of
// `width` points by `steps` timesteps; point (t, i) depends on points of step t-1 chosen by a
// pattern, and runs a compute-bound kernel of `iterations` iterations. Every system computes the
// same values (checked against a serial run of the same functions, bit for bit).
//
// Method (as Task Bench): efficiency = achieved FLOP/s / peak FLOP/s, peak = workers x the
// kernel's serial rate at a large size; task granularity = wall time x workers / tasks;
// METG(50%) = the granularity at which efficiency crosses 50%, swept down in steps of sqrt(2)
// in iterations (bench/report.py dataflow interpolates). This header is plain C++ (no fronta,
// no MPI): every driver of bench/dataflow/ includes it.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace task_bench {

enum class pattern { trivial, stencil_1d, nearest };
inline constexpr pattern all_patterns[] = {pattern::trivial, pattern::stencil_1d, pattern::nearest};

inline const char* name(pattern p) {
    switch (p) {
        case pattern::trivial: return "trivial";
        case pattern::stencil_1d: return "stencil_1d";
        case pattern::nearest: return "nearest";
    }
    return "?";
}

inline bool parse(const std::string& s, pattern& p) {
    for (pattern q : all_patterns)
        if (s == name(q)) return p = q, true;
    return false;
}

// nearest's radix: i-2 .. i+2 (Task Bench's radix 5). The drivers call one task function per
// arity, so a pattern always has the same number of inputs: neighbours outside the grid are
// clamped to the edge (the edge point is then an input twice; the dependencies are exactly the
// clipped set of Task Bench, and the serial reference does the same).
inline constexpr int nearest_radix = 5;

inline int arity(pattern p) {
    switch (p) {
        case pattern::trivial: return 0;
        case pattern::stencil_1d: return 3;
        case pattern::nearest: return nearest_radix;
    }
    return 0;
}

// The column of the k-th input of point i (k < arity), clamped to [0, width).
inline int input_column(pattern p, int width, int i, int k) {
    const int column = i - arity(p) / 2 + k;
    return std::clamp(column, 0, width - 1);
}

// The compute-bound kernel: per iteration, a multiply and an add on each of 32 values (64 FLOPs),
// 32 dependent chains side by side, as Task Bench's compute_bound updates an array per iteration.
// The compiler can neither drop nor reorder them (no -ffast-math). Many chains keep the
// arithmetic units busy: with a single chain the kernel is latency-bound, and the CPU overlaps
// consecutive small tasks out of order, so a tight loop of tiny tasks runs faster than the
// "peak" (measured: 269% efficiency at 32 iterations with one chain).
inline constexpr int chains = 32;
inline constexpr double flops_per_iteration = 2.0 * chains;

[[gnu::noinline]] inline double kernel(double x0, long iterations) {
    double x[chains];
    for (int j = 0; j < chains; ++j) x[j] = x0 + 1e-3 * j;
    for (long k = 0; k < iterations; ++k)
        for (int j = 0; j < chains; ++j) x[j] = x[j] * 0.9999 + 1e-4;
    double sum = 0;
    for (int j = 0; j < chains; ++j) sum += x[j];
    return sum / chains;
}

// What sets point (t, i) apart when it has no inputs.
inline double seed(int t, int i) { return 1e-3 * (i + 1) + 1e-7 * t; }

// The value of a point: the kernel started from the mean of its inputs and its seed, mixed with
// that mean, so every value carries its inputs' values (and stays in [0, 1]).
inline double point_value(long iterations, double point_seed, std::span<const double> inputs) {
    double mean = 0;
    for (double v : inputs) mean += v;
    if (!inputs.empty()) mean /= double(inputs.size());
    return 0.5 * mean + 0.5 * kernel(mean + point_seed, iterations);
}

// The whole grid, row after row, computed serially: the reference every system is checked against.
inline std::vector<double> serial_grid(pattern p, int width, int steps, long iterations) {
    std::vector<double> grid(std::size_t(width) * steps);
    double in[8];
    for (int t = 0; t < steps; ++t)
        for (int i = 0; i < width; ++i) {
            const int k = t == 0 ? 0 : arity(p);
            for (int j = 0; j < k; ++j) in[j] = grid[std::size_t(t - 1) * width + input_column(p, width, i, j)];
            grid[std::size_t(t) * width + i] = point_value(iterations, seed(t, i), {in, std::size_t(k)});
        }
    return grid;
}

using clock_type = std::chrono::steady_clock;
inline double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

// The kernel's serial rate (FLOP/s) at a large size: the best of `runs` runs.
inline double serial_rate(long iterations = 1 << 18, int runs = 9) {
    double best = 0;
    volatile double sink = 0;
    for (int r = 0; r < runs; ++r) {
        const auto start = clock_type::now();
        sink = sink + kernel(0.5 + r, iterations);
        best = std::max(best, flops_per_iteration * double(iterations) / seconds_since(start));
    }
    return best;
}

struct options {
    int width = 4;
    int workers = 2;
    double budget_s = 0.03;        // the wall time a point should take at full efficiency
    int max_log2 = 19;             // the sweep starts at 2^max_log2 iterations (about 2 ms here)
    int min_log2 = 1;              // and stops at 2^min_log2, or after two points under 50% efficiency
    std::vector<long> iterations;  // instead of the sweep (--iterations 1000,100)
    std::vector<pattern> patterns{std::begin(all_patterns), std::end(all_patterns)};
    std::string only;    // a comma-separated list of system names to run (default: all)
    int round = 0;       // written into every line, for the report
    bool quiet = false;  // no output (the other ranks of an SPMD run)
    std::string binary;  // which program, in every line
};

// --width W --workers N --budget-ms B --max-log2 A --min-log2 B --iterations N1,N2
// --patterns p1,p2 --only s1,s2 --round R
inline options parse_options(int argc, char** argv) {
    options o;
    auto split = [](const char* s) {
        std::vector<std::string> out;
        std::string cur;
        for (const char* c = s;; ++c) {
            if (*c == ',' || *c == 0) {
                if (!cur.empty()) out.push_back(cur);
                cur.clear();
                if (*c == 0) break;
            } else {
                cur += *c;
            }
        }
        return out;
    };
    for (int a = 1; a + 1 < argc; a += 2) {
        const std::string key = argv[a];
        const char* v = argv[a + 1];
        if (key == "--width")
            o.width = std::atoi(v);
        else if (key == "--workers")
            o.workers = std::atoi(v);
        else if (key == "--budget-ms")
            o.budget_s = std::atof(v) / 1000;
        else if (key == "--max-log2")
            o.max_log2 = std::atoi(v);
        else if (key == "--min-log2")
            o.min_log2 = std::atoi(v);
        else if (key == "--round")
            o.round = std::atoi(v);
        else if (key == "--only")
            o.only = v;
        else if (key == "--iterations") {
            o.iterations.clear();
            for (auto& s : split(v)) o.iterations.push_back(std::atol(s.c_str()));
        } else if (key == "--patterns") {
            o.patterns.clear();
            for (auto& s : split(v)) {
                pattern p;
                if (!parse(s, p)) std::fprintf(stderr, "task_bench: unknown pattern %s\n", s.c_str()), std::exit(2);
                o.patterns.push_back(p);
            }
        } else {
            std::fprintf(stderr, "task_bench: unknown option %s\n", key.c_str());
            std::exit(2);
        }
    }
    if (o.width < 2 || o.workers < 1) std::fprintf(stderr, "task_bench: bad --width/--workers\n"), std::exit(2);
    return o;
}

inline bool selected(const options& o, const std::string& system) {
    if (o.only.empty()) return true;
    return ("," + o.only + ",").find("," + system + ",") != std::string::npos;
}

// The sizes of the sweep: 2^max_log2, 2^(max_log2 - 1/2), ... down to 2^min_log2 iterations.
inline std::vector<long> sweep(const options& o) {
    if (!o.iterations.empty()) return o.iterations;
    std::vector<long> sizes;
    for (int h = 2 * o.max_log2; h >= 2 * o.min_log2; --h) sizes.push_back(std::lround(std::exp2(h / 2.0)));
    return sizes;
}

// Steps for a point of `iterations`: about `budget_s` of wall time at full efficiency.
inline int steps_for(const options& o, long iterations, double rate) {
    const double task_s = flops_per_iteration * double(iterations) / rate;
    const double steps = o.budget_s * o.workers / (o.width * task_s);
    return int(std::clamp(steps, 8.0, 250'000.0));
}

// One system: runs the graph and returns its wall time in seconds, the grid's values in `grid`
// (row after row). A system may throw; the sweep reports it and drops the system.
struct graph_system {
    std::string name;
    std::function<double(pattern, int width, int steps, long iterations, std::vector<double>& grid)> run;
    // A probe is not a system under test: the same number of kernels with no dependencies and no
    // runtime, run beside the systems at every size; its efficiency is the share of the machine
    // this program had at that moment (report.py's load-adjusted METG). Its values are not checked.
    bool probe = false;
};

// The probe of a program whose workers are its own threads: `workers` threads, each computing
// its share of the kernels with no dependencies.
inline double run_probe_threads(int workers, int width, int steps, long n) {
    const long tasks = long(width) * steps;
    std::vector<std::thread> threads;
    std::vector<double> sums(workers);
    const auto start = clock_type::now();
    for (int w = 0; w < workers; ++w)
        threads.emplace_back([&, w] {
            double sum = 0;
            for (long k = w; k < tasks; k += workers) sum += point_value(n, seed(int(k / width), int(k % width)), {});
            sums[w] = sum;
        });
    for (auto& t : threads) t.join();
    const double seconds = seconds_since(start);
    volatile double sink = sums[0];
    (void)sink;
    return seconds;
}

inline void print_peak(double rate, const options& o) {
    std::printf("{\"kind\": \"peak\", \"binary\": \"%s\", \"round\": %d, \"flops_per_core\": %.6g, \"workers\": %d}\n",
                o.binary.c_str(), o.round, rate, o.workers);
    std::fflush(stdout);
}

// Sweeps every pattern down in size, the systems side by side at each size (in an order that
// rotates from one size to the next); a system leaves a pattern's sweep after two sizes in a row
// under 50% efficiency (under half its best efficiency, when that was under 100%). Prints a JSON line per measurement;
// returns false if a result differed from the serial reference.
inline bool run_sweep(const options& o, std::vector<graph_system>& systems, double rate) {
    bool all_ok = true;
    const double peak = rate * o.workers;
    for (pattern p : o.patterns) {
        std::vector<int> below(systems.size(), 0);
        std::vector<double> best(systems.size(), 0.0);
        std::vector<bool> active(systems.size(), true);
        std::size_t rotation = 0;
        for (auto& s : systems) {  // warm up (first connections, first pages) on a small graph
            std::vector<double> grid;
            try {
                s.run(p, o.width, 64, 256, grid);
            } catch (const std::exception&) {  // reported by the sweep
            }
        }
        for (long n : sweep(o)) {
            bool any = false;
            for (std::size_t k = 0; k < systems.size(); ++k) any = any || (active[k] && !systems[k].probe);
            if (!any) break;
            const int steps = steps_for(o, n, rate);
            const std::vector<double> reference = serial_grid(p, o.width, steps, n);
            for (std::size_t k = 0; k < systems.size(); ++k) {
                const std::size_t s = (k + rotation) % systems.size();
                if (!active[s]) continue;
                std::vector<double> grid;
                double seconds = 0;
                std::string error;
                try {
                    seconds = systems[s].run(p, o.width, steps, n, grid);
                } catch (const std::exception& e) {
                    error = e.what();
                }
                const bool ok = error.empty() && (systems[s].probe || (grid.size() == reference.size() &&
                                                                       std::memcmp(grid.data(), reference.data(),
                                                                                   grid.size() * sizeof(double)) == 0));
                if (!ok) {
                    all_ok = false;
                    active[s] = false;
                    if (!o.quiet)
                        std::fprintf(stderr, "task_bench: %s %s iterations=%ld: %s\n", systems[s].name.c_str(), name(p),
                                     n, error.empty() ? "results differ from the serial reference" : error.c_str());
                }
                const double tasks = double(o.width) * steps;
                const double efficiency = ok ? flops_per_iteration * double(n) * tasks / seconds / peak : 0;
                if (!o.quiet)
                    std::printf(
                        "{\"kind\": \"%s\", \"binary\": \"%s\", \"system\": \"%s\", \"pattern\": \"%s\", \"round\": "
                        "%d, \"width\": %d, "
                        "\"steps\": %d, \"iterations\": %ld, \"workers\": %d, \"seconds\": %.6g, \"flops_per_core\": "
                        "%.6g, "
                        "\"efficiency\": %.4f, \"granularity_us\": %.4g, \"ok\": %s}\n",
                        systems[s].probe ? "probe" : "point", o.binary.c_str(), systems[s].name.c_str(), name(p),
                        o.round, o.width, steps, n, o.workers, seconds, rate, efficiency,
                        seconds * o.workers / tasks * 1e6, ok ? "true" : "false");
                std::fflush(stdout);
                // Under load from other programs no size may reach 50%: then the sweep goes on
                // until the efficiency falls to half the best seen (the overhead's doing).
                best[s] = std::max(best[s], efficiency);
                below[s] = efficiency < 0.5 * std::min(1.0, best[s]) ? below[s] + 1 : 0;
                if (below[s] >= 2 && o.iterations.empty() && !systems[s].probe) active[s] = false;
            }
            ++rotation;
        }
    }
    return all_ok;
}

}  // namespace task_bench
