// process_pool faults: worker deaths of every kind fail only their task and the pool heals;
// corrupt replies, retries, task timeouts, memory limits, random kills during a long run.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fronta/init.hpp"
#include "fronta/process_pool.hpp"
#include "process_helpers.hpp"
#include "remote_functions.hpp"

using namespace std::chrono_literals;

namespace {

// Crashes unless `marker` exists; creates it first, so the second attempt succeeds.
int crash_once(std::string marker) {
    if (std::ifstream(marker).good()) return 42;
    std::ofstream(marker) << "seen";
    raise(SIGKILL);
    return 0;
}
FRONTA_REMOTE(crash_once);

std::size_t text_length(std::string text) { return text.size(); }
FRONTA_REMOTE(text_length);

}  // namespace

TEST(process_pool_faults, each_kind_of_death_fails_only_its_task_and_the_pool_heals) {
    fronta::process_pool pool(2);
    const std::map<std::string, std::string> expected{{"segfault", "signal 11"},
                                                      {"abort", "signal 6"},
                                                      {"exit", "exited with code 7"},
                                                      {"sigkill", "signal 9"}};
    for (const auto& [how, words] : expected) {
        auto healthy = pool.submit(square, 3.0);
        try {
            pool.submit(misbehave, how).get();
            FAIL() << how;
        } catch (const fronta::worker_died& e) {
            if (!sanitized) {
                EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
            }
            EXPECT_NE(std::string(e.what()).find("misbehave"), std::string::npos) << e.what();
        }
        EXPECT_DOUBLE_EQ(healthy.get(), 9.0) << "a task on the other worker is unaffected";
        EXPECT_EQ(pool.submit(misbehave, std::string("fine")).get(), 1) << "the pool still serves after " << how;
    }
    EXPECT_TRUE(eventually([&] { return pool.worker_pids().size() == 2; })) << "dead workers were replaced";
}

TEST(process_pool_faults, corrupt_reply_fails_the_task_not_the_client) {
    fronta::process_pool pool(1);
    try {
        pool.submit(misbehave, std::string("garbage")).get();
        FAIL();
    } catch (const fronta::worker_died& e) {
        EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos) << e.what();
    }
    EXPECT_DOUBLE_EQ(pool.submit(square, 4.0).get(), 16.0);
}

TEST(process_pool_faults, retry_runs_again_on_another_worker) {
    const std::string marker = testing::TempDir() + "/fronta_crash_once_" + std::to_string(getpid());
    std::remove(marker.c_str());
    fronta::process_pool pool(2);
    EXPECT_EQ(pool.submit_with({.retries = 1}, crash_once, marker).get(), 42);
    std::remove(marker.c_str());
    EXPECT_THROW(pool.submit_with({.retries = 0}, crash_once, marker).get(), fronta::worker_died);
    std::remove(marker.c_str());
}

TEST(process_pool_faults, timeout_kills_a_stuck_worker) {
    fronta::process_pool_options options;
    options.workers = 1;
    options.task_timeout = 200ms;
    fronta::process_pool pool(options);
    try {
        pool.submit(misbehave, std::string("spin")).get();
        FAIL();
    } catch (const fronta::timeout_error& e) {
        EXPECT_NE(std::string(e.what()).find("misbehave"), std::string::npos) << e.what();
    }
    EXPECT_DOUBLE_EQ(pool.submit(square, 5.0).get(), 25.0);
    EXPECT_THROW(pool.submit_with({.timeout = 50ms}, misbehave, std::string("spin")).get(), fronta::timeout_error);
}

TEST(process_pool_faults, a_stuck_worker_with_a_full_socket_does_not_stall_the_pool) {
    fronta::process_pool_options options;
    options.workers = 1;
    options.task_timeout = 500ms;
    fronta::process_pool pool(options);
    for (int i = 0; i < 200; ++i) pool.submit(square, 1.0).get();  // short tasks: it sends ahead
    auto stuck = pool.submit(misbehave, std::string("spin"));
    std::vector<fronta::future<std::size_t>> behind;
    const std::string half_megabyte(500'000, 'x');  // under the shared-memory threshold: socket
    for (int i = 0; i < 31; ++i) behind.push_back(pool.submit(text_length, half_megabyte));
    EXPECT_THROW(stuck.get(), fronta::timeout_error) << "the timeout fired although the socket was full";
    for (auto& f : behind) EXPECT_EQ(f.get(), half_megabyte.size());
}

TEST(process_pool_faults, memory_limit_turns_into_bad_alloc) {
    if (sanitized) GTEST_SKIP() << "sanitizers reserve more address space than any RLIMIT_AS allows";
    fronta::process_pool_options options;
    options.workers = 1;
    options.memory_limit = std::size_t{2} << 30;
    fronta::process_pool pool(options);
    EXPECT_THROW(pool.submit(misbehave, std::string("allocate")).get(), std::bad_alloc);
    EXPECT_EQ(pool.submit(misbehave, std::string("fine")).get(), 1);
}

TEST(process_pool_faults, random_kills_during_a_long_run) {
    const long tasks = std::getenv("FRONTA_FAULT_TASKS") ? std::atol(std::getenv("FRONTA_FAULT_TASKS")) : 100'000;
    for (const int retries : {0, 3}) {
        fronta::process_pool_options options;
        options.workers = 2;
        options.retries = retries;
        fronta::process_pool pool(options);
        std::atomic<bool> done{false};
        std::atomic<int> kills{0};
        std::thread killer([&] {
            std::mt19937 random(12345 + retries);
            while (!done.load() && kills.load() < 20) {
                auto pids = pool.worker_pids();
                if (!pids.empty()) {
                    kill(pids[random() % pids.size()], SIGKILL);
                    ++kills;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(20 + random() % 80));
            }
        });
        std::vector<fronta::future<double>> futures;
        futures.reserve(tasks);
        for (long i = 0; i < tasks; ++i) futures.push_back(pool.submit(square, double(i % 1000)));
        long correct = 0, died = 0, wrong = 0;
        for (long i = 0; i < tasks; ++i) {
            try {
                if (futures[i].get() == double(i % 1000) * (i % 1000))
                    ++correct;
                else
                    ++wrong;
            } catch (const fronta::worker_died&) {
                ++died;
            }
        }
        done = true;
        killer.join();
        std::printf("retries=%d: %ld correct, %ld failed with worker_died, %d workers killed\n", retries, correct, died,
                    kills.load());
        EXPECT_EQ(wrong, 0);
        EXPECT_EQ(correct + died, tasks);
        EXPECT_GT(kills.load(), 0);
        if (retries > 0) {
            EXPECT_EQ(died, 0) << "with retries every task succeeds";
        }
    }
}

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // worker copies of this test binary stay in here
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
