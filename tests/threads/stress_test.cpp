// 1,000,000 tasks submitted from several threads at once; every result checked.
// FRONTA_STRESS_TASKS lowers the count for sanitizer builds, which run 5-20x slower.
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>
#include <vector>

#include "fronta/as_completed.hpp"
#include "fronta/thread_pool.hpp"

namespace {
long task_count() {
    const char* env = std::getenv("FRONTA_STRESS_TASKS");
    return env ? std::atol(env) : 1'000'000;
}
}  // namespace

TEST(stress, a_million_tasks_from_four_submitters) {
    const long total = task_count();
    constexpr int submitters = 4;
    fronta::thread_pool pool(2);
    std::vector<std::vector<fronta::future<long>>> per_thread(submitters);
    std::vector<std::thread> threads;
    for (int s = 0; s < submitters; ++s)
        threads.emplace_back([&, s] {
            auto& mine = per_thread[s];
            mine.reserve(total / submitters + 1);
            for (long i = s; i < total; i += submitters) mine.push_back(pool.submit([i] { return i * 3 + 1; }));
        });
    for (auto& t : threads) t.join();
    long checked = 0;
    for (int s = 0; s < submitters; ++s) {
        long i = s;
        for (auto& f : per_thread[s]) {
            ASSERT_EQ(f.get(), i * 3 + 1);
            i += submitters;
            ++checked;
        }
    }
    EXPECT_EQ(checked, total);
}

TEST(stress, as_completed_over_pool_futures_while_submitting) {
    const long total = task_count() / 4;
    fronta::thread_pool pool(2);
    std::vector<fronta::future<long>> futures;
    futures.reserve(total);
    for (long i = 0; i < total; ++i) futures.push_back(pool.submit([i] { return i; }));
    long sum = 0;
    for (const auto& f : fronta::as_completed(futures)) sum += f.get();
    EXPECT_EQ(sum, total * (total - 1) / 2);
}
