// map over more input than the machine's memory, with and without max_in_flight_bytes: the peak
// resident memory of the client (and of the workers, for processes). Each input is a block of
// --block-mb MiB made by the client as it is read (a lazy range); the task sums its bytes
// --passes times.
//   bounded_map --executor threads|processes --gib 32 --block-mb 128 [--bound-mb 256]
// Prints one JSON line: executor, bound, bytes mapped, seconds, peak RSS of client and workers.
#include <fronta/fronta.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <optional>
#include <ranges>
#include <string>
#include <vector>

namespace {

// The sum of the bytes, read `passes` times (a task slower than making its input, so inputs queue
// up: the case where a bound by count lets memory grow).
std::uint64_t byte_sum(std::vector<unsigned char> block, int passes) {
    std::uint64_t sum = 0;
    for (int p = 0; p < passes; ++p) {
        std::uint64_t pass = 0;
        for (unsigned char b : block) pass += b ^ static_cast<unsigned char>(p);
        sum += pass;
    }
    return sum;
}
FRONTA_REMOTE(byte_sum);

long peak_rss_kib(int who) {
    rusage usage{};
    getrusage(who, &usage);
    return usage.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
    fronta::init(argc, argv);
    std::string kind = "threads";
    double gib = 32;
    std::size_t block_mb = 128, bound_mb = 0, workers = 2;
    int passes = 4;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i], value = argv[i + 1];
        if (flag == "--executor")
            kind = value;
        else if (flag == "--gib")
            gib = std::stod(value);
        else if (flag == "--block-mb")
            block_mb = std::stoul(value);
        else if (flag == "--bound-mb")
            bound_mb = std::stoul(value);
        else if (flag == "--workers")
            workers = std::stoul(value);
        else if (flag == "--passes")
            passes = std::stoi(value);
        else {
            std::fprintf(stderr, "bounded_map: unknown flag %s\n", flag.c_str());
            return 2;
        }
    }
    const std::size_t block = block_mb << 20;
    const auto blocks = static_cast<long>(gib * (1ul << 30) / block);
    auto inputs = std::views::iota(0L, blocks) | std::views::transform([block](long k) {
                      return std::vector<unsigned char>(block, static_cast<unsigned char>(k));
                  });
    auto passes_each = std::views::iota(0) | std::views::transform([passes](int) { return passes; });
    fronta::map_options options;
    if (bound_mb != 0) options.max_in_flight_bytes = bound_mb << 20;
    std::uint64_t total = 0;
    const auto start = std::chrono::steady_clock::now();
    {
        std::optional<fronta::executor> ex;
        if (kind == "threads")
            ex.emplace(fronta::thread_pool(workers));
        else if (kind == "processes")
            ex.emplace(fronta::process_pool(workers));
        else {
            std::fprintf(stderr, "bounded_map: --executor threads|processes\n");
            return 2;
        }
        for (std::uint64_t s : ex->map(byte_sum, inputs, passes_each, options)) total += s;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::uint64_t expected = 0;
    for (long k = 0; k < blocks; ++k)
        for (int p = 0; p < passes; ++p) expected += static_cast<std::uint64_t>((k % 256) ^ p) * block;
    if (total != expected) {
        std::fprintf(stderr, "bounded_map: wrong sum %llu, expected %llu\n", static_cast<unsigned long long>(total),
                     static_cast<unsigned long long>(expected));
        return 1;
    }
    std::printf(
        "{\"executor\":\"%s\",\"workers\":%zu,\"block_mb\":%zu,\"bound_mb\":%zu,\"gib\":%.1f,\"seconds\":%.2f,"
        "\"client_peak_rss_mb\":%.0f,\"worker_peak_rss_mb\":%.0f}\n",
        kind.c_str(), workers, block_mb, bound_mb, double(blocks) * block / (1ul << 30), seconds,
        peak_rss_kib(RUSAGE_SELF) / 1024.0, peak_rss_kib(RUSAGE_CHILDREN) / 1024.0);
}
