// Task graphs on fronta::mpi_pool, futures as arguments and waits in the client side by side:
// `mpirun -n 3 task_bench_mpi_pool [task_bench options]` (rank 0 the client, 2 worker ranks).
// bench/dataflow/task_bench.hpp has the method; bench/run.sh dataflow runs it.
#include <fronta/mpi_pool.hpp>

#include "fronta_graph.hpp"

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // worker ranks serve in here and exit at the end
    using namespace task_bench;
    options o = parse_options(argc, argv);
    fronta::mpi_pool pool;
    o.workers = int(pool.size());
    o.binary = "task_bench_mpi_pool";
    const double rate = serial_rate();
    print_peak(rate, o);
    // The probe runs in this rank's threads while the worker ranks sleep (they do when idle).
    std::vector<graph_system> systems{
        {"probe",
         [&](pattern, int w, int s, long n, std::vector<double>&) { return run_probe_threads(o.workers, w, s, n); },
         true}};
    add_fronta_systems(systems, o, "fronta_mpi", pool);
    if (systems.size() == 1) {
        std::fprintf(stderr, "task_bench_mpi_pool: no system selected\n");
        return 2;
    }
    return run_sweep(o, systems, rate) ? 0 : 1;
}
