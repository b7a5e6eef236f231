// process_pool shipping: tasks run in other processes; what cannot be shipped is an error that
// says what to do; exceptions of other types come back as remote_error; the type-erased executor
// finds out at run time. (What every executor ships alike is in tests/contract/.)
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fronta/executor.hpp"
#include "fronta/init.hpp"
#include "fronta/map_reduce.hpp"
#include "fronta/process_pool.hpp"
#include "process_helpers.hpp"
#include "remote_functions.hpp"

using namespace std::chrono_literals;

TEST(process_pool_ship, runs_in_other_processes) {
    fronta::process_pool pool(2);
    const int here = getpid();
    const int there = pool.submit(worker_pid).get();
    EXPECT_NE(there, here);
    const auto pids = pool.worker_pids();
    EXPECT_NE(std::find(pids.begin(), pids.end(), there), pids.end());
}

TEST(process_pool_ship, unregistered_function_error_names_the_function) {
    fronta::process_pool pool(1);
    try {
        pool.submit(not_registered, 1);
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("not_registered` ("), std::string::npos) << message;
        EXPECT_NE(message.find("FRONTA_REMOTE(not_registered)"), std::string::npos) << message;
        EXPECT_NE(message.find("int (*)(int)"), std::string::npos) << message;
    }
    EXPECT_DOUBLE_EQ(pool.submit(square, 2.0).get(), 4.0);
}

TEST(process_pool_map_reduce, chunks_are_reduced_in_the_workers_and_one_value_per_chunk_comes_back) {
    fronta::process_pool pool(2);
    std::vector<int> inputs(100);
    const auto sites = fronta::map_reduce(pool, no_sites, inputs, join_sites, std::vector<int>{}, {.chunk_size = 10});
    const int here = getpid();
    const auto in_client = std::count(sites.begin(), sites.end(), here);
    EXPECT_EQ(in_client, 10) << "the client combines the 10 chunk values with init, once each";
    EXPECT_EQ(sites.size() - in_client, 90u) << "9 reductions inside each of the 10 chunks, in the workers";
    const auto pids = pool.worker_pids();
    for (int pid : sites) {
        if (pid == here) continue;
        EXPECT_NE(std::find(pids.begin(), pids.end(), pid), pids.end()) << pid;
    }
}

TEST(process_pool_map_reduce, what_cannot_be_shipped_is_named_at_the_call) {
    fronta::process_pool pool(1);
    try {
        fronta::map_reduce(pool, not_registered, std::vector<int>{1, 2}, std::plus<int>(), 0);
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("FRONTA_REMOTE(not_registered)"), std::string::npos) << e.what();
    }
    fronta::executor erased(pool);
    const int offset = 3;
    EXPECT_THROW(fronta::map_reduce(
                     erased, [offset](int x) { return x + offset; }, std::vector<int>{1}, std::plus<int>(), 0),
                 std::invalid_argument)
        << "a lambda with captures";
    EXPECT_THROW(fronta::map_reduce(
                     erased, square, std::vector<double>{1}, [offset](double a, double b) { return a + b + offset; },
                     0.0),
                 std::invalid_argument)
        << "a reduction with captures";
    EXPECT_EQ(fronta::map_reduce(pool, throw_kind, std::vector<int>{4, 5}, std::plus<int>(), 0), 9);
}

TEST(process_pool_exceptions, other_types_become_remote_error_with_name_and_message) {
    fronta::process_pool pool(1);
    try {
        pool.submit(throw_kind, 3).get();
        FAIL();
    } catch (const fronta::remote_error& e) {
        EXPECT_NE(e.type_name().find("unregistered_error"), std::string::npos) << e.type_name();
        EXPECT_EQ(e.message(), "mine");
    }
}

TEST(process_pool_erased, fits_the_type_erased_executor) {
    fronta::executor ex = fronta::process_pool(1);
    EXPECT_DOUBLE_EQ(ex.submit(square, 6.0).get(), 36.0);
    int captured = 3;
    EXPECT_THROW(ex.submit([captured](int x) { return x + captured; }, 1), std::invalid_argument)
        << "the erased executor finds out at run time";
    double total = 0;
    for (double y : ex.map(square, std::vector<double>{1, 2, 3})) total += y;
    EXPECT_DOUBLE_EQ(total, 14.0);
}

TEST(process_pool_erased, raw_pointer_argument_is_an_error_at_submit_saying_what_to_pass) {
    fronta::executor ex = fronta::process_pool(1);
    const int x = 5;
    try {
        ex.submit([](const int* p) { return *p; }, &x);
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("raw pointer"), std::string::npos) << message;
        EXPECT_NE(message.find("shared_array"), std::string::npos) << message;
    }
    const std::vector<const int*> pointers{&x};
    EXPECT_THROW(for (int y : ex.map([](const int* p) { return *p; }, pointers))(void) y, std::invalid_argument);
    EXPECT_DOUBLE_EQ(ex.submit(square, 3.0).get(), 9.0) << "the pool still works";
}

TEST(process_pool_erased, last_handle_stops_a_stuck_worker_like_the_destructor) {
    fronta::future<int> stuck;
    {
        fronta::executor ex = fronta::process_pool(1);
        stuck = ex.submit(misbehave, std::string("spin"));
        EXPECT_TRUE(eventually([&] { return stuck.running(); }));
    }
    EXPECT_THROW(stuck.get(), fronta::cancelled_error);
}

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // worker copies of this test binary stay in here
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
