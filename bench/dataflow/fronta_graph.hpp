#pragma once
// fronta's two ways of running a task graph, for any of its executors (thread_pool, process_pool,
// mpi_pool):
//   futures: every task is submitted at once, the futures of its inputs as arguments
//            (`pool.submit(task3, iterations, seed, left, mid, right)`): the executor runs it once
//            they are done, with their values. Built when the executor has futures as arguments
//            (fronta/detail/dataflow.hpp, issue 13).
//   waits:   what a client writes without that: submit row t, get() its values, pass them to the
//            tasks of row t+1 (a round trip through the client per row). For `trivial` (no
//            dependencies) both submit everything at once.
#include <fronta/fronta.hpp>

#include <vector>

#include "task_bench.hpp"

#if __has_include(<fronta/detail/dataflow.hpp>)
#define TASK_BENCH_FUTURES_AS_ARGUMENTS 1
#endif

namespace task_bench {

// One task function per arity: the point's value from its inputs' values.
inline double task0(long iterations, double point_seed) { return point_value(iterations, point_seed, {}); }
inline double task3(long iterations, double point_seed, double a, double b, double c) {
    const double in[] = {a, b, c};
    return point_value(iterations, point_seed, in);
}
inline double task5(long iterations, double point_seed, double a, double b, double c, double d, double e) {
    const double in[] = {a, b, c, d, e};
    return point_value(iterations, point_seed, in);
}

// Submits point (t, i) with the inputs `in(k)` (k < arity): values or futures of row t-1.
template <class Pool, class Input>
fronta::future<double> submit_point(Pool& pool, pattern p, int t, int i, long n, Input&& in) {
    if (t == 0 || p == pattern::trivial) return pool.submit(task0, n, seed(t, i));
    if (p == pattern::stencil_1d) return pool.submit(task3, n, seed(t, i), in(0), in(1), in(2));
    return pool.submit(task5, n, seed(t, i), in(0), in(1), in(2), in(3), in(4));
}

#ifdef TASK_BENCH_FUTURES_AS_ARGUMENTS
template <class Pool>
double run_futures(Pool& pool, pattern p, int width, int steps, long n, std::vector<double>& grid) {
    std::vector<fronta::future<double>> points(std::size_t(width) * steps);
    const auto start = clock_type::now();
    for (int t = 0; t < steps; ++t)
        for (int i = 0; i < width; ++i) {
            auto in = [&](int k) -> fronta::future<double>& {
                return points[std::size_t(t - 1) * width + input_column(p, width, i, k)];
            };
            points[std::size_t(t) * width + i] = submit_point(pool, p, t, i, n, in);
        }
    grid.resize(points.size());
    for (std::size_t k = 0; k < points.size(); ++k) grid[k] = points[k].get();
    return seconds_since(start);
}
#endif

template <class Pool>
double run_waits(Pool& pool, pattern p, int width, int steps, long n, std::vector<double>& grid) {
    grid.assign(std::size_t(width) * steps, 0.0);
    const auto start = clock_type::now();
    if (p == pattern::trivial) {
        std::vector<fronta::future<double>> points(grid.size());
        for (int t = 0; t < steps; ++t)
            for (int i = 0; i < width; ++i) points[std::size_t(t) * width + i] = pool.submit(task0, n, seed(t, i));
        for (std::size_t k = 0; k < points.size(); ++k) grid[k] = points[k].get();
        return seconds_since(start);
    }
    std::vector<fronta::future<double>> row(width);
    for (int t = 0; t < steps; ++t) {
        const double* previous = t > 0 ? &grid[std::size_t(t - 1) * width] : nullptr;
        for (int i = 0; i < width; ++i)
            row[i] = submit_point(pool, p, t, i, n, [&](int k) { return previous[input_column(p, width, i, k)]; });
        for (int i = 0; i < width; ++i) grid[std::size_t(t) * width + i] = row[i].get();
    }
    return seconds_since(start);
}

// The two variants of one executor, named `<prefix>` and `<prefix>_waits`.
template <class Pool>
void add_fronta_systems(std::vector<graph_system>& systems, const options& o, const std::string& prefix, Pool& pool) {
#ifdef TASK_BENCH_FUTURES_AS_ARGUMENTS
    if (selected(o, prefix))
        systems.push_back({prefix, [&pool](pattern p, int w, int s, long n, std::vector<double>& g) {
                               return run_futures(pool, p, w, s, n, g);
                           }});
#else
    if (selected(o, prefix))
        std::fprintf(stderr, "task_bench: %s: this fronta has no futures as arguments yet; only %s_waits runs\n",
                     prefix.c_str(), prefix.c_str());
#endif
    if (selected(o, prefix + "_waits"))
        systems.push_back({prefix + "_waits", [&pool](pattern p, int w, int s, long n, std::vector<double>& g) {
                               return run_waits(pool, p, w, s, n, g);
                           }});
}

}  // namespace task_bench

FRONTA_REMOTE(task_bench::task0);
FRONTA_REMOTE(task_bench::task3);
FRONTA_REMOTE(task_bench::task5);
