// Futures as arguments on process_pool: results go from reply to request inside the pool
// (remote/dataflow.hpp). The cases shared with mpi_pool are in tests/remote/dataflow_cases.hpp;
// here also what only a process pool can show: a producer's worker that dies.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "fronta/executor.hpp"
#include "fronta/init.hpp"
#include "fronta/process_pool.hpp"
#include "remote/dataflow_cases.hpp"

using namespace dataflow_cases;

namespace {

int die_now(int) {
    raise(SIGKILL);
    return 0;
}
FRONTA_REMOTE(die_now);

// Dies the first time (when `marker` does not exist yet), returns 42 the next.
int die_once(std::string marker) {
    const int fd = open(marker.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        raise(SIGKILL);
    }
    return 42;
}
FRONTA_REMOTE(die_once);

}  // namespace

TEST(process_pool_dataflow, chain_of_values) {
    watchdog w;
    fronta::process_pool pool(2);
    chain_of_values(pool, 500);
}

TEST(process_pool_dataflow, stencil) {
    watchdog w;
    fronta::process_pool pool(2);
    stencil(pool, 6, 40);
}

TEST(process_pool_dataflow, fan_out_and_in) {
    watchdog w;
    fronta::process_pool pool(2);
    fan_out_and_in(pool);
}

TEST(process_pool_dataflow, move_only_values) {
    watchdog w;
    fronta::process_pool pool(2);
    move_only_values(pool);
}

TEST(process_pool_dataflow, large_values_through_shared_memory) {
    watchdog w;
    fronta::process_pool pool(2);
    large_values(pool);
}

TEST(process_pool_dataflow, shared_array_results) {
    watchdog w;
    fronta::process_pool pool(2);
    shared_array_results(pool);
}

TEST(process_pool_dataflow, exceptions_propagate) {
    watchdog w;
    fronta::process_pool pool(2);
    exceptions_propagate(pool);
}

TEST(process_pool_dataflow, long_chain_fails) {
    watchdog w;
    fronta::process_pool pool(2);
    long_chain_fails(pool, 50000);
}

TEST(process_pool_dataflow, graphs_from_many_threads) {
    watchdog w;
    fronta::process_pool pool(2);
    graphs_from_many_threads(pool);
}

TEST(process_pool_dataflow, cancellation_propagates) {
    watchdog w;
    fronta::process_pool pool(2);
    cancellation_propagates(pool);
}

TEST(process_pool_dataflow, inputs_from_elsewhere) {
    watchdog w;
    fronta::process_pool pool(2);
    inputs_from_elsewhere(pool);
}

TEST(process_pool_dataflow, forwarded_without_client_decode) {
    watchdog w;
    fronta::process_pool pool(2);
    forwarded_without_client_decode(pool);
}

TEST(process_pool_dataflow, shutdown_cancels_waiting_tasks) {
    watchdog w;
    fronta::process_pool pool(2);
    shutdown_cancels_waiting_tasks(pool, true);
}

TEST(process_pool_dataflow, shutdown_waits_for_waiting_tasks) {
    watchdog w;
    fronta::process_pool pool(2);
    shutdown_waits_for_waiting_tasks(pool);
}

// The type-erased executor over a process pool takes the same path.
TEST(process_pool_dataflow, through_the_type_erased_executor) {
    watchdog w;
    fronta::executor ex = fronta::process_pool(2);
    chain_of_values(ex, 200);
    forwarded_without_client_decode(ex);
    exceptions_propagate(ex);
}

TEST(process_pool_dataflow, producer_worker_dies) {
    watchdog w;
    fronta::process_pool pool(2);
    auto dead = pool.submit(die_now, 1);
    auto consumer = pool.submit(add_one, dead);
    auto next = pool.submit(add_one, std::move(consumer));
    EXPECT_THROW(next.get(limit), fronta::worker_died);
    EXPECT_THROW(dead.get(limit), fronta::worker_died);
    // The pool goes on: a replacement worker runs the rest.
    EXPECT_EQ(pool.submit(add_one, pool.submit(add_one, 1)).get(limit), 3);
}

TEST(process_pool_dataflow, producer_retried_after_its_worker_died) {
    watchdog w;
    char name[] = "/tmp/fronta-die-once-XXXXXX";
    close(mkstemp(name));
    unlink(name);
    fronta::process_pool pool(2);
    auto producer = pool.submit_with({.retries = 1}, die_once, std::string(name));
    auto consumer = pool.submit(add_one, std::move(producer));
    EXPECT_EQ(consumer.get(limit), 43);
    unlink(name);
}

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // worker copies of this test binary stay in here
    client_pid = getpid();
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
