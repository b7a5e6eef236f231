// The executor contract (executor_contract.hpp) on mpi_pool, run two ways by CTest:
//   mpirun -n 3 mpi_contract_test --gtest_filter='mpi_world/*'   (rank 0 runs the tests, ranks 1-2 serve)
//   mpi_contract_test --gtest_filter='mpi_spawn/*'               (started alone; workers spawned)
#include "contract/executor_contract.hpp"

#include "fronta/init.hpp"
#include "fronta/mpi_pool.hpp"

namespace {

struct mpi_world_maker {
    static constexpr bool runs_at_submit = false;
    static fronta::mpi_pool make() {
        return fronta::mpi_pool(fronta::mpi_pool_options{.launch = fronta::mpi_launch::world});
    }
};
struct mpi_spawn_maker {
    static constexpr bool runs_at_submit = false;
    static fronta::mpi_pool make() {
        return fronta::mpi_pool(fronta::mpi_pool_options{.workers = 2, .launch = fronta::mpi_launch::spawn});
    }
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(mpi_world, executor_contract, mpi_world_maker);
INSTANTIATE_TYPED_TEST_SUITE_P(mpi_spawn, executor_contract, mpi_spawn_maker);

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // worker ranks serve in here and exit
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
