// Where a process_pool's submits go: the lone-task path (a submit to an idle pool goes straight
// into an idle worker's ring), from many threads at once, with crashes, cancellations, recycling
// and shutdown; and the dispatcher's path, which gives a long task to an idle worker.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
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
using steady = std::chrono::steady_clock;

namespace {

// Says it started (its pid, a line into the FIFO `started`), then waits for a byte from the FIFO
// `go`; returns its pid.
int start_then_wait(std::string started, std::string go) {
    const std::string line = std::to_string(getpid()) + "\n";
    const int out = open(started.c_str(), O_WRONLY | O_CLOEXEC);
    [[maybe_unused]] auto n = write(out, line.data(), line.size());
    close(out);
    const int in = open(go.c_str(), O_RDONLY | O_CLOEXEC);
    char byte = 0;
    while (read(in, &byte, 1) < 0 && errno == EINTR) {
    }
    close(in);
    return static_cast<int>(getpid());
}
FRONTA_REMOTE(start_then_wait);

int quick(int x) { return x + 1; }
FRONTA_REMOTE(quick);

std::size_t count_of(const std::string& text, const std::string& word) {
    std::size_t n = 0;
    for (auto at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++n;
    return n;
}

}  // namespace

// Lone submits to an idle pool go straight into an idle worker's ring (the dispatcher lends it);
// several threads doing so at once, with crashes and cancellations among them, must each get
// their own result, and the dispatcher must still know what runs where.
TEST(process_pool_roundtrip, lone_submits_from_many_threads_with_crashes) {
    fronta::process_pool pool(2);
    constexpr int threads = 4;
    const int rounds = sanitized ? 100 : 500;
    std::atomic<int> wrong{0}, died{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < threads; ++c) {
        clients.emplace_back([&, c] {
            for (int i = 0; i < rounds; ++i) {
                const double x = c * 1000 + i;
                if (c == 0 && i % 100 == 50) {
                    try {
                        pool.submit(misbehave, std::string("sigkill")).get();
                    } catch (const fronta::worker_died&) {
                        ++died;
                    }
                    continue;
                }
                auto f = pool.submit(square, x);
                if (c == 1 && i % 7 == 0 && f.cancel()) continue;  // cancelled before it ran
                if (f.get() != x * x) ++wrong;
            }
        });
    }
    for (auto& t : clients) t.join();
    EXPECT_EQ(wrong.load(), 0);
    EXPECT_EQ(died.load(), rounds / 100);
    EXPECT_DOUBLE_EQ(pool.submit(square, 3.0).get(), 9.0);
    EXPECT_TRUE(eventually([&] { return pool.worker_pids().size() == 2; }));
}

TEST(process_pool_roundtrip, lone_submits_follow_max_tasks_per_child_and_shutdown) {
    fronta::process_pool_options options;
    options.workers = 2;
    options.max_tasks_per_child = 3;
    fronta::process_pool pool(options);
    std::map<int, int> tasks_per_pid;
    for (int i = 0; i < 30; ++i) ++tasks_per_pid[pool.submit(worker_pid).get()];
    for (const auto& [pid, n] : tasks_per_pid) EXPECT_LE(n, 3) << "worker " << pid;
    auto last = pool.submit(square, 2.0);
    pool.shutdown(true);
    EXPECT_DOUBLE_EQ(last.get(), 4.0);
    EXPECT_THROW(pool.submit(square, 1.0), fronta::shutdown_error);
}

// After short tasks (the dispatcher then sends up to 32 ahead), a long task starts on one worker;
// the next long task must go to the idle worker, not wait behind the first one. Going round the
// workers in their order sent it to the first worker, busy, while the second sat idle: under load
// the stuck-client tests saw one of their two stuck tasks running, not two.
TEST(process_pool_scheduling, a_task_is_not_sent_behind_a_running_one_while_a_worker_is_idle) {
    const std::string base = testing::TempDir() + "/fronta_sched_" + std::to_string(getpid());
    const std::string started = base + "_started", go = base + "_go";
    ASSERT_EQ(mkfifo(started.c_str(), 0600), 0);
    ASSERT_EQ(mkfifo(go.c_str(), 0600), 0);
    const int from_tasks = open(started.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    const int to_tasks = open(go.c_str(), O_RDWR | O_CLOEXEC);          // a writer exists: tasks' opens do not block
    const int keep_open = open(started.c_str(), O_WRONLY | O_CLOEXEC);  // no EOF between the tasks' writes
    ASSERT_GE(from_tasks, 0);
    ASSERT_GE(to_tasks, 0);
    std::string lines;
    const auto read_lines = [&](std::size_t wanted) {
        const auto give_up = steady::now() + 20s;
        while (count_of(lines, "\n") < wanted && steady::now() < give_up) {
            pollfd p{from_tasks, POLLIN, 0};
            if (poll(&p, 1, 1000) <= 0) continue;
            char buffer[64];
            const ssize_t n = read(from_tasks, buffer, sizeof buffer);
            if (n > 0) lines.append(buffer, static_cast<std::size_t>(n));
        }
        return count_of(lines, "\n") >= wanted;
    };
    {
        fronta::process_pool_options options;
        options.workers = 2;
        options.task_timeout = std::chrono::minutes(5);  // the dispatcher's path, not the lone-task one
        fronta::process_pool pool(options);
        std::vector<fronta::future<int>> batch;
        for (int i = 0; i < 2000; ++i) batch.push_back(pool.submit(quick, i));
        for (auto& f : batch) f.get();
        auto a = pool.submit(start_then_wait, started, go);
        EXPECT_TRUE(read_lines(1)) << "the first long task did not start";
        auto b = pool.submit(start_then_wait, started, go);
        EXPECT_TRUE(read_lines(2)) << "the second long task waited behind the first while a worker was idle";
        ASSERT_EQ(write(to_tasks, "xx", 2), 2);
        EXPECT_NE(a.get(30s), b.get(30s));
    }
    close(keep_open);
    close(from_tasks);
    close(to_tasks);
    std::remove(started.c_str());
    std::remove(go.c_str());
}

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // worker copies of this test binary stay in here
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
