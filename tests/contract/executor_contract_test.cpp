// The executor contract (executor_contract.hpp) on every executor of one process: inline,
// thread_pool, process_pool, and the type-erased executor over each of them. Process workers are
// copies of this binary, hence its own main with fronta::init.
#include "contract/executor_contract.hpp"

#include "fronta/executor.hpp"
#include "fronta/init.hpp"
#include "fronta/inline_executor.hpp"
#include "fronta/process_pool.hpp"
#include "fronta/thread_pool.hpp"

namespace {

struct inline_maker {
    static constexpr bool runs_at_submit = true;
    static fronta::inline_executor make() { return fronta::inline_executor(); }
};
struct thread_pool_maker {
    static constexpr bool runs_at_submit = false;
    static fronta::thread_pool make() { return fronta::thread_pool(2); }
};
struct process_pool_maker {
    static constexpr bool runs_at_submit = false;
    static fronta::process_pool make() { return fronta::process_pool(2); }
};
struct executor_over_inline_maker {
    static constexpr bool runs_at_submit = true;
    static fronta::executor make() { return fronta::inline_executor(); }
};
struct executor_over_thread_pool_maker {
    static constexpr bool runs_at_submit = false;
    static fronta::executor make() { return fronta::thread_pool(2); }
};
struct executor_over_process_pool_maker {
    static constexpr bool runs_at_submit = false;
    static fronta::executor make() { return fronta::process_pool(2); }
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(inline_executor, executor_contract, inline_maker);
INSTANTIATE_TYPED_TEST_SUITE_P(thread_pool, executor_contract, thread_pool_maker);
INSTANTIATE_TYPED_TEST_SUITE_P(process_pool, executor_contract, process_pool_maker);
INSTANTIATE_TYPED_TEST_SUITE_P(executor_over_inline, executor_contract, executor_over_inline_maker);
INSTANTIATE_TYPED_TEST_SUITE_P(executor_over_thread_pool, executor_contract, executor_over_thread_pool_maker);
INSTANTIATE_TYPED_TEST_SUITE_P(executor_over_process_pool, executor_contract, executor_over_process_pool_maker);

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // worker copies of this test binary stay in here
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
