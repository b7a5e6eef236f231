// 08: one map-reduce, three places to run it, chosen by a flag. The code that does the work does
// not change: only the line that makes the executor does.
//   08_scaling_out --executor threads
//   08_scaling_out --executor processes
//   mpirun -n 4 08_scaling_out --executor mpi      (rank 0 runs main, 3 ranks work; or srun -n 4)
//   08_scaling_out --executor mpi                  (started alone: spawns its MPI workers)
// The job: estimate pi from 64 million random points, in 256 independently seeded batches.
#include <fronta/fronta.hpp>
#ifdef FRONTA_HAVE_MPI
#include <fronta/mpi_pool.hpp>
#endif

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <ranges>
#include <stdexcept>
#include <string>

// Points of one batch that fall inside the quarter circle. Seeded by the batch number, so every
// executor computes exactly the same answer.
std::uint64_t hits_in_batch(std::uint64_t batch) {
    std::uint64_t state = 0x9E3779B97F4A7C15ull * (batch + 1);
    auto next = [&] {  // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        return (state * 0x2545F4914F6CDD1Dull) >> 11;  // 53 random bits
    };
    constexpr double scale = 1.0 / double(std::uint64_t{1} << 53);
    std::uint64_t hits = 0;
    for (int i = 0; i < 250'000; ++i) {
        const double x = next() * scale, y = next() * scale;
        hits += x * x + y * y <= 1.0;
    }
    return hits;
}
FRONTA_REMOTE(hits_in_batch);

fronta::executor make_executor(const std::string& kind) {
    if (kind == "threads") return fronta::thread_pool();
    if (kind == "processes") return fronta::process_pool();
#ifdef FRONTA_HAVE_MPI
    if (kind == "mpi") return fronta::mpi_pool();
#else
    if (kind == "mpi") throw std::invalid_argument("this build has no MPI (install libopenmpi-dev and rebuild)");
#endif
    throw std::invalid_argument("unknown executor '" + kind + "' (threads, processes or mpi)");
}

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // process and MPI workers are copies of this program: they stay in here
    std::string kind = "threads";
    for (int i = 1; i + 1 < argc; ++i)
        if (std::string(argv[i]) == "--executor") kind = argv[i + 1];
    try {
        const auto start = std::chrono::steady_clock::now();
        fronta::executor pool = make_executor(kind);
        constexpr std::uint64_t batches = 256;
        std::uint64_t hits = 0;
        for (std::uint64_t h : pool.map(hits_in_batch, std::views::iota(std::uint64_t{0}, batches), {.chunk_size = 4}))
            hits += h;
        const double pi = 4.0 * double(hits) / (batches * 250'000.0);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("%-9s with %zu workers: pi ~ %.6f (%llu hits) in %.2f s\n", kind.c_str(), pool.concurrency(), pi,
                    static_cast<unsigned long long>(hits), seconds);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "08_scaling_out: %s\n", e.what());
        return 2;
    }
}
