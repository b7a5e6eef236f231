// The floor under any program that reads the flagship's file: map it and read every byte once,
// with 1 and with 2 threads, the file already in the page cache ("warm"). Counting '\n' makes the
// compiler keep every load (and vectorise the loop); nothing is parsed.
// Usage: read_limit FILE [REPETITIONS]     (bench/data/run.sh runs it)
// Prints one JSON line per thread count, the best of REPETITIONS (default 5) runs:
//   {"program":"read_limit","threads":2,"bytes":...,"lines":...,"seconds":...,"prefaulted_seconds":...}
// "seconds" maps the file afresh each run (mmap, page faults, read, unmap: what a program that
// maps the file pays); "prefaulted_seconds" reads it again through a mapping already touched.
#include <fronta/mapped_file.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>
#include <thread>
#include <vector>

namespace {

// 32 byte-wide counters, emptied before they can overflow: g++ -O3 turns the inner loop into
// vector compares and adds (about twice as fast here as one 64-bit counter).
std::uint64_t count_newlines(const char* p, std::size_t n) {
    std::uint64_t lines = 0;
    std::size_t i = 0;
    while (i < n) {
        const std::size_t block_end = std::min(n, i + 255 * 32);
        unsigned char lanes[32] = {};
        for (; i + 32 <= block_end; i += 32)
            for (int k = 0; k < 32; ++k) lanes[k] += p[i + k] == '\n';
        for (unsigned char c : lanes) lines += c;
        for (; i < block_end; ++i) lines += p[i] == '\n';
    }
    return lines;
}

// Reads all of `text` with `threads` threads, each a contiguous share; returns the '\n' count.
std::uint64_t read_all(std::string_view text, unsigned threads) {
    std::vector<std::uint64_t> counts(threads);
    std::vector<std::thread> pool;
    const std::size_t n = text.size();
    for (unsigned t = 1; t < threads; ++t)
        pool.emplace_back([&, t] {
            const std::size_t from = n * t / threads, to = n * (t + 1) / threads;
            counts[t] = count_newlines(text.data() + from, to - from);
        });
    counts[0] = count_newlines(text.data(), n / threads);
    for (auto& th : pool) th.join();
    std::uint64_t total = 0;
    for (auto c : counts) total += c;
    return total;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: read_limit FILE [REPETITIONS]\n");
        return 2;
    }
    const int repetitions = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
    try {
        std::uint64_t lines = 0;
        {
            const fronta::mapped_file warm_up(argv[1]);  // brings the file into the page cache
            lines = read_all(warm_up.text(), 2);
        }
        for (unsigned threads : {1u, 2u}) {
            double best = 1e300, best_prefaulted = 1e300;
            std::size_t bytes = 0;
            for (int r = 0; r < repetitions; ++r) {
                auto start = std::chrono::steady_clock::now();
                std::uint64_t counted = 0;
                {
                    const fronta::mapped_file file(argv[1]);
                    bytes = file.size();
                    counted = read_all(file.text(), threads);
                    best = std::min(best, seconds_since(start));  // before the unmap, as a program reads
                    start = std::chrono::steady_clock::now();
                    counted += read_all(file.text(), threads);
                    best_prefaulted = std::min(best_prefaulted, seconds_since(start));
                }
                if (counted != 2 * lines) {
                    std::fprintf(stderr, "read_limit: %s changed while being read\n", argv[1]);
                    return 1;
                }
            }
            std::printf(
                "{\"program\":\"read_limit\",\"threads\":%u,\"bytes\":%zu,\"lines\":%llu,\"seconds\":%.6f,"
                "\"prefaulted_seconds\":%.6f}\n",
                threads, bytes, static_cast<unsigned long long>(lines), best, best_prefaulted);
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "read_limit: %s\n", e.what());
        return 1;
    }
}
