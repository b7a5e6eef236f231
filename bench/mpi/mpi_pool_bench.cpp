// mpi_pool under mpirun: rank 0 measures, the other ranks are the workers. Prints one JSON object;
// bench/mpi/mpi4py_futures.py measures the same three things for mpi4py.futures, and
// bench/run_mpi.sh puts them side by side for 1, 2, 4 and 8 workers.
//   round_trip_us: median of single submit + get
//   batched_us_per_task: submit 20,000 tasks, then get them all
//   map_ns_per_item: map over 2,000,000 items in chunks of 10,000
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "fronta/init.hpp"
#include "fronta/mpi_pool.hpp"

namespace {

double trivial(double x) { return x + 1; }
FRONTA_REMOTE(trivial);

using clock_type = std::chrono::steady_clock;
double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

template <class F>
double best_of(int runs, F&& f) {
    double best = 1e30;
    for (int i = 0; i < runs; ++i) best = std::min(best, f());
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    fronta::init(argc, argv);
    fronta::mpi_pool pool;
    const std::size_t workers = pool.size();

    for (int i = 0; i < 2000; ++i) pool.submit(trivial, 1.0).get();  // warm up
    std::vector<double> trips;
    for (int i = 0; i < 20000; ++i) {
        const auto start = clock_type::now();
        pool.submit(trivial, double(i)).get();
        trips.push_back(seconds_since(start) * 1e6);
    }
    std::nth_element(trips.begin(), trips.begin() + trips.size() / 2, trips.end());
    const double round_trip_us = trips[trips.size() / 2];

    constexpr int batch = 20000;
    const double batched_us = best_of(5, [&] {
        const auto start = clock_type::now();
        std::vector<fronta::future<double>> futures;
        futures.reserve(batch);
        for (int i = 0; i < batch; ++i) futures.push_back(pool.submit(trivial, double(i)));
        double sum = 0;
        for (auto& f : futures) sum += f.get();
        if (sum < 0) std::puts("");
        return seconds_since(start) * 1e6 / batch;
    });

    constexpr std::size_t items = 2'000'000;
    std::vector<double> inputs(items, 1.0);
    const double map_ns = best_of(3, [&] {
        const auto start = clock_type::now();
        double sum = 0;
        for (double y : pool.map(trivial, inputs, {.chunk_size = 10'000})) sum += y;
        if (sum != 2.0 * items) std::puts("wrong map result");
        return seconds_since(start) * 1e9 / items;
    });

    std::printf(
        "{\"impl\": \"fronta mpi_pool\", \"workers\": %zu, \"round_trip_us\": %.2f, "
        "\"batched_us_per_task\": %.3f, \"map_ns_per_item\": %.1f}\n",
        workers, round_trip_us, batched_us, map_ns);
}
