// process_pool lifecycle: recycling (max_tasks_per_child), idle workers, shutdown and the
// destructor with a stuck worker, no zombies or leaked descriptors, the build check, the initializer.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fronta/init.hpp"
#include "fronta/process_pool.hpp"
#include "process_helpers.hpp"
#include "remote_functions.hpp"

using namespace std::chrono_literals;

TEST(process_pool_lifecycle, max_tasks_per_child_recycles_workers) {
    fronta::process_pool_options options;
    options.workers = 1;
    options.max_tasks_per_child = 2;
    fronta::process_pool pool(options);
    std::set<int> seen;
    for (int i = 0; i < 6; ++i) seen.insert(pool.submit(worker_pid).get());
    EXPECT_EQ(seen.size(), 3u);
}

TEST(process_pool_lifecycle, idle_workers_exit_and_come_back) {
    fronta::process_pool_options options;
    options.workers = 2;
    options.idle_timeout = 100ms;
    fronta::process_pool pool(options);
    EXPECT_DOUBLE_EQ(pool.submit(square, 2.0).get(), 4.0);
    EXPECT_TRUE(eventually([&] { return pool.worker_pids().empty(); })) << "idle workers exited";
    EXPECT_DOUBLE_EQ(pool.submit(square, 3.0).get(), 9.0) << "a submit brings one back";
}

TEST(process_pool_lifecycle, shutdown_cancel_futures_returns_with_a_stuck_worker) {
    fronta::process_pool pool(1);
    auto stuck = pool.submit(misbehave, std::string("spin"));
    auto queued = pool.submit(square, 1.0);
    EXPECT_TRUE(eventually([&] { return stuck.running(); }));
    pool.shutdown(true, true);
    EXPECT_THROW(stuck.get(), fronta::cancelled_error);
    EXPECT_TRUE(queued.cancelled());
    EXPECT_THROW(pool.submit(square, 1.0), fronta::shutdown_error);
}

TEST(process_pool_lifecycle, destructor_returns_with_a_stuck_worker) {
    fronta::future<int> stuck;
    {
        fronta::process_pool pool(1);
        stuck = pool.submit(misbehave, std::string("spin"));
        EXPECT_TRUE(eventually([&] { return stuck.running(); }));
    }
    EXPECT_THROW(stuck.get(), fronta::cancelled_error);
}

TEST(process_pool_lifecycle, no_zombies_and_no_leaked_descriptors) {
    const auto fds_before = open_fds();
    {
        fronta::process_pool pool(2);
        for (int i = 0; i < 10; ++i) pool.submit(square, double(i)).get();
        EXPECT_THROW(pool.submit(misbehave, std::string("segfault")).get(), fronta::worker_died);
        EXPECT_TRUE(eventually([] { return child_pids().size() == 2; })) << "the dead worker was replaced";
    }
    EXPECT_TRUE(child_pids().empty()) << "every worker was reaped";
    EXPECT_EQ(open_fds(), fds_before) << "every socket and eventfd was closed";
}

TEST(process_pool_lifecycle, a_worker_from_another_build_is_refused) {
    (void)fronta::detail::build_id();  // this process keeps its own id
    setenv("FRONTA_TEST_FORCE_BUILD_ID", "some-other-build", 1);
    fronta::process_pool pool(1);
    unsetenv("FRONTA_TEST_FORCE_BUILD_ID");
    try {
        pool.submit(square, 1.0).get();
        FAIL() << "expected broken_executor";
    } catch (const fronta::broken_executor& e) {
        EXPECT_NE(std::string(e.what()).find("different build"), std::string::npos) << e.what();
    }
}

// ---- the initializer ------------------------------------------------------------------------------

TEST(process_pool_initializer, runs_once_in_each_worker_and_in_replacements) {
    // Every second task a worker is replaced: six tasks run in three workers, each initialized once.
    fronta::process_pool_options options;
    options.workers = 1;
    options.max_tasks_per_child = 2;
    options.initializer = fronta::remote_call(count_initializer_run, 1);
    fronta::process_pool pool(options);
    std::set<int> pids;
    for (int i = 0; i < 6; ++i) {
        const auto [pid, runs] = pool.submit(pid_and_initializer_runs, 0).get();
        EXPECT_EQ(runs, 1) << "task " << i << " in worker " << pid;
        pids.insert(pid);
    }
    EXPECT_EQ(pids.size(), 3u);
    // Several workers at once, and one that dies is replaced by an initialized one.
    fronta::process_pool many({.workers = 3, .initializer = fronta::remote_call(count_initializer_run, 1)});
    EXPECT_THROW(many.submit(misbehave, std::string("exit")).get(), fronta::worker_died);
    std::vector<fronta::future<std::pair<int, int>>> futures;
    for (int i = 0; i < 30; ++i) futures.push_back(many.submit(pid_and_initializer_runs, 2000));
    for (auto& f : futures) EXPECT_EQ(f.get().second, 1);
}

TEST(process_pool_initializer, one_that_throws_breaks_the_pool_with_its_message) {
    fronta::process_pool pool(
        {.workers = 2, .initializer = fronta::remote_call(failing_initializer, std::string("no model.bin"))});
    auto pending = pool.submit(square, 2.0);
    try {
        pending.get();
        FAIL() << "a task ran in a worker whose initializer failed";
    } catch (const fronta::broken_executor& e) {
        EXPECT_NE(std::string(e.what()).find("no model.bin"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("failing_initializer"), std::string::npos) << e.what();
    }
    EXPECT_THROW(pool.submit(square, 3.0), fronta::broken_executor) << "later submits fail too";
}

TEST(process_pool_initializer, one_that_kills_its_worker_breaks_the_pool) {
    for (int code : {0, 5}) {
        fronta::process_pool pool({.workers = 2, .initializer = fronta::remote_call(crashing_initializer, code)});
        try {
            pool.submit(square, 2.0).get();
            FAIL() << "a task ran in a worker whose initializer crashed";
        } catch (const fronta::broken_executor& e) {
            EXPECT_NE(std::string(e.what()).find("initializer crashing_initializer killed worker"), std::string::npos)
                << e.what();
        }
        EXPECT_THROW(pool.submit(square, 3.0), fronta::broken_executor);
    }
}

TEST(process_pool_initializer, an_unregistered_function_is_an_error_where_it_is_bound) {
    EXPECT_THROW(fronta::remote_call(not_registered, 1), std::invalid_argument);
}

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // worker copies of this test binary stay in here
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
