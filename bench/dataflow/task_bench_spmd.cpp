// Task graphs in hand-written MPI, SPMD with nonblocking point-to-point (Task Bench's MPI
// reference): `mpirun -n 2 task_bench_spmd [task_bench options]`. Each rank owns a block of
// columns; per step it sends its edge columns of step t-1 to the neighbouring ranks (MPI_Isend),
// receives theirs (MPI_Irecv), computes the columns that need only its own values meanwhile, then
// the rest. Rank 0 prints the JSON lines (bench/dataflow/task_bench.hpp has the method).
#include <mpi.h>

#include "task_bench.hpp"

namespace task_bench {
namespace {

struct world {
    int rank = 0, size = 1;
};

double run_spmd(const world& w, pattern p, int width, int steps, long n, std::vector<double>& grid) {
    const int r = arity(p) / 2;  // how far an input can be
    const int lo = int(long(width) * w.rank / w.size), hi = int(long(width) * (w.rank + 1) / w.size);
    if (hi - lo < r) throw std::runtime_error("task_bench_spmd: fewer columns per rank than the pattern's reach");
    const bool left = w.rank > 0 && r > 0, right = w.rank + 1 < w.size && r > 0;
    std::vector<double> previous(width), current(width);  // full rows: own columns and the halo
    grid.assign(std::size_t(width) * steps, 0.0);
    auto compute = [&](int t, int i) {
        double in[8];
        const int k = t == 0 ? 0 : arity(p);
        for (int j = 0; j < k; ++j) in[j] = previous[input_column(p, width, i, j)];
        current[i] = point_value(n, seed(t, i), {in, std::size_t(k)});
        grid[std::size_t(t) * width + i] = current[i];
    };
    // Columns whose inputs are all this rank's own (or clamped into them).
    const int inner_lo = left ? lo + r : lo, inner_hi = right ? hi - r : hi;

    MPI_Barrier(MPI_COMM_WORLD);
    const auto start = clock_type::now();
    for (int t = 0; t < steps; ++t) {
        MPI_Request requests[4];
        int count = 0;
        if (t > 0 && r > 0) {
            if (left) {
                MPI_Irecv(&previous[lo - r], r, MPI_DOUBLE, w.rank - 1, 0, MPI_COMM_WORLD, &requests[count++]);
                MPI_Isend(&previous[lo], r, MPI_DOUBLE, w.rank - 1, 0, MPI_COMM_WORLD, &requests[count++]);
            }
            if (right) {
                MPI_Irecv(&previous[hi], r, MPI_DOUBLE, w.rank + 1, 0, MPI_COMM_WORLD, &requests[count++]);
                MPI_Isend(&previous[hi - r], r, MPI_DOUBLE, w.rank + 1, 0, MPI_COMM_WORLD, &requests[count++]);
            }
        }
        if (t == 0 || r == 0) {
            for (int i = lo; i < hi; ++i) compute(t, i);
        } else {
            for (int i = inner_lo; i < inner_hi; ++i) compute(t, i);
            MPI_Waitall(count, requests, MPI_STATUSES_IGNORE);
            for (int i = lo; i < inner_lo; ++i) compute(t, i);
            for (int i = std::max(inner_hi, inner_lo); i < hi; ++i) compute(t, i);
        }
        std::swap(previous, current);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    double seconds = seconds_since(start);
    MPI_Bcast(&seconds, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    // Every rank gets the whole grid (columns are disjoint, the rest zero: the sum is exact).
    MPI_Allreduce(MPI_IN_PLACE, grid.data(), int(grid.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return seconds;
}

}  // namespace
}  // namespace task_bench

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    using namespace task_bench;
    world w;
    MPI_Comm_rank(MPI_COMM_WORLD, &w.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &w.size);
    options o = parse_options(argc, argv);
    o.workers = w.size;
    o.quiet = w.rank != 0;
    o.binary = "task_bench_spmd";
    // Every rank measures; the fastest sets the peak (and, the same on every rank, the steps).
    double rate = serial_rate();
    MPI_Allreduce(MPI_IN_PLACE, &rate, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (w.rank == 0) print_peak(rate, o);
    std::vector<graph_system> systems{
        // The probe: the same kernels with no dependencies, on the same ranks (trivial's SPMD).
        {"probe",
         [&](pattern, int width, int s, long n, std::vector<double>& g) {
             return run_spmd(w, pattern::trivial, width, s, n, g);
         },
         true},
        {"mpi_spmd",
         [&](pattern p, int width, int s, long n, std::vector<double>& g) { return run_spmd(w, p, width, s, n, g); }}};
    const int ok = run_sweep(o, systems, rate) ? 1 : 0;
    MPI_Finalize();
    return ok ? 0 : 1;
}
