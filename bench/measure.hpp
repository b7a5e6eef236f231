#pragma once
// Shared by the benchmarks: the median of single round trips, robust to a noisy shared machine.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <vector>

template <class RoundTrip>
void measure_round_trips(benchmark::State& state, RoundTrip&& round_trip) {
    std::vector<double> samples;
    samples.reserve(1 << 20);
    int i = 0;
    for (auto _ : state) {
        const auto start = std::chrono::steady_clock::now();
        benchmark::DoNotOptimize(round_trip(i++));
        samples.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count());
    }
    if (samples.empty()) return;
    std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
    state.counters["median_ns"] = samples[samples.size() / 2];
}
