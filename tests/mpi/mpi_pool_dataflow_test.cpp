// Futures as arguments on mpi_pool: results go from reply to request inside the pool
// (remote/dataflow.hpp). Run by CTest under mpirun (rank 0 runs the tests, ranks 1-2 serve):
//   mpirun -n 3 mpi_pool_dataflow_test
// The cases are shared with process_pool (tests/remote/dataflow_cases.hpp).
#include <gtest/gtest.h>
#include <unistd.h>

#include "fronta/init.hpp"
#include "fronta/mpi_pool.hpp"
#include "remote/dataflow_cases.hpp"

using namespace dataflow_cases;

TEST(mpi_dataflow, chain_of_values) {
    watchdog w;
    fronta::mpi_pool pool;
    chain_of_values(pool, 500);
}

TEST(mpi_dataflow, stencil) {
    watchdog w;
    fronta::mpi_pool pool;
    stencil(pool, 6, 40);
}

TEST(mpi_dataflow, fan_out_and_in) {
    watchdog w;
    fronta::mpi_pool pool;
    fan_out_and_in(pool);
}

TEST(mpi_dataflow, move_only_values) {
    watchdog w;
    fronta::mpi_pool pool;
    move_only_values(pool);
}

TEST(mpi_dataflow, large_values) {
    watchdog w;
    fronta::mpi_pool pool;
    large_values(pool);
}

TEST(mpi_dataflow, shared_array_results) {
    watchdog w;
    fronta::mpi_pool pool;
    shared_array_results(pool);
}

TEST(mpi_dataflow, exceptions_propagate) {
    watchdog w;
    fronta::mpi_pool pool;
    exceptions_propagate(pool);
}

TEST(mpi_dataflow, long_chain_fails) {
    watchdog w;
    fronta::mpi_pool pool;
    long_chain_fails(pool, 50000);
}

TEST(mpi_dataflow, graphs_from_many_threads) {
    watchdog w;
    fronta::mpi_pool pool;
    graphs_from_many_threads(pool);
}

TEST(mpi_dataflow, cancellation_propagates) {
    watchdog w;
    fronta::mpi_pool pool;
    cancellation_propagates(pool);
}

TEST(mpi_dataflow, inputs_from_elsewhere) {
    watchdog w;
    fronta::mpi_pool pool;
    inputs_from_elsewhere(pool);
}

TEST(mpi_dataflow, forwarded_without_client_decode) {
    watchdog w;
    fronta::mpi_pool pool;
    forwarded_without_client_decode(pool);
}

TEST(mpi_dataflow, shutdown_cancels_waiting_tasks) {
    watchdog w;
    fronta::mpi_pool pool;
    shutdown_cancels_waiting_tasks(pool, false);  // a world rank's running task goes on
}

TEST(mpi_dataflow, shutdown_waits_for_waiting_tasks) {
    watchdog w;
    fronta::mpi_pool pool;
    shutdown_waits_for_waiting_tasks(pool);
}

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // worker ranks serve in here and exit
    client_pid = getpid();
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
