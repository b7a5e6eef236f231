// What mpi_pool gained from the shared remote engine: a free worker takes the next task, task
// timeouts, retries and submit_with. Run under mpirun -n 3 (mpi_world.*) and started alone
// (mpi_spawn.*, workers spawned).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "fronta/mpi_pool.hpp"
#include "remote_functions.hpp"

namespace {

using namespace std::chrono_literals;

int pid_of_worker() { return static_cast<int>(getpid()); }
FRONTA_REMOTE(pid_of_worker);

// Dies the first time (leaving `marker` behind), succeeds the second.
int die_once(std::string marker) {
    const int fd = open(marker.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
    if (fd >= 0) {
        close(fd);
        std::abort();
    }
    return 7;
}
FRONTA_REMOTE(die_once);

// Opens the gate's FIFO for writing: this returns once the task waiting at the gate has opened
// its end, so the task is running. Writing a byte then lets it go.
class held_task {
public:
    explicit held_task(const gate& g) : fd_(open(g.path().c_str(), O_WRONLY)) {}
    ~held_task() { release(); }
    void release() {
        if (fd_ < 0) return;
        [[maybe_unused]] auto n = write(fd_, "x", 1);
        close(fd_);
        fd_ = -1;
    }

private:
    int fd_;
};

fronta::mpi_launch launch_of_suite() {
    const std::string suite = testing::UnitTest::GetInstance()->current_test_info()->test_suite_name();
    return suite == "mpi_world" ? fronta::mpi_launch::world : fronta::mpi_launch::spawn;
}

// mpi_pool used to give a task to the first worker whose send-ahead queue had room: a quick task
// went behind a long one on a busy worker while the other worker sat idle.
void check_quick_task_does_not_wait_behind_a_long_one() {
    fronta::mpi_pool pool(fronta::mpi_pool_options{.workers = 2, .launch = launch_of_suite()});
    gate g;
    auto long_task = pool.submit(wait_at_gate, g.path());
    held_task running(g);
    auto quick = pool.submit(pid_of_worker);
    EXPECT_TRUE(quick.wait_for(30s)) << "a quick task waited behind a held one while a worker was free";
    running.release();
    EXPECT_EQ(long_task.get(), 1);
}

// The pool's task_timeout stops a task; the pool serves on.
void check_task_timeout() {
    fronta::mpi_pool pool(fronta::mpi_pool_options{.workers = 2, .launch = launch_of_suite(), .task_timeout = 300ms});
    gate g;
    auto stuck = pool.submit(wait_at_gate, g.path());
    try {
        stuck.get();
        ADD_FAILURE() << "a held task did not time out";
    } catch (const fronta::timeout_error& e) {
        EXPECT_NE(std::string(e.what()).find("wait_at_gate ran past its timeout of 300 ms"), std::string::npos)
            << e.what();
    }
    g.open();  // a world rank still holds it: let it answer (its result is dropped)
    std::vector<fronta::future<double>> after;
    for (int i = 0; i < 40; ++i) after.push_back(pool.submit(square, double(i)));
    for (int i = 0; i < 40; ++i) EXPECT_EQ(after[i].get(), double(i) * i) << "task " << i << " after the timeout";
    // Both workers serve again: a world rank once its late reply came, a spawned group replaced.
    std::set<int> pids;
    std::vector<fronta::future<int>> spread;
    for (int i = 0; i < 16; ++i) spread.push_back(pool.submit(busy_pid, 3000));
    for (auto& f : spread) pids.insert(f.get());
    EXPECT_EQ(pids.size(), 2u);
}

// submit_with's timeout is per task, and a task without one is not limited.
void check_submit_with_timeout() {
    fronta::mpi_pool pool(fronta::mpi_pool_options{.workers = 2, .launch = launch_of_suite()});
    gate g;
    auto limited = pool.submit_with({.timeout = 200ms}, wait_at_gate, g.path());
    EXPECT_THROW(limited.get(), fronta::timeout_error);
    g.open();
    auto unlimited = pool.submit(busy_pid, 400'000);
    EXPECT_GT(unlimited.get(), 0) << "a task without a timeout ran to its end";
}

// ---- mpirun -n 3: rank 0 runs the tests, ranks 1 and 2 serve --------------------------------

TEST(mpi_world, a_quick_task_does_not_wait_behind_a_long_one_while_a_worker_is_free) {
    check_quick_task_does_not_wait_behind_a_long_one();
}
TEST(mpi_world, a_task_past_its_timeout_fails_and_the_rank_serves_again_after_its_late_reply) { check_task_timeout(); }
TEST(mpi_world, submit_with_limits_one_task) { check_submit_with_timeout(); }

// ---- started alone: workers spawned ------------------------------------------------------------

TEST(mpi_spawn, a_quick_task_does_not_wait_behind_a_long_one_while_a_worker_is_free) {
    check_quick_task_does_not_wait_behind_a_long_one();
}
TEST(mpi_spawn, a_task_past_its_timeout_fails_and_the_group_is_replaced) { check_task_timeout(); }
TEST(mpi_spawn, submit_with_limits_one_task) { check_submit_with_timeout(); }

TEST(mpi_spawn, a_task_whose_worker_died_runs_again_with_retries) {
    const std::string marker = "/tmp/fronta-die-once-" + std::to_string(getpid());
    unlink(marker.c_str());
    fronta::mpi_pool pool(fronta::mpi_pool_options{.workers = 2, .launch = fronta::mpi_launch::spawn, .retries = 1});
    EXPECT_EQ(pool.submit(die_once, marker).get(), 7);
    unlink(marker.c_str());
    // Without retries the death is the task's result.
    EXPECT_THROW(pool.submit_with({.retries = 0}, die_once, marker).get(), fronta::worker_died);
    unlink(marker.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // worker ranks serve in here and exit
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
