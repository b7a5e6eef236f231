// Task graphs on one machine, side by side in one process, 2 workers each (bench/dataflow/
// task_bench.hpp has the method): OpenMP tasks with `depend` (libgomp), oneTBB flow_graph in an
// arena of 2, fronta thread_pool(2) and process_pool(2), each with futures as arguments and with
// waits in the client. The MPI systems run under mpirun from task_bench_spmd.cpp and
// task_bench_mpi_pool.cpp; bench/run.sh dataflow runs all of them in rounds and bench/report.py
// dataflow prints METG per system and pattern.
//   task_bench [--width 4] [--budget-ms 40] [--patterns trivial,stencil_1d,nearest]
//              [--iterations N1,N2 (instead of the sweep)] [--only system1,system2] [--round R]
// Prints one JSON line per measurement; exits 1 if a result differs from the serial reference.
#include <memory>
#include <optional>

#include "fronta_graph.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef TASK_BENCH_WITH_TBB
#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/task_arena.h>
#endif

namespace task_bench {
namespace {

#ifdef _OPENMP
// One task per point; its inputs and output are its `depend` items (the grid's cells).
double run_openmp(int workers, pattern p, int width, int steps, long n, std::vector<double>& grid) {
    grid.assign(std::size_t(width) * steps, 0.0);
    double* g = grid.data();
    const auto start = clock_type::now();
#pragma omp parallel num_threads(workers)
#pragma omp single
    for (int t = 0; t < steps; ++t)
        for (int i = 0; i < width; ++i) {
            double* out = g + std::size_t(t) * width + i;
            const double s = seed(t, i);
            const double* row = t > 0 ? g + std::size_t(t - 1) * width : nullptr;
            if (t == 0 || p == pattern::trivial) {
                if (p == pattern::trivial) {
#pragma omp task firstprivate(out, s, n)
                    *out = point_value(n, s, {});
                } else {
#pragma omp task firstprivate(out, s, n) depend(out : out[0])
                    *out = point_value(n, s, {});
                }
            } else if (p == pattern::stencil_1d) {
                const double* a = row + input_column(p, width, i, 0);
                const double* b = row + input_column(p, width, i, 1);
                const double* c = row + input_column(p, width, i, 2);
#pragma omp task firstprivate(out, s, n, a, b, c) depend(in : a[0], b[0], c[0]) depend(out : out[0])
                {
                    const double in[] = {*a, *b, *c};
                    *out = point_value(n, s, in);
                }
            } else {
                const double* a = row + input_column(p, width, i, 0);
                const double* b = row + input_column(p, width, i, 1);
                const double* c = row + input_column(p, width, i, 2);
                const double* d = row + input_column(p, width, i, 3);
                const double* e = row + input_column(p, width, i, 4);
#pragma omp task firstprivate(out, s, n, a, b, c, d, e) depend(in : a[0], b[0], c[0], d[0], e[0]) depend(out : out[0])
                {
                    const double in[] = {*a, *b, *c, *d, *e};
                    *out = point_value(n, s, in);
                }
            }
        }
    return seconds_since(start);
}
#endif

#ifdef TASK_BENCH_WITH_TBB
// A continue_node per point, an edge per distinct input; values pass through the grid. The graph
// is built before the clock starts (flow_graph's use: build once, run), inside the arena so its
// tasks run there.
double run_tbb(tbb::task_arena& arena, pattern p, int width, int steps, long n, std::vector<double>& grid) {
    using node = tbb::flow::continue_node<tbb::flow::continue_msg>;
    grid.assign(std::size_t(width) * steps, 0.0);
    double seconds = 0;
    arena.execute([&] {
        tbb::flow::graph graph;
        std::vector<std::unique_ptr<node>> nodes;
        nodes.reserve(grid.size());
        double* g = grid.data();
        for (int t = 0; t < steps; ++t)
            for (int i = 0; i < width; ++i)
                nodes.push_back(std::make_unique<node>(graph, [=](const tbb::flow::continue_msg&) {
                    double in[8];
                    const int k = t == 0 ? 0 : arity(p);
                    for (int j = 0; j < k; ++j) in[j] = g[std::size_t(t - 1) * width + input_column(p, width, i, j)];
                    g[std::size_t(t) * width + i] = point_value(n, seed(t, i), {in, std::size_t(k)});
                }));
        std::vector<node*> roots;
        for (int t = 0; t < steps; ++t)
            for (int i = 0; i < width; ++i) {
                node& self = *nodes[std::size_t(t) * width + i];
                if (t == 0 || p == pattern::trivial) {
                    roots.push_back(&self);
                    continue;
                }
                int last = -1;  // input columns come in increasing order, duplicates side by side
                for (int k = 0; k < arity(p); ++k) {
                    const int column = input_column(p, width, i, k);
                    if (column != last) tbb::flow::make_edge(*nodes[std::size_t(t - 1) * width + column], self);
                    last = column;
                }
            }
        const auto start = clock_type::now();
        for (node* root : roots) root->try_put(tbb::flow::continue_msg());
        graph.wait_for_all();
        seconds = seconds_since(start);
    });
    return seconds;
}
#endif

}  // namespace
}  // namespace task_bench

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // process_pool's workers are copies of this program: they stay in here
    using namespace task_bench;
    options o = parse_options(argc, argv);
    o.binary = "task_bench";
    const double rate = serial_rate();
    print_peak(rate, o);

    std::vector<graph_system> systems;
    systems.push_back(
        {"probe",
         [&](pattern, int w, int s, long n, std::vector<double>&) { return run_probe_threads(o.workers, w, s, n); },
         true});
#ifdef _OPENMP
    if (selected(o, "openmp"))
        systems.push_back({"openmp", [&](pattern p, int w, int s, long n, std::vector<double>& g) {
                               return run_openmp(o.workers, p, w, s, n, g);
                           }});
#endif
#ifdef TASK_BENCH_WITH_TBB
    tbb::task_arena arena(o.workers);
    if (selected(o, "tbb_flow_graph"))
        systems.push_back({"tbb_flow_graph", [&](pattern p, int w, int s, long n, std::vector<double>& g) {
                               return run_tbb(arena, p, w, s, n, g);
                           }});
#endif
    std::optional<fronta::thread_pool> threads;
    if (selected(o, "fronta_threads") || selected(o, "fronta_threads_waits"))
        add_fronta_systems(systems, o, "fronta_threads", threads.emplace(o.workers));
    std::optional<fronta::process_pool> processes;
    if (selected(o, "fronta_processes") || selected(o, "fronta_processes_waits"))
        add_fronta_systems(systems, o, "fronta_processes", processes.emplace(o.workers));
    if (systems.size() == 1) {
        std::fprintf(stderr, "task_bench: no system selected\n");
        return 2;
    }
    return run_sweep(o, systems, rate) ? 0 : 1;
}
