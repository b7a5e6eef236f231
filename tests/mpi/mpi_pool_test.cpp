// mpi_pool: what the executor contract (mpi_contract_test) does not cover: world and spawned
// launches, large messages, many threads, load balancing, deaths, the initializer. Run by CTest:
//   mpirun -n 3 mpi_pool_test --gtest_filter='mpi_world*'   (rank 0 runs the tests, ranks 1-2 serve)
//   mpi_pool_test --gtest_filter='mpi_spawn.*'              (started alone; workers come from MPI_Comm_spawn)
//   mpi_pool_test --gtest_filter='mpi_spawn_fresh.*'        (the same, in a process where MPI has not started)
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <ranges>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fronta/as_completed.hpp"
#include "fronta/executor.hpp"
#include "fronta/init.hpp"
#include "fronta/map_reduce.hpp"
#include "fronta/mpi_pool.hpp"
#include "fronta/promise.hpp"
#include "fronta/shared_array.hpp"
#include "fronta/tracing.hpp"
#include "fronta/wait.hpp"
#include "observe/trace_checker.hpp"
#include "remote_functions.hpp"

namespace {

int my_rank() { return fronta::mpi_pool::world().first; }
FRONTA_REMOTE(my_rank);

int my_pid() { return static_cast<int>(getpid()); }
FRONTA_REMOTE(my_pid);

std::string host_name() {
    char name[256] = {};
    gethostname(name, sizeof name - 1);
    return name;
}
// Busy for a while, then says where it ran.
std::string busy_host(int microseconds) {
    busy_pid(microseconds);
    return host_name();
}
FRONTA_REMOTE(busy_host);

// True when process `pid` has exited and been reaped (a zombie is still there).
bool process_gone(int pid) { return kill(pid, 0) != 0 && errno == ESRCH; }
FRONTA_REMOTE(process_gone);

// The pids of a pool's workers: tasks long enough to go one at a time reach every worker.
std::set<int> worker_pids(fronta::mpi_pool& pool) {
    std::vector<fronta::future<int>> futures;
    for (int i = 0; i < 8 * static_cast<int>(pool.size()); ++i) futures.push_back(pool.submit(busy_pid, 3000));
    std::set<int> pids;
    for (auto& f : futures) pids.insert(f.get());
    return pids;
}

int die(int code) {
    if (code == 0) std::abort();
    std::_Exit(code);
}
FRONTA_REMOTE(die);

// Checksum of a large buffer, and a large buffer back (messages in pieces both ways).
std::uint64_t checksum(const std::string& bytes) {
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
    return h;
}
std::uint64_t checksum_remote(std::string bytes) { return checksum(bytes); }
FRONTA_REMOTE(checksum_remote);

std::string reversed(std::string bytes) {
    std::reverse(bytes.begin(), bytes.end());
    return bytes;
}
FRONTA_REMOTE(reversed);

double sum_shared(fronta::shared_array<const double> values) {
    return std::accumulate(values.begin(), values.end(), 0.0);
}
FRONTA_REMOTE(sum_shared);

std::string pattern(std::size_t size) {
    std::string s(size, '\0');
    std::uint32_t x = 12345;
    for (auto& c : s) {
        x = x * 1664525u + 1013904223u;
        c = static_cast<char>(x >> 24);
    }
    return s;
}

// ---- the same checks for both launches ---------------------------------------------------------

void check_submit(fronta::mpi_pool& pool) {
    EXPECT_DOUBLE_EQ(pool.submit(square, 7.0).get(), 49.0);
    EXPECT_EQ(pool.submit([](int a, int b) { return a + b; }, 2, 3).get(), 5);
    EXPECT_DOUBLE_EQ(pool.submit(scaler{2.5}, 4.0).get(), 10.0);
    EXPECT_NE(pool.submit(my_pid).get(), static_cast<int>(getpid())) << "tasks run in other processes";
}

// What only a remote pool does with exceptions (the typed ones are in the executor contract).
void check_exceptions(fronta::mpi_pool& pool) {
    try {
        pool.submit(throw_kind, 3).get();
        FAIL();
    } catch (const fronta::remote_error& e) {
        EXPECT_NE(e.type_name().find("unregistered_error"), std::string::npos) << e.type_name();
        EXPECT_EQ(e.message(), "mine");
    }
    try {
        pool.submit(not_registered, 1);
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("FRONTA_REMOTE"), std::string::npos) << e.what();
    }
    EXPECT_EQ(pool.submit(throw_kind, 9).get(), 9) << "the pool goes on after exceptions";
}

void check_large_messages(std::size_t workers, fronta::mpi_launch launch) {
    // Small pieces make every message below travel as many MPI messages.
    fronta::mpi_pool pool({.workers = workers, .launch = launch, .max_piece_bytes = 4096});
    const std::string big = pattern(3'000'000);
    EXPECT_EQ(pool.submit(checksum_remote, big).get(), checksum(big));
    std::string back = pool.submit(reversed, big).get();
    std::reverse(back.begin(), back.end());
    EXPECT_TRUE(back == big);
    auto shared = fronta::shared_array<const double>::copy_of(std::vector<double>(100000, 0.5));
    EXPECT_DOUBLE_EQ(pool.submit(sum_shared, shared).get(), 50000.0) << "shared_array travels by value";
}

void check_many_threads(fronta::mpi_pool& pool) {
    constexpr int threads = 4, each = 500;
    std::atomic<int> wrong{0};
    std::vector<std::thread> submitters;
    for (int t = 0; t < threads; ++t)
        submitters.emplace_back([&, t] {
            std::vector<fronta::future<double>> futures;
            for (int i = 0; i < each; ++i) futures.push_back(pool.submit(square, double(t * each + i)));
            for (int i = 0; i < each; ++i) {
                const double x = t * each + i;
                if (futures[i].get() != x * x) ++wrong;
            }
        });
    for (auto& s : submitters) s.join();
    EXPECT_EQ(wrong.load(), 0);
}

void check_load_balancing(fronta::mpi_pool& pool) {
    // Tasks long enough to go one at a time: every worker takes some.
    std::vector<fronta::future<int>> futures;
    for (int i = 0; i < 8 * static_cast<int>(pool.size()); ++i) futures.push_back(pool.submit(busy_pid, 3000));
    std::set<int> pids;
    for (auto& f : futures) pids.insert(f.get());
    EXPECT_EQ(pids.size(), pool.size());
}

// ---- under mpirun -n 3 -------------------------------------------------------------------------

// Futures used to complete, and run their callbacks, on the dispatcher: a callback that waited on
// the pool stalled it for good. One worker, held at a gate, so the callbacks are attached first.
void check_callbacks_that_wait_on_the_pool(fronta::mpi_launch launch) {
    fronta::mpi_pool pool(fronta::mpi_pool_options{.workers = 1, .launch = launch});
    gate g;
    auto held = pool.submit(wait_at_gate, g.path());
    // f completes on the dispatcher, after the callback is added
    auto result = plus_a_square_waited_on_the_pool(pool, pool.submit(square, 3.0));
    auto chained =
        pool.submit(square, 2.0).then([&pool](double v) { return three_squares_waited_on_the_pool(pool, v); });
    g.open();
    EXPECT_EQ(get_or_die(result, "a done callback waiting on its mpi_pool"), 25.0);
    EXPECT_EQ(get_or_die(chained, "a continuation waiting on its mpi_pool"), 48.0);
    EXPECT_EQ(held.get(), 1);
}

// Deleting the pool in its own callback destroyed the joinable dispatcher thread on itself.
void check_pool_destroyed_from_its_own_callback(fronta::mpi_launch launch) {
    auto* pool = new fronta::mpi_pool(fronta::mpi_pool_options{.workers = 1, .launch = launch});
    gate g;
    auto held = pool->submit(wait_at_gate, g.path());
    auto f = pool->submit(square, 3.0);
    fronta::promise<double> destroyed;
    f.add_done_callback([&](const fronta::future<double>& done) {
        const double v = done.get() + pool->submit(square, 1.0).get();
        delete pool;
        destroyed.set_value(v);
    });
    g.open();
    EXPECT_EQ(get_or_die(destroyed.get_future(), "a callback that deletes its mpi_pool"), 10.0);
    EXPECT_EQ(held.get(), 1);
    // The workers are free for the next pool.
    fronta::mpi_pool next(fronta::mpi_pool_options{.workers = 1, .launch = launch});
    EXPECT_EQ(next.submit(square, 5.0).get(), 25.0);
}

TEST(mpi_world, done_callback_that_waits_on_the_same_pool_gets_its_result) {
    check_callbacks_that_wait_on_the_pool(fronta::mpi_launch::world);
}

TEST(mpi_world, pool_destroyed_from_its_own_callback) {
    check_pool_destroyed_from_its_own_callback(fronta::mpi_launch::world);
}

TEST(mpi_world, rank_zero_runs_main_and_the_other_ranks_serve) {
    const auto [rank, size] = fronta::mpi_pool::world();
    ASSERT_EQ(rank, 0);
    ASSERT_GE(size, 3) << "run this suite with mpirun -n 3";
    fronta::mpi_pool pool;
    EXPECT_FALSE(pool.spawned());
    EXPECT_EQ(pool.size(), static_cast<std::size_t>(size - 1));
    EXPECT_EQ(pool.worker_hosts().size(), pool.size());
    std::set<int> ranks;
    for (int i = 0; i < 50; ++i) ranks.insert(pool.submit(my_rank).get());
    for (int r : ranks) EXPECT_TRUE(r >= 1 && r < size) << r;
    check_submit(pool);
}

// With FRONTA_MPI_EXPECT_HOSTS=n (tests/mpi/netns_hosts.sh sets it) the ranks must be on n hosts.
TEST(mpi_world, tasks_run_on_every_host) {
    fronta::mpi_pool pool;
    std::set<std::string> hosts{host_name()};
    for (const auto& h : pool.worker_hosts()) hosts.insert(h);
    std::vector<fronta::future<std::string>> futures;
    for (std::size_t i = 0; i < 4 * pool.size(); ++i) futures.push_back(pool.submit(busy_host, 3000));
    std::set<std::string> ran;
    for (auto& f : futures) ran.insert(f.get());
    std::string listed;
    for (const auto& h : hosts) listed += " " + h;
    std::printf("client on %s; hosts:%s\n", host_name().c_str(), listed.c_str());
    if (const char* expected = std::getenv("FRONTA_MPI_EXPECT_HOSTS")) {
        EXPECT_EQ(hosts.size(), static_cast<std::size_t>(std::atoi(expected))) << listed;
        EXPECT_EQ(ran.size() + 1, hosts.size()) << "tasks ran on every worker host";
        EXPECT_EQ(ran.count(host_name()), 0u) << "the client's host runs no worker";
    }
}

TEST(mpi_world, exceptions_come_back_typed) {
    fronta::mpi_pool pool;
    check_exceptions(pool);
}

TEST(mpi_world, messages_in_pieces_and_shared_array_by_value) { check_large_messages(0, fronta::mpi_launch::world); }

TEST(mpi_world, submit_from_many_threads) {
    fronta::mpi_pool pool;
    check_many_threads(pool);
}

TEST(mpi_world, a_free_worker_takes_the_next_task) {
    fronta::mpi_pool pool;
    check_load_balancing(pool);
}

TEST(mpi_world, map_reduce_reduces_each_chunk_on_the_rank_that_ran_it) {
    fronta::mpi_pool pool;
    const auto ranks = worker_pids(pool);
    const auto sites =
        fronta::map_reduce(pool, no_sites, std::vector<int>(60), join_sites, std::vector<int>{}, {.chunk_size = 6});
    const int here = getpid();
    EXPECT_EQ(std::count(sites.begin(), sites.end(), here), 10) << "the client combines 10 chunk values with init";
    EXPECT_EQ(sites.size(), 60u) << "5 reductions in each of the 10 chunks, on the ranks";
    for (int pid : sites) {
        if (pid == here) continue;
        EXPECT_TRUE(ranks.count(pid)) << pid << " is not a worker rank";
    }
}

TEST(mpi_world, one_pool_at_a_time_owns_the_workers) {
    auto first = std::make_unique<fronta::mpi_pool>();
    EXPECT_THROW(fronta::mpi_pool second, fronta::invalid_state_error);
    first.reset();
    fronta::mpi_pool again(1);
    EXPECT_EQ(again.size(), 1u);
    EXPECT_EQ(again.submit(my_rank).get(), 1) << "mpi_pool(n) takes ranks 1..n";
    EXPECT_THROW(fronta::mpi_pool too_many(
                     fronta::mpi_pool_options{.workers = 100, .launch = fronta::mpi_launch::world}),
                 std::invalid_argument);
}

// (wait, as_completed and then on mpi_pool's futures: the executor contract, tests/contract/.)
TEST(mpi_world, the_erased_executor_ships_to_ranks_and_refuses_what_cannot_go) {
    fronta::executor ex = fronta::mpi_pool();
    EXPECT_DOUBLE_EQ(ex.submit(square, 3.0).then([](double y) { return y + 1; }).get(), 10.0);
    int captured = 3;
    EXPECT_THROW(ex.submit([captured](int x) { return x + captured; }, 1), std::invalid_argument)
        << "the erased executor finds out at run time";
}

TEST(mpi_world, the_initializer_runs_in_every_rank_and_a_failing_one_breaks_only_its_pool) {
    {
        fronta::mpi_pool pool(fronta::mpi_pool_options{.initializer = fronta::remote_call(count_initializer_run, 1)});
        std::vector<fronta::future<std::pair<int, int>>> futures;
        for (std::size_t i = 0; i < 8 * pool.size(); ++i)
            futures.push_back(pool.submit(pid_and_initializer_runs, 3000));
        std::set<int> pids;
        for (auto& f : futures) {
            EXPECT_EQ(f.get().second, 1);
            pids.insert(f.get().first);
        }
        EXPECT_EQ(pids.size(), pool.size());
    }
    {
        fronta::mpi_pool pool(fronta::mpi_pool_options{
            .initializer = fronta::remote_call(failing_initializer, std::string("no model.bin"))});
        EXPECT_THROW(pool.submit(square, 2.0).get(), fronta::broken_executor);
    }
    fronta::mpi_pool next;
    EXPECT_DOUBLE_EQ(next.submit(square, 3.0).get(), 9.0) << "the ranks serve the next pool";
}

// More than 2 GiB in one argument and in one result: several MPI messages each. About 12 GiB of
// memory in all, so only when asked (FRONTA_MPI_HUGE_MB=2200).
TEST(mpi_world, a_message_larger_than_2_gib) {
    const char* huge = std::getenv("FRONTA_MPI_HUGE_MB");
    if (huge == nullptr) GTEST_SKIP() << "set FRONTA_MPI_HUGE_MB=2200 to send 2.2 GiB";
    fronta::mpi_pool pool(1);
    std::string big(std::size_t(std::atol(huge)) << 20, 'x');
    big.front() = 'a';
    EXPECT_EQ(pool.submit(checksum_remote, big).get(), checksum(big));
    auto back = pool.submit(reversed, big);
    const std::size_t size = big.size();
    std::string().swap(big);
    const std::string& got = back.get();
    ASSERT_EQ(got.size(), size);
    EXPECT_EQ(got.back(), 'a');
    EXPECT_EQ(got.front(), 'x');
}

// What a worker rank's death does (CTest runs it on its own and expects the job to end, not hang).
TEST(mpi_fault, DISABLED_a_dying_worker_rank) {
    fronta::mpi_pool pool;
    auto f = pool.submit(die, 0);
    try {
        f.get();
        std::printf("the future failed instead\n");
    } catch (const std::exception& e) {
        std::printf("the future failed: %s\n", e.what());
    }
}

// ---- started alone: spawned workers ------------------------------------------------------------

// A trace of an mpi_pool: every task once, on the rank that ran it, and a valid Chrome trace.
void check_trace_of(fronta::mpi_launch launch) {
    const std::string path = "/tmp/fronta-mpi-trace-" + std::to_string(getpid()) + ".json";
    std::set<int> ranks_seen;
    {
        fronta::tracing trace(path);
        fronta::mpi_pool pool(fronta::mpi_pool_options{.workers = 2, .launch = launch});
        std::vector<fronta::future<int>> futures;
        for (int i = 0; i < 60; ++i) futures.push_back(pool.submit(my_rank));
        for (auto& f : futures) ranks_seen.insert(f.get());
        trace.close();
        EXPECT_EQ(trace.tasks(), 60u);
    }
    std::ifstream lines(fronta::trace_records_path(path));
    std::string line;
    std::size_t tasks = 0;
    std::set<int> ranks_in_trace;
    while (std::getline(lines, line)) {
        tasks += line.find("\"type\":\"task\"") != std::string::npos ? 1 : 0;
        const auto at = line.find("\"rank\":");
        if (line.find("\"type\":\"worker\"") != std::string::npos && at != std::string::npos)
            ranks_in_trace.insert(std::atoi(line.c_str() + at + 7));
    }
    EXPECT_EQ(tasks, 60u);
    EXPECT_EQ(ranks_in_trace, ranks_seen);
    const auto check = fronta::test::check_trace_file(path, {.require_names = true});
    EXPECT_TRUE(check.ok()) << check.report();
    EXPECT_EQ(check.summary.tasks, 60u);
    std::remove(path.c_str());
    std::remove(fronta::trace_records_path(path).c_str());
}

TEST(mpi_world, a_trace_records_every_task_on_the_rank_that_ran_it) { check_trace_of(fronta::mpi_launch::world); }
TEST(mpi_spawn, a_trace_records_every_task_on_the_rank_that_ran_it) { check_trace_of(fronta::mpi_launch::spawn); }

TEST(mpi_spawn, workers_started_with_comm_spawn) {
    fronta::mpi_pool pool(fronta::mpi_pool_options{.workers = 2, .launch = fronta::mpi_launch::spawn});
    EXPECT_TRUE(pool.spawned());
    EXPECT_EQ(pool.size(), 2u);
    check_submit(pool);
    check_exceptions(pool);
    check_many_threads(pool);
    check_load_balancing(pool);
}

TEST(mpi_spawn, messages_in_pieces) { check_large_messages(2, fronta::mpi_launch::spawn); }

// Each call returns its input and how many calls its worker made before: a chunk computed again
// gives other values, a chunk replayed from a journal the same ones.
int with_calls_so_far(int x) {
    static std::atomic<int> calls{0};
    return x * 1000 + calls.fetch_add(1);
}
FRONTA_REMOTE(with_calls_so_far);

TEST(mpi_spawn, a_map_with_a_journal_replays_what_it_journaled) {
    const std::string path = "/tmp/fronta-mpi-journal-" + std::to_string(getpid());
    std::remove(path.c_str());
    fronta::mpi_pool pool(fronta::mpi_pool_options{.workers = 2, .launch = fronta::mpi_launch::spawn});
    const auto run = [&](const fronta::map_options& options) {
        std::vector<int> out;
        for (int y : pool.map(with_calls_so_far, std::views::iota(0, 40), options)) out.push_back(y);
        return out;
    };
    const auto first = run({.chunk_size = 4, .journal = path});
    ASSERT_EQ(first.size(), 40u);
    EXPECT_EQ(run({.chunk_size = 4, .journal = path}), first);
    EXPECT_NE(run({.chunk_size = 4}), first);  // without the journal, computed again
    std::remove(path.c_str());
}

// A file-backed shared_array travels to ranks as its path; each rank maps the file and refuses a
// file that is not the one the client mapped.
TEST(mpi_spawn, a_mapped_file_travels_by_path_and_a_changed_file_is_refused) {
    const std::string path = "/tmp/fronta-mpi-doubles-" + std::to_string(getpid());
    const std::vector<double> values(50000, 0.25);
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(values.data()),
               static_cast<std::streamsize>(values.size() * sizeof(double)));
    const auto mapped = fronta::shared_array<const double>::map_file(path);
    fronta::mpi_pool pool(fronta::mpi_pool_options{.workers = 1, .launch = fronta::mpi_launch::spawn});
    EXPECT_DOUBLE_EQ(pool.submit(sum_shared, mapped).get(), 12500.0);
    const timespec times[2] = {{0, UTIME_OMIT}, {12345, 0}};  // another modification time
    ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
    try {
        pool.submit(sum_shared, mapped).get();
        ADD_FAILURE() << "a rank used a file that changed since the client mapped it";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("is not the file the client mapped"), std::string::npos) << e.what();
    }
    unlink(path.c_str());
}

TEST(mpi_spawn, a_dying_worker_fails_its_task_and_the_pool_heals) {
    fronta::mpi_pool pool(fronta::mpi_pool_options{.workers = 2, .launch = fronta::mpi_launch::spawn});
    for (int round = 0; round < 2; ++round) {
        const auto before = pool.submit(my_pid).get();
        try {
            pool.submit(die, 3).get();
            FAIL() << "the task of a worker that exited cannot succeed";
        } catch (const fronta::worker_died& e) {
            EXPECT_NE(std::string(e.what()).find("died while running die"), std::string::npos) << e.what();
        }
        for (int i = 0; i < 20; ++i) EXPECT_DOUBLE_EQ(pool.submit(square, double(i)).get(), double(i) * i);
        EXPECT_NE(pool.submit(my_pid).get(), before) << "new workers took over";
        EXPECT_EQ(pool.worker_hosts().size(), 2u);
    }
}

// A large message sent ahead to a worker that then dies can never be delivered: the pool must
// still notice the death and go on (it used to poll that send forever and never look).
TEST(mpi_spawn, a_worker_that_dies_with_a_large_message_on_its_way_is_noticed) {
    fronta::mpi_pool pool(fronta::mpi_pool_options{.workers = 1, .launch = fronta::mpi_launch::spawn});
    const std::string big = pattern(8'000'000);
    for (int round = 0; round < 3; ++round) {
        auto doomed = pool.submit(die, 3);
        auto behind = pool.submit(checksum_remote, big);  // usually sent ahead to the dying worker
        EXPECT_THROW(doomed.get(), fronta::worker_died);
        try {
            EXPECT_EQ(behind.get(), checksum(big)) << "if it ran, it ran on the new worker";
        } catch (const fronta::worker_died&) {  // it was on its way to the dead one
        }
        EXPECT_EQ(pool.submit(checksum_remote, big).get(), checksum(big)) << "the new worker takes large messages";
    }
}

TEST(mpi_spawn, done_callback_that_waits_on_the_same_pool_gets_its_result) {
    check_callbacks_that_wait_on_the_pool(fronta::mpi_launch::spawn);
}

TEST(mpi_spawn, pool_destroyed_from_its_own_callback) {
    check_pool_destroyed_from_its_own_callback(fronta::mpi_launch::spawn);
}

// MPI_Comm_spawn is collective over MPI_COMM_SELF: pools started from several threads at once
// must spawn one after another (concurrent collectives on one communicator are erroneous and used
// to hang or crash inside Open MPI).
// The first round also starts MPI from several threads at once (CTest runs this suite in a process
// of its own, where no pool has started MPI yet).
TEST(mpi_spawn_fresh, pools_created_from_several_threads_at_once_all_start) {
    constexpr int threads = 3;
    for (int round = 0; round < 2; ++round) {
        std::atomic<int> working{0};
        std::vector<std::thread> makers;
        for (int t = 0; t < threads; ++t)
            makers.emplace_back([&, t] {
                fronta::mpi_pool pool(fronta::mpi_pool_options{.workers = 1, .launch = fronta::mpi_launch::spawn});
                if (pool.submit(square, double(t)).get() == double(t) * t) ++working;
            });
        for (auto& m : makers) m.join();
        EXPECT_EQ(working.load(), threads) << "round " << round;
    }
}

// A worker that died is gone (exited and reaped) before the workers that replace it start (a spawn
// overlapping the teardown of a group could hang inside Open MPI); the pool is whole again.
TEST(mpi_spawn, a_dead_worker_is_gone_before_its_replacement_starts) {
    fronta::mpi_pool pool(fronta::mpi_pool_options{.workers = 2, .launch = fronta::mpi_launch::spawn});
    const std::set<int> old = worker_pids(pool);
    ASSERT_EQ(old.size(), 2u);
    EXPECT_THROW(pool.submit(die, 3).get(), fronta::worker_died);
    std::set<int> now;
    for (int attempt = 0; attempt < 3 && now.size() < 2; ++attempt) {
        try {
            now = worker_pids(pool);
        } catch (const fronta::worker_died&) {  // a worker Open MPI took down with the first
        }
    }
    ASSERT_EQ(now.size(), 2u) << "the pool has two workers again";
    int replaced = 0;
    for (int pid : old) {
        if (now.count(pid) != 0) continue;
        ++replaced;
        EXPECT_TRUE(pool.submit(process_gone, pid).get()) << "worker " << pid << " was replaced before it was gone";
    }
    EXPECT_GE(replaced, 1);
}

// Run by the test below in a child process: a pool whose workers are busy with long tasks; says
// which processes the workers are and waits to be killed.
TEST(mpi_client, DISABLED_busy_pool_until_killed) {
    fronta::mpi_pool pool(fronta::mpi_pool_options{.workers = 2, .launch = fronta::mpi_launch::spawn});
    const std::set<int> pids = worker_pids(pool);
    std::vector<fronta::future<int>> long_tasks;
    for (int i = 0; i < 4; ++i) long_tasks.push_back(pool.submit(busy_pid, 120'000'000));
    std::printf("fronta-test-workers:");
    for (int pid : pids) std::printf(" %d", pid);
    std::printf("\n");
    std::fflush(stdout);
    for (;;) pause();
}

// Workers never outlive their client: when the client is killed (SIGKILL, no chance to stop them),
// spawned workers exit promptly, also in the middle of a long task.
TEST(mpi_spawn, workers_exit_when_their_client_is_killed) {
    int out[2];
    ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    std::string exe(4096, '\0');
    exe.resize(static_cast<std::size_t>(readlink("/proc/self/exe", exe.data(), exe.size())));
    std::string filter = "--gtest_filter=mpi_client.DISABLED_busy_pool_until_killed",
                disabled = "--gtest_also_run_disabled_tests";
    char* argv[] = {exe.data(), filter.data(), disabled.data(), nullptr};
    pid_t client = -1;
    ASSERT_EQ(posix_spawn(&client, exe.c_str(), &actions, nullptr, argv, environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    // The client says which processes its workers are (within a minute, or the test fails).
    std::string said;
    std::vector<int> workers;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (workers.empty() && std::chrono::steady_clock::now() < deadline) {
        pollfd readable{out[0], POLLIN, 0};
        if (poll(&readable, 1, 1000) <= 0) continue;
        char chunk[4096];
        const ssize_t n = read(out[0], chunk, sizeof chunk);
        if (n <= 0) break;
        said.append(chunk, static_cast<std::size_t>(n));
        const auto at = said.find("fronta-test-workers:");
        const auto end = at == std::string::npos ? at : said.find('\n', at);
        if (end == std::string::npos) continue;
        std::istringstream line(said.substr(at + 20, end - at - 20));
        for (int pid; line >> pid;) workers.push_back(pid);
    }
    kill(client, SIGKILL);
    waitpid(client, nullptr, 0);
    close(out[0]);
    ASSERT_EQ(workers.size(), 2u) << "the client did not report its workers; it said:\n" << said;
    // Each worker exits within 10 s (a pidfd becomes readable when its process ends).
    for (int pid : workers) {
        const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
        if (fd < 0) continue;  // already gone
        pollfd ended{fd, POLLIN, 0};
        EXPECT_EQ(poll(&ended, 1, 10'000), 1) << "worker " << pid << " still runs 10 s after its client was killed";
        close(fd);
        if (!process_gone(pid) && kill(pid, 0) == 0) kill(pid, SIGKILL);  // do not leave it behind
    }
}

// The initializer runs once in each worker before its first task, in replacement workers too.
TEST(mpi_spawn, the_initializer_runs_once_in_each_worker_and_in_replacements) {
    fronta::mpi_pool pool(fronta::mpi_pool_options{.workers = 2,
                                                   .launch = fronta::mpi_launch::spawn,
                                                   .initializer = fronta::remote_call(count_initializer_run, 1)});
    for (int round = 0; round < 2; ++round) {
        std::vector<fronta::future<std::pair<int, int>>> futures;
        for (int i = 0; i < 16; ++i) futures.push_back(pool.submit(pid_and_initializer_runs, 3000));
        std::set<int> pids;
        for (auto& f : futures) {
            const auto [pid, runs] = f.get();
            EXPECT_EQ(runs, 1) << "worker " << pid << ", round " << round;
            pids.insert(pid);
        }
        EXPECT_EQ(pids.size(), 2u);
        if (round == 0) {
            EXPECT_THROW(pool.submit(die, 3).get(), fronta::worker_died);  // new workers take over
        }
    }
}

TEST(mpi_spawn, an_initializer_that_throws_breaks_the_pool_with_its_message) {
    fronta::mpi_pool pool(
        fronta::mpi_pool_options{.workers = 2,
                                 .launch = fronta::mpi_launch::spawn,
                                 .initializer = fronta::remote_call(failing_initializer, std::string("no model.bin"))});
    try {
        pool.submit(square, 2.0).get();
        FAIL() << "a task ran in a worker whose initializer failed";
    } catch (const fronta::broken_executor& e) {
        EXPECT_NE(std::string(e.what()).find("failing_initializer failed: no model.bin"), std::string::npos)
            << e.what();
    }
    EXPECT_THROW(pool.submit(square, 3.0), fronta::broken_executor) << "later submits fail too";
}

TEST(mpi_spawn, an_initializer_that_kills_its_worker_breaks_the_pool) {
    fronta::mpi_pool pool(fronta::mpi_pool_options{.workers = 2,
                                                   .launch = fronta::mpi_launch::spawn,
                                                   .initializer = fronta::remote_call(crashing_initializer, 5)});
    try {
        pool.submit(square, 2.0).get();
        FAIL() << "a task ran in a worker whose initializer crashed";
    } catch (const fronta::broken_executor& e) {
        EXPECT_NE(std::string(e.what()).find("initializer crashing_initializer killed worker"), std::string::npos)
            << e.what();
    }
    EXPECT_THROW(pool.submit(square, 3.0), fronta::broken_executor);
}

TEST(mpi_spawn, bad_options_are_clear_errors) {
    EXPECT_THROW(fronta::mpi_pool(0), std::invalid_argument);
    EXPECT_THROW(fronta::mpi_pool(fronta::mpi_pool_options{.max_piece_bytes = 10}), std::invalid_argument);
    EXPECT_THROW(fronta::mpi_pool(fronta::mpi_pool_options{.launch = fronta::mpi_launch::world}),
                 fronta::invalid_state_error)
        << "started alone there is no world to use";
}

}  // namespace

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // worker ranks serve in here and exit
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
