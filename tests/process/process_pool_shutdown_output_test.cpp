// process_pool shutdown, seen from outside: a shutdown or destructor lets workers flush their
// output and run their exit handlers, returns after a grace when a handler hangs, and workers
// retired while the pool runs leave no zombie. Clients run as child processes (child_client.hpp).
#include "child_client.hpp"
#include "worker_channel.hpp"

namespace {

// ---- tasks ---------------------------------------------------------------------------------------

// Output a normal exit must not lose: unflushed stdout, an atexit handler, a static destructor.
struct says_goodbye {
    ~says_goodbye() { std::printf("static %d\n", static_cast<int>(getpid())); }
};
void atexit_handler() { std::printf("atexit %d\n", static_cast<int>(getpid())); }
int unflushed_output(int i) {
    static bool registered = [] {
        static says_goodbye goodbye;
        std::atexit(atexit_handler);
        return true;
    }();
    (void)registered;
    std::printf("task %d\n", i);  // stdout is a pipe: fully buffered, flushed only at exit
    return static_cast<int>(getpid());
}
FRONTA_REMOTE(unflushed_output);

// Registers an exit handler that never returns (a worker stuck in its own exit), once per worker.
int hangs_at_exit() {
    static const bool registered = (std::atexit(hang_forever), true);
    (void)registered;
    return static_cast<int>(getpid());
}
FRONTA_REMOTE(hangs_at_exit);

// ---- 4. a normal shutdown lets workers exit normally ---------------------------------------------

int scenario_graceful(const std::string& how) {
    {
        fronta::process_pool pool(2);
        std::vector<fronta::future<int>> futures;
        for (int i = 0; i < 40; ++i) futures.push_back(pool.submit(unflushed_output, i));
        std::set<int> pids;
        for (auto& f : futures) pids.insert(f.get());
        for (int pid : pids) std::printf("worker %d\n", pid);
        std::fflush(stdout);
        if (how == "shutdown") pool.shutdown(true);
        // else: the destructor
    }
    std::printf("client done\n");
    return 0;
}

void shutdown_keeps_worker_output(const std::string& how) {
    for (int round = 0; round < 8; ++round) {
        auto client = start_scenario("graceful:" + how);
        end_client_on_exit end_client{client};
        close(client.to_stdin);
        client.to_stdin = -1;
        // EOF comes once the client and every worker have closed stdout: they all exited.
        EXPECT_TRUE(read_to_end(client, 60s)) << client.output;
        EXPECT_EQ(wait_for_child(client, 60s), 0);
        const std::string& out = client.output;
        ASSERT_NE(out.find("client done"), std::string::npos) << out;
        for (int i = 0; i < 40; ++i)
            EXPECT_NE(out.find("task " + std::to_string(i) + "\n"), std::string::npos)
                << "round " << round << ": the output of task " << i << " was lost\n"
                << out;
        std::istringstream lines(out);
        for (std::string line; std::getline(lines, line);) {
            if (line.rfind("worker ", 0) != 0) continue;
            const std::string pid = line.substr(7);
            EXPECT_NE(out.find("atexit " + pid + "\n"), std::string::npos)
                << "round " << round << ": worker " << pid << " skipped its atexit handlers\n"
                << out;
            EXPECT_NE(out.find("static " + pid + "\n"), std::string::npos)
                << "round " << round << ": worker " << pid << " skipped its static destructors\n"
                << out;
        }
        close_child(client);
        if (testing::Test::HasFailure()) return;
    }
}

TEST(process_pool_shutdown, shutdown_wait_lets_workers_flush_output_and_run_exit_handlers) {
    shutdown_keeps_worker_output("shutdown");
}
TEST(process_pool_shutdown, destructor_lets_idle_workers_flush_output_and_run_exit_handlers) {
    shutdown_keeps_worker_output("destructor");
}

// The grace is bounded: a worker whose atexit handler never returns is killed once it is over, so
// shutdown (and the destructor) return after about 5 s, and no worker is left behind.
int scenario_exit_hangs(const std::string& how) {
    std::set<int> pids;
    steady::time_point asked;
    {
        fronta::process_pool pool(2);
        std::vector<fronta::future<int>> futures;
        for (int i = 0; i < 8; ++i) futures.push_back(pool.submit(hangs_at_exit));
        for (auto& f : futures) pids.insert(f.get());
        asked = steady::now();
        if (how == "shutdown") pool.shutdown(true);
        // else: the destructor
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - asked).count();
    std::printf("returned after %lld ms\n", static_cast<long long>(ms));
    int status = 0;
    if (waitpid(-1, &status, WNOHANG) != -1 || errno != ECHILD) {
        std::printf("a worker was left behind (a zombie or still running)\n");
        return 13;
    }
    std::printf("ok\n");
    return 0;
}

void exit_grace_is_bounded(const std::string& how) {
    auto client = start_scenario("exit_hangs:" + how);
    end_client_on_exit end_client{client};
    close(client.to_stdin);
    client.to_stdin = -1;
    // EOF once the client and every worker closed stdout: a worker stuck in its exit holds it.
    EXPECT_TRUE(read_to_end(client, 60s)) << client.output;
    EXPECT_EQ(exit_code(wait_for_child(client, 60s)), 0) << client.output;
    close_child(client);
    const auto at = client.output.find("returned after ");
    ASSERT_NE(at, std::string::npos) << client.output;
    const long long ms = std::stoll(client.output.substr(at + 15));
    std::printf("[ measured ] %s with workers stuck in atexit returned after %lld ms\n", how.c_str(), ms);
    EXPECT_GE(ms, 4'900) << "the workers were not given their grace";
    EXPECT_LT(ms, 20'000) << "the grace did not end (5 s, with room for a loaded host)";
}

TEST(process_pool_shutdown, shutdown_returns_after_the_grace_when_an_atexit_handler_hangs) {
    exit_grace_is_bounded("shutdown");
}
TEST(process_pool_shutdown, destructor_returns_after_the_grace_when_an_atexit_handler_hangs) {
    exit_grace_is_bounded("destructor");
}

// Those of `pids` that are still our children, with their states ('Z': a zombie), from /proc.
std::map<int, char> still_children(const std::set<int>& pids) {
    std::map<int, char> children;
    const std::string me = std::to_string(getpid());
    for (int pid : pids) {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string id, comm, state, ppid;
        if (stat >> id >> comm >> state >> ppid && ppid == me) children[pid] = state[0];
    }
    return children;
}

// Workers retired while the pool runs (max_tasks_per_child, idle_timeout) exit on their own and
// are reaped through their pidfds at once, not left as zombies until shutdown.
TEST(process_pool_shutdown, workers_retired_while_the_pool_runs_leave_no_zombie) {
    fronta::process_pool_options options;
    options.workers = 2;
    options.max_tasks_per_child = 1;
    options.idle_timeout = 50ms;
    fronta::process_pool pool(options);
    std::set<int> ran, seen;
    for (int i = 0; i < 30; ++i) {
        for (int pid : pool.worker_pids()) seen.insert(pid);
        ran.insert(pool.submit(worker_pid).get(30s));
    }
    EXPECT_EQ(ran.size(), 30u) << "one task per worker";
    seen.insert(ran.begin(), ran.end());
    // Every worker retires (one task each, then idle): none of them is left, not even a zombie.
    const auto give_up = steady::now() + 30s;
    auto left = still_children(seen);
    while (!left.empty() && steady::now() < give_up) {
        std::this_thread::sleep_for(5ms);  // polling an observable condition, not ordering events
        left = still_children(seen);
    }
    for (auto [pid, state] : left) ADD_FAILURE() << "worker " << pid << " in state " << state << " was left behind";
}

const scenario_registration graceful_scenario{"graceful", scenario_graceful};
const scenario_registration exit_hangs_scenario{"exit_hangs", scenario_exit_hangs};

}  // namespace

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // worker copies of this test binary stay in here
    if (const auto name = scenario_asked(argc, argv)) return run_scenario(*name);
    return run_tests(argc, argv);
}
