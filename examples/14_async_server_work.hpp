#pragma once
// The heavy request of examples/14_async_server.cpp, apart so that its test and its benchmark can
// compute the expected checksum themselves: `heavy_work(units, kib)` is a pure function of its
// arguments (the same in every process and build), a deterministic integer kernel over a buffer
// of `kib` KiB that the task allocates and fills, then walks `units` times.

#include <cstddef>
#include <cstdint>
#include <memory>

namespace async_server {

inline constexpr std::uint32_t max_units = 100'000;
inline constexpr std::uint32_t default_kib = 64;
inline constexpr std::uint32_t max_kib = 65'536;  // 64 MiB

// Steps of the walk per unit: one unit is about 100 µs in an optimised build on the machine it was
// calibrated on (`14_async_server --calibrate` prints the time per unit here). Changing it changes
// every checksum.
inline constexpr std::uint64_t steps_per_unit = 50'000;

/// The CPU-bound work of `heavy <units> <kib>`: fills a buffer of `kib` KiB from an LCG, then
/// walks it `units * steps_per_unit` times, mixing each word into a running hash (a dependency
/// chain the compiler cannot shorten) and writing the hash back. Returns the final hash.
inline std::uint64_t heavy_work(std::uint32_t units, std::uint32_t kib) {
    const std::size_t words = std::size_t(kib) * 1024 / sizeof(std::uint64_t);
    const std::unique_ptr<std::uint64_t[]> buffer(new std::uint64_t[words == 0 ? 1 : words]);
    const std::size_t n = words == 0 ? 1 : words;
    std::uint64_t h = 0x9E3779B97F4A7C15ull ^ (std::uint64_t(units) << 32) ^ kib;
    for (std::size_t i = 0; i < n; ++i) {  // every page touched: the memory is really used
        h = h * 6364136223846793005ull + 1442695040888963407ull;
        buffer[i] = h;
    }
    std::size_t at = 0;
    const std::uint64_t steps = std::uint64_t(units) * steps_per_unit;
    for (std::uint64_t step = 0; step < steps; ++step) {
        h ^= buffer[at];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 33;
        buffer[at] = h;
        if (++at == n) at = 0;
    }
    return h;
}

}  // namespace async_server
