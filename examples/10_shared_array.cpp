// 10: one big array shared with process-pool workers without a copy per task (the talk's "large
// data can be processed in chunks" and "data can be memory-mapped"; joblib's memmapping).
// Python: every task would pickle its argument, so an 80 MB array costs 80 MB per task.
#include <fronta/fronta.hpp>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <vector>

// The workers' side: each task gets the whole array (a descriptor: the worker maps the same
// pages) and the bounds of the slice it works on.
double sum_slice(fronta::shared_array<const double> data, std::size_t from, std::size_t to) {
    double sum = 0;
    for (std::size_t i = from; i < to; ++i) sum += data[i];
    return sum;
}
FRONTA_REMOTE(sum_slice);

double squared_deviations(fronta::shared_array<const double> data, std::size_t from, std::size_t to, double mean) {
    double sum = 0;
    for (std::size_t i = from; i < to; ++i) sum += (data[i] - mean) * (data[i] - mean);
    return sum;
}
FRONTA_REMOTE(squared_deviations);

// A writable shared_array: what workers write there, the client reads without a copy back.
void standardize(fronta::shared_array<const double> data, fronta::shared_array<double> out, std::size_t from,
                 std::size_t to, double mean, double stddev) {
    for (std::size_t i = from; i < to; ++i) out[i] = (data[i] - mean) / stddev;
}
FRONTA_REMOTE(standardize);

// The same sum with the array passed by value: serialized and copied for this one task.
double sum_vector(std::vector<double> data) {
    double sum = 0;
    for (double x : data) sum += x;
    return sum;
}
FRONTA_REMOTE(sum_vector);

double milliseconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

int main(int argc, char** argv) {
    fronta::init(argc, argv);              // workers are copies of this program: they stay in here
    constexpr std::size_t n = 10'000'000;  // 80 MB of doubles
    constexpr std::size_t slices = 16;

    std::vector<double> measurements(n);
    for (std::size_t i = 0; i < n; ++i) measurements[i] = 20.0 + 5.0 * std::sin(0.001 * static_cast<double>(i));
    // One copy into shared memory, here; const: workers map it read-only.
    const auto data = fronta::shared_array<const double>::copy_of(measurements);

    fronta::process_pool pool(2);
    auto over_slices = [&](auto function, auto... extra) {
        std::vector<fronta::future<double>> parts;
        for (std::size_t s = 0; s < slices; ++s)
            parts.push_back(pool.submit(function, data, s * n / slices, (s + 1) * n / slices, extra...));
        double total = 0;
        for (auto& part : parts) total += part.get();
        return total;
    };

    auto start = std::chrono::steady_clock::now();
    const double mean = over_slices(sum_slice) / n;
    const double stddev = std::sqrt(over_slices(squared_deviations, mean) / n);
    std::printf("mean %.4f, standard deviation %.4f: 2 x %zu tasks on one 80 MB array in %.1f ms\n", mean, stddev,
                slices, milliseconds_since(start));

    fronta::shared_array<double> standardized(n);  // zero-filled, writable by the workers
    std::vector<fronta::future<void>> writes;
    for (std::size_t s = 0; s < slices; ++s)
        writes.push_back(
            pool.submit(standardize, data, standardized, s * n / slices, (s + 1) * n / slices, mean, stddev));
    for (auto& w : writes) w.get();
    std::printf("workers wrote standardized[0] = %.4f and standardized[n - 1] = %.4f in place\n", standardized[0],
                standardized[n - 1]);

    // For scale: one task that takes the array by value pays for the copies.
    start = std::chrono::steady_clock::now();
    const double by_value = pool.submit(sum_vector, measurements).get();
    const double by_value_ms = milliseconds_since(start);
    start = std::chrono::steady_clock::now();
    const double shared = pool.submit(sum_slice, data, std::size_t{0}, n).get();
    std::printf("one task over the whole array: by value %.1f ms, as a shared_array %.1f ms\n", by_value_ms,
                milliseconds_since(start));

    const double expected = (measurements[0] - mean) / stddev;
    const bool ok =
        std::abs(standardized[0] - expected) < 1e-9 && std::abs(by_value - shared) < 1e-6 * std::abs(shared);
    return ok ? 0 : 1;
}
