// process_pool: shipping functions, function objects and values; typed exceptions; crashes that
// fail one task and heal the pool; retries, timeouts, worker recycling; clean shutdown.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fronta/as_completed.hpp"
#include "fronta/executor.hpp"
#include "fronta/init.hpp"
#include "fronta/process_pool.hpp"
#include "fronta/promise.hpp"
#include "remote_functions.hpp"
#include "worker_channel.hpp"

using namespace std::chrono_literals;

namespace {

std::string shout(std::string text, int times) {
    std::string out;
    for (int i = 0; i < times; ++i) out += text + "!";
    return out;
}
FRONTA_REMOTE(shout);

struct point {
    double x = 0, y = 0;
    template <class Archive>
    void serialize(Archive& archive) {
        archive(x, y);
    }
};
point midpoint(std::vector<point> points) {
    point m;
    for (auto& p : points) {
        m.x += p.x / points.size();
        m.y += p.y / points.size();
    }
    return m;
}
FRONTA_REMOTE(midpoint);

int worker_pid() { return static_cast<int>(getpid()); }
FRONTA_REMOTE(worker_pid);

int misbehave(std::string how) {
    if (how == "segfault") raise(SIGSEGV);
    if (how == "abort") std::abort();
    if (how == "exit") std::exit(7);
    if (how == "sigkill") raise(SIGKILL);
    if (how == "spin") {
        volatile long spins = 0;
        for (;;) spins = spins + 1;
    }
    if (how == "garbage") {
        const char junk[] = "this is not a fronta frame, not at all, no.";
        [[maybe_unused]] auto n = write(channel_of_this_worker(), junk, sizeof junk);
        return 0;
    }
    if (how == "allocate") {
        std::vector<char> big(std::size_t{8} << 30);  // 8 GiB, over the memory limit
        return static_cast<int>(big.size());
    }
    return 1;
}
FRONTA_REMOTE(misbehave);

// Crashes unless `marker` exists; creates it first, so the second attempt succeeds.
int crash_once(std::string marker) {
    if (std::ifstream(marker).good()) return 42;
    std::ofstream(marker) << "seen";
    raise(SIGKILL);
    return 0;
}
FRONTA_REMOTE(crash_once);


double sum_shared(fronta::shared_array<const double> values, std::size_t from, std::size_t to) {
    double total = 0;
    for (std::size_t i = from; i < to; ++i) total += values[i];
    return total;
}
FRONTA_REMOTE(sum_shared);

void fill_row(fronta::shared_array<double> matrix, std::size_t row, std::size_t width) {
    for (std::size_t i = 0; i < width; ++i) matrix[row * width + i] = double(row * 1000 + i);
}
FRONTA_REMOTE(fill_row);

std::vector<double> reverse_big(std::vector<double> values) {
    std::reverse(values.begin(), values.end());
    return values;
}
FRONTA_REMOTE(reverse_big);

// Item 8: flips the last byte, so a result that came back is told from the argument.
std::vector<char> flip_last(std::vector<char> bytes) {
    if (!bytes.empty()) bytes.back() = static_cast<char>(~bytes.back());
    return bytes;
}
FRONTA_REMOTE(flip_last);

std::size_t byte_count(std::vector<char> bytes) { return bytes.size(); }
FRONTA_REMOTE(byte_count);

// A callable whose state is larger than the room kept before a large message's arguments.
struct prefixer {
    std::string prefix;
    std::size_t operator()(const std::vector<double>& values) const { return prefix.size() + values.size(); }
    template <class Archive>
    void serialize(Archive& archive) {
        archive(prefix);
    }
};

std::size_t available_memory() {
    std::ifstream meminfo("/proc/meminfo");
    for (std::string line; std::getline(meminfo, line);)
        if (line.rfind("MemAvailable:", 0) == 0) return std::stoull(line.substr(13)) * 1024;  // "... kB"
    return 0;
}

// The shared-memory message buffers this process has mapped (its own and its workers').
std::set<std::string> message_buffers() {
    std::ifstream maps("/proc/self/maps");
    std::set<std::string> inodes;
    for (std::string line; std::getline(maps, line);)
        if (line.find("memfd:fronta-message") != std::string::npos) {
            std::istringstream fields(line);
            std::string range, perms, offset, device, inode;
            fields >> range >> perms >> offset >> device >> inode;
            inodes.insert(inode);
        }
    return inodes;
}

std::size_t open_fds() {
    std::size_t n = 0;
    if (DIR* dir = opendir("/proc/self/fd")) {
        while (readdir(dir) != nullptr) ++n;
        closedir(dir);
    }
    return n;
}

std::set<int> child_pids() {
    std::set<int> children;
    const std::string me = std::to_string(getpid());
    if (DIR* dir = opendir("/proc")) {
        while (dirent* entry = readdir(dir)) {
            std::ifstream stat(std::string("/proc/") + entry->d_name + "/stat");
            std::string pid, comm, state, ppid;
            if (stat >> pid >> comm >> state >> ppid && ppid == me) children.insert(std::stoi(pid));
        }
        closedir(dir);
    }
    return children;
}

// Sanitizer runtimes catch fatal signals (and exit with their own code) and reserve terabytes of
// address space, so the exact cause of death and RLIMIT_AS cannot be checked under them.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif

template <class Predicate>
bool eventually(Predicate&& predicate, std::chrono::seconds limit = 10s) {
    const auto give_up = std::chrono::steady_clock::now() + limit;
    while (!predicate()) {
        if (std::chrono::steady_clock::now() > give_up) return false;
        std::this_thread::sleep_for(5ms);  // polling an observable condition, not ordering events
    }
    return true;
}

}  // namespace

TEST(process_pool_ship, registered_function_with_values_and_user_types) {
    fronta::process_pool pool(2);
    EXPECT_DOUBLE_EQ(pool.submit(square, 5.0).get(), 25.0);
    EXPECT_DOUBLE_EQ(pool.submit(square, 3).get(), 9.0) << "arguments convert to the parameter types";
    EXPECT_EQ(pool.submit(shout, std::string("hey"), 2).get(), "hey!hey!");
    auto m = pool.submit(midpoint, std::vector<point>{{0, 0}, {2, 4}}).get();
    EXPECT_DOUBLE_EQ(m.x, 1.0);
    EXPECT_DOUBLE_EQ(m.y, 2.0);
}

TEST(process_pool_ship, runs_in_other_processes) {
    fronta::process_pool pool(2);
    const int here = getpid();
    const int there = pool.submit(worker_pid).get();
    EXPECT_NE(there, here);
    const auto pids = pool.worker_pids();
    EXPECT_NE(std::find(pids.begin(), pids.end(), there), pids.end());
}

TEST(process_pool_ship, captureless_lambda_and_function_object_with_state) {
    fronta::process_pool pool(1);
    EXPECT_EQ(pool.submit([](int a, int b) { return a * b; }, 6, 7).get(), 42);
    EXPECT_DOUBLE_EQ(pool.submit(scaler{2.5}, 4.0).get(), 10.0);
    EXPECT_DOUBLE_EQ(pool.submit(scaler{-1}, 4.0).get(), -4.0) << "each object ships its own state";
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

TEST(process_pool_exceptions, standard_and_registered_types_come_back_as_themselves) {
    fronta::process_pool pool(1);
    try {
        pool.submit(throw_kind, 0).get();
        FAIL();
    } catch (const std::out_of_range& e) {
        EXPECT_STREQ(e.what(), "index 7 of 3");
    }
    EXPECT_THROW(pool.submit(throw_kind, 1).get(), std::invalid_argument);
    try {
        pool.submit(throw_kind, 2).get();
        FAIL();
    } catch (const parse_error& e) {
        EXPECT_STREQ(e.what(), "line 3: unexpected ','");
    }
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

TEST(process_pool_faults, each_kind_of_death_fails_only_its_task_and_the_pool_heals) {
    fronta::process_pool pool(2);
    const std::map<std::string, std::string> expected{{"segfault", "signal 11"},
                                                      {"abort", "signal 6"},
                                                      {"exit", "exited with code 7"},
                                                      {"sigkill", "signal 9"}};
    for (const auto& [how, words] : expected) {
        auto healthy = pool.submit(square, 3.0);
        try {
            pool.submit(misbehave, how).get();
            FAIL() << how;
        } catch (const fronta::worker_died& e) {
            if (!sanitized) {
                EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
            }
            EXPECT_NE(std::string(e.what()).find("misbehave"), std::string::npos) << e.what();
        }
        EXPECT_DOUBLE_EQ(healthy.get(), 9.0) << "a task on the other worker is unaffected";
        EXPECT_EQ(pool.submit(misbehave, std::string("fine")).get(), 1) << "the pool still serves after " << how;
    }
    EXPECT_TRUE(eventually([&] { return pool.worker_pids().size() == 2; })) << "dead workers were replaced";
}

TEST(process_pool_faults, corrupt_reply_fails_the_task_not_the_client) {
    fronta::process_pool pool(1);
    try {
        pool.submit(misbehave, std::string("garbage")).get();
        FAIL();
    } catch (const fronta::worker_died& e) {
        EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos) << e.what();
    }
    EXPECT_DOUBLE_EQ(pool.submit(square, 4.0).get(), 16.0);
}

TEST(process_pool_faults, retry_runs_again_on_another_worker) {
    const std::string marker = testing::TempDir() + "/fronta_crash_once_" + std::to_string(getpid());
    std::remove(marker.c_str());
    fronta::process_pool pool(2);
    EXPECT_EQ(pool.submit_with({.retries = 1}, crash_once, marker).get(), 42);
    std::remove(marker.c_str());
    EXPECT_THROW(pool.submit_with({.retries = 0}, crash_once, marker).get(), fronta::worker_died);
    std::remove(marker.c_str());
}

TEST(process_pool_faults, timeout_kills_a_stuck_worker) {
    fronta::process_pool_options options;
    options.workers = 1;
    options.task_timeout = 200ms;
    fronta::process_pool pool(options);
    try {
        pool.submit(misbehave, std::string("spin")).get();
        FAIL();
    } catch (const fronta::timeout_error& e) {
        EXPECT_NE(std::string(e.what()).find("misbehave"), std::string::npos) << e.what();
    }
    EXPECT_DOUBLE_EQ(pool.submit(square, 5.0).get(), 25.0);
    EXPECT_THROW(pool.submit_with({.timeout = 50ms}, misbehave, std::string("spin")).get(), fronta::timeout_error);
}

std::size_t text_length(std::string text) { return text.size(); }
FRONTA_REMOTE(text_length);

TEST(process_pool_faults, a_stuck_worker_with_a_full_socket_does_not_stall_the_pool) {
    fronta::process_pool_options options;
    options.workers = 1;
    options.task_timeout = 500ms;
    fronta::process_pool pool(options);
    for (int i = 0; i < 200; ++i) pool.submit(square, 1.0).get();  // short tasks: it sends ahead
    auto stuck = pool.submit(misbehave, std::string("spin"));
    std::vector<fronta::future<std::size_t>> behind;
    const std::string half_megabyte(500'000, 'x');  // under the shared-memory threshold: socket
    for (int i = 0; i < 31; ++i) behind.push_back(pool.submit(text_length, half_megabyte));
    EXPECT_THROW(stuck.get(), fronta::timeout_error) << "the timeout fired although the socket was full";
    for (auto& f : behind) EXPECT_EQ(f.get(), half_megabyte.size());
}

TEST(process_pool_faults, memory_limit_turns_into_bad_alloc) {
    if (sanitized) GTEST_SKIP() << "sanitizers reserve more address space than any RLIMIT_AS allows";
    fronta::process_pool_options options;
    options.workers = 1;
    options.memory_limit = std::size_t{2} << 30;
    fronta::process_pool pool(options);
    EXPECT_THROW(pool.submit(misbehave, std::string("allocate")).get(), std::bad_alloc);
    EXPECT_EQ(pool.submit(misbehave, std::string("fine")).get(), 1);
}

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

TEST(process_pool_lifecycle, shutdown_wait_finishes_queued_work) {
    fronta::process_pool pool(2);
    std::vector<fronta::future<double>> futures;
    for (int i = 0; i < 50; ++i) futures.push_back(pool.submit(square, double(i)));
    pool.shutdown(true, false);
    for (int i = 0; i < 50; ++i) EXPECT_DOUBLE_EQ(futures[i].get(), double(i * i));
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
    fronta::process_pool pool({.workers = 2, .initializer = fronta::remote_call(failing_initializer, std::string("no model.bin"))});
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

TEST(process_pool_data, read_only_shared_array_reaches_many_tasks_without_copies) {
    std::vector<double> data(1'000'000);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = double(i % 97);
    const auto shared = fronta::shared_array<const double>::copy_of(data);
    const auto fds_before = open_fds();
    std::vector<fronta::future<double>> parts;
    {
        fronta::process_pool pool(2);
        for (std::size_t part = 0; part < 100; ++part)
            parts.push_back(pool.submit(sum_shared, shared, part * 10'000, (part + 1) * 10'000));
        double total = 0;
        for (auto& f : parts) total += f.get();
        double expected = 0;
        for (double v : data) expected += v;
        EXPECT_DOUBLE_EQ(total, expected);
    }
    EXPECT_EQ(open_fds(), fds_before) << "descriptors passed to workers were closed, futures still alive";
}

TEST(process_pool_data, writable_shared_array_shows_what_workers_wrote) {
    constexpr std::size_t rows = 8, width = 1000;
    fronta::shared_array<double> matrix(rows * width);
    fronta::process_pool pool(2);
    std::vector<fronta::future<void>> done;
    for (std::size_t row = 0; row < rows; ++row) done.push_back(pool.submit(fill_row, matrix, row, width));
    for (auto& f : done) f.get();
    for (std::size_t row = 0; row < rows; ++row)
        for (std::size_t i = 0; i < width; i += 111) ASSERT_DOUBLE_EQ(matrix[row * width + i], double(row * 1000 + i));
}

TEST(process_pool_data, writable_shared_array_converts_to_a_read_only_view) {
    constexpr std::size_t n = 1000;
    fronta::shared_array<double> values(n);
    for (std::size_t i = 0; i < n; ++i) values[i] = double(i);
    fronta::shared_array<const double> view = values;
    EXPECT_EQ(view.data(), values.data()) << "the view is the same memory";
    EXPECT_EQ(view.size(), n);
    values[0] = 1000;
    EXPECT_DOUBLE_EQ(view[0], 1000.0);
    const double expected = 1000.0 + double(n * (n - 1) / 2);
    fronta::process_pool pool(1);
    EXPECT_DOUBLE_EQ(pool.submit(sum_shared, view, 0, n).get(), expected);
    EXPECT_DOUBLE_EQ(pool.submit(sum_shared, values, 0, n).get(), expected) << "converted for the parameter";
}

TEST(process_pool_data, large_arguments_and_results_go_through_shared_memory) {
    std::vector<double> big(4'000'000);  // 32 MB, far above the 1 MB threshold
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = double(i);
    fronta::process_pool pool(1);
    const std::vector<double> back = pool.submit(reverse_big, big).get();
    ASSERT_EQ(back.size(), big.size());
    EXPECT_DOUBLE_EQ(back.front(), double(big.size() - 1));
    EXPECT_DOUBLE_EQ(back.back(), 0.0);
}

// Item 9: every large message used to get a new memfd, whose pages were faulted in again and
// copied twice more on each side. Now the same few buffers serve message after message.
TEST(process_pool_data, large_messages_reuse_their_shared_memory) {
    fronta::process_pool pool(1);
    std::vector<double> values(1'000'000, 0.25);  // 8 MB each way
    std::set<std::string> seen;
    for (int i = 0; i < 12; ++i) {
        values[0] = i;
        auto back = pool.submit(reverse_big, values);
        ASSERT_EQ(back.get().size(), values.size());
        EXPECT_EQ(back.get().back(), double(i));
        for (const auto& inode : message_buffers()) seen.insert(inode);
    }
    EXPECT_GE(seen.size(), 1u) << "large messages travel in shared memory";
    EXPECT_LE(seen.size(), 6u) << "a new buffer for each message";
}

TEST(process_pool_data, a_large_callable_state_goes_with_large_arguments) {
    fronta::process_pool pool(1);
    const prefixer f{std::string(100'000, 'p')};  // more than the room before the arguments
    const std::vector<double> values(500'000, 1.0);
    EXPECT_EQ(pool.submit(f, values).get(), 600'000u);
    EXPECT_EQ(pool.submit(f, values).get(), 600'000u) << "and again in the same buffer";
}

// Item 8: messages over 1 GiB failed as if the worker had crashed ("shared payload too large", or
// the worker exiting with code 4), and the task was retried. About 7 GB of memory at the peak.
TEST(process_pool_data, arguments_and_results_over_2_gib) {
    constexpr std::size_t size = 2'200'000'000;
    if (sanitized) GTEST_SKIP() << "too large under sanitizers";
    if (available_memory() < (std::size_t{10} << 30)) GTEST_SKIP() << "needs 10 GiB of free memory";
    fronta::process_pool pool(1);
    auto pattern = [](std::size_t i) { return static_cast<char>('a' + (i >> 20) % 26 + (i & 1)); };  // per MiB
    std::vector<char> big(size);
    for (std::size_t i = 0; i < size; i += 2) {
        big[i] = pattern(i);
        big[i + 1] = pattern(i + 1);
    }
    auto back = pool.submit(flip_last, big);
    std::vector<char>().swap(big);  // serialized at submit: no longer needed here
    const std::vector<char>& got = back.get();
    ASSERT_EQ(got.size(), size);
    for (std::size_t i = 0; i + 1 < size; i += 4093) ASSERT_EQ(got[i], pattern(i)) << "at byte " << i;
    EXPECT_EQ(got[size - 2], pattern(size - 2));
    EXPECT_EQ(got[size - 1], static_cast<char>(~pattern(size - 1)));
}

// A message the worker cannot hold under its memory limit fails that task with an error naming the
// limit; the worker lives on (it used to exit, and the task was retried as if it had crashed).
TEST(process_pool_data, a_message_over_the_memory_limit_names_the_limit) {
    if (sanitized) GTEST_SKIP() << "sanitizers reserve more address space than any RLIMIT_AS allows";
    fronta::process_pool_options options;
    options.workers = 1;
    options.memory_limit = std::size_t{1} << 30;
    fronta::process_pool pool(options);
    const int pid = pool.submit(worker_pid).get();
    try {
        pool.submit(byte_count, std::vector<char>(1'200'000'000)).get();
        FAIL() << "1.2 GB cannot be mapped under a 1 GiB address-space limit";
    } catch (const fronta::worker_died& e) {
        FAIL() << "reported as a crash: " << e.what();
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("memory_limit"), std::string::npos) << e.what();
    }
    EXPECT_EQ(pool.submit(worker_pid).get(), pid) << "the worker lives on";
    EXPECT_EQ(pool.submit(byte_count, std::vector<char>(3'000'000)).get(), 3'000'000u);
}

TEST(process_pool_data, shared_array_copies_its_contents_where_descriptors_cannot_go) {
    auto original = fronta::shared_array<const int>::copy_of(std::vector<int>{1, 2, 3});
    const std::string bytes = fronta::remote::to_bytes(original);  // no attachment scope: by value
    auto copy = fronta::remote::from_bytes<fronta::shared_array<const int>>(bytes);
    ASSERT_EQ(copy.size(), 3u);
    EXPECT_EQ(copy[2], 3);
    EXPECT_NE(copy.data(), original.data());
}

TEST(process_pool_map, ordered_and_unordered_with_chunks) {
    fronta::process_pool pool(2);
    std::vector<double> inputs;
    for (int i = 0; i < 1000; ++i) inputs.push_back(i);
    std::vector<double> out;
    for (double y : pool.map(square, inputs, {.chunk_size = 64})) out.push_back(y);
    ASSERT_EQ(out.size(), inputs.size());
    for (int i = 0; i < 1000; ++i) ASSERT_DOUBLE_EQ(out[i], double(i) * i);
    double total = 0;
    for (double y : pool.map_unordered(scaler{2}, inputs, {.chunk_size = 100})) total += y;
    EXPECT_DOUBLE_EQ(total, 999.0 * 1000.0);
}

TEST(process_pool_map, exception_in_a_chunk_keeps_earlier_results) {
    fronta::process_pool pool(2);
    std::vector<int> inputs{5, 6, 7, 0, 8};
    std::vector<int> seen;
    try {
        for (int y : pool.map(throw_kind, inputs, {.chunk_size = 2})) seen.push_back(y);
        FAIL();
    } catch (const std::out_of_range&) {
    }
    EXPECT_EQ(seen, (std::vector<int>{5, 6, 7}));
}

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
    EXPECT_THROW(
        for (int y : ex.map([](const int* p) { return *p; }, pointers)) (void)y, std::invalid_argument);
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

TEST(process_pool_erased, futures_work_with_as_completed) {
    fronta::process_pool pool(2);
    std::vector<fronta::future<double>> futures;
    for (int i = 0; i < 20; ++i) futures.push_back(pool.submit(square, double(i)));
    double total = 0;
    for (const auto& f : fronta::as_completed(futures)) total += f.get();
    EXPECT_DOUBLE_EQ(total, 2470.0);
}

TEST(process_pool_faults, random_kills_during_a_long_run) {
    const long tasks = std::getenv("FRONTA_FAULT_TASKS") ? std::atol(std::getenv("FRONTA_FAULT_TASKS")) : 100'000;
    for (const int retries : {0, 3}) {
        fronta::process_pool_options options;
        options.workers = 2;
        options.retries = retries;
        fronta::process_pool pool(options);
        std::atomic<bool> done{false};
        std::atomic<int> kills{0};
        std::thread killer([&] {
            std::mt19937 random(12345 + retries);
            while (!done.load() && kills.load() < 20) {
                auto pids = pool.worker_pids();
                if (!pids.empty()) {
                    kill(pids[random() % pids.size()], SIGKILL);
                    ++kills;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(20 + random() % 80));
            }
        });
        std::vector<fronta::future<double>> futures;
        futures.reserve(tasks);
        for (long i = 0; i < tasks; ++i) futures.push_back(pool.submit(square, double(i % 1000)));
        long correct = 0, died = 0, wrong = 0;
        for (long i = 0; i < tasks; ++i) {
            try {
                if (futures[i].get() == double(i % 1000) * (i % 1000))
                    ++correct;
                else
                    ++wrong;
            } catch (const fronta::worker_died&) {
                ++died;
            }
        }
        done = true;
        killer.join();
        std::printf("retries=%d: %ld correct, %ld failed with worker_died, %d workers killed\n", retries, correct,
                    died, kills.load());
        EXPECT_EQ(wrong, 0);
        EXPECT_EQ(correct + died, tasks);
        EXPECT_GT(kills.load(), 0);
        if (retries > 0) {
            EXPECT_EQ(died, 0) << "with retries every task succeeds";
        }
    }
}

// Callbacks used to run on the dispatcher, the one thread every future of the pool waits for: a
// callback that waited on the pool stalled it forever, destructor included.
TEST(process_pool_callbacks, done_callback_that_waits_on_the_same_pool_gets_its_result) {
    fronta::process_pool pool(1);
    gate g;
    auto held = pool.submit(wait_at_gate, g.path());
    // f completes on the dispatcher, after the callback is added
    auto result = plus_a_square_waited_on_the_pool(pool, pool.submit(square, 3.0));
    g.open();
    EXPECT_EQ(get_or_die(result, "a done callback waiting on its pool"), 25.0);
    EXPECT_EQ(held.get(), 1);
}

TEST(process_pool_callbacks, then_continuation_that_waits_on_the_same_pool_gets_its_result) {
    fronta::process_pool pool(1);
    gate g;
    auto held = pool.submit(wait_at_gate, g.path());
    std::vector<fronta::future<double>> chained;
    for (int i = 0; i < 4; ++i)
        chained.push_back(pool.submit(square, double(i)).then(
            [&pool](double v) { return three_squares_waited_on_the_pool(pool, v); }));
    g.open();
    for (int i = 0; i < 4; ++i)
        EXPECT_EQ(get_or_die(chained[i], "a continuation waiting on its pool"), 3.0 * i * i * i * i);
}

fronta::future<double> add_squares_of_the_pool(fronta::process_pool& pool, fronta::future<double> first) {
    const double a = co_await first;                       // resumed by the pool
    const double b = pool.submit(square, a).get();         // and blocks on it right there
    co_return a + b + co_await pool.submit(square, 1.0);
}

TEST(process_pool_callbacks, coroutine_resumed_by_the_pool_may_wait_on_it) {
    fronta::process_pool pool(1);
    gate g;
    auto held = pool.submit(wait_at_gate, g.path());
    auto result = add_squares_of_the_pool(pool, pool.submit(square, 2.0));
    g.open();
    EXPECT_EQ(get_or_die(result, "a coroutine waiting on its pool"), 4.0 + 16.0 + 1.0);
}

TEST(process_pool_callbacks, a_blocked_callback_stalls_neither_the_pool_nor_other_callbacks) {
    fronta::process_pool pool(1);  // one worker: everything below waits behind the gate
    gate g;
    auto held = pool.submit(wait_at_gate, g.path());
    fronta::promise<void> released;
    fronta::promise<void> blocked_one_returned;
    auto first = pool.submit(square, 1.0);
    first.add_done_callback([&](const fronta::future<double>&) {
        released.get_future().wait();  // until the test has seen the pool work on
        blocked_one_returned.set_value();
    });
    fronta::promise<std::thread::id> other_callback;
    auto second = pool.submit(square, 2.0);
    second.add_done_callback([&](const fronta::future<double>&) { other_callback.set_value(std::this_thread::get_id()); });
    g.open();
    // While the first callback blocks: futures still complete, and other callbacks still run,
    // on a thread that is neither this one nor, obviously, the blocked one.
    EXPECT_EQ(get_or_die(pool.submit(square, 5.0), "a submit while a callback blocks"), 25.0);
    EXPECT_NE(get_or_die(other_callback.get_future(), "a callback while another blocks"), std::this_thread::get_id());
    released.set_value();
    get_or_die(blocked_one_returned.get_future(), "the blocked callback");
}

TEST(process_pool_callbacks, callbacks_of_a_future_run_in_order_before_shutdown_returns) {
    std::vector<int> order;
    std::set<std::thread::id> threads;
    {
        fronta::process_pool pool(1);
        gate g;
        auto held = pool.submit(wait_at_gate, g.path());
        auto f = pool.submit(square, 3.0);
        for (int i = 0; i < 50; ++i)
            f.add_done_callback([&order, &threads, i](const fronta::future<double>&) {
                order.push_back(i);
                threads.insert(std::this_thread::get_id());
            });
        g.open();
        pool.shutdown(true);  // waits for the callbacks too
        ASSERT_EQ(order.size(), 50u);
    }
    for (int i = 0; i < 50; ++i) EXPECT_EQ(order[i], i);
    EXPECT_EQ(threads.size(), 1u);
    EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
}

// Deleting the pool in its own callback destroyed the joinable dispatcher thread on itself.
TEST(process_pool_callbacks, pool_destroyed_from_its_own_callback) {
    for (const bool then : {false, true}) {
        auto* pool = new fronta::process_pool(1);
        const std::vector<int> pids = pool->worker_pids();
        gate g;
        auto held = pool->submit(wait_at_gate, g.path());
        auto f = pool->submit(square, 3.0);
        fronta::promise<double> destroyed;
        fronta::future<double> continuation;
        if (then) {
            continuation = f.then([pool](double v) {
                delete pool;
                return v;
            });
        } else {
            f.add_done_callback([&](const fronta::future<double>& done) {
                const double v = done.get() + pool->submit(square, 1.0).get();  // wait on it first
                delete pool;
                destroyed.set_value(v);
            });
        }
        g.open();
        if (then)
            EXPECT_EQ(get_or_die(continuation, "a continuation that deletes its pool"), 9.0);
        else
            EXPECT_EQ(get_or_die(destroyed.get_future(), "a callback that deletes its pool"), 10.0);
        EXPECT_EQ(held.get(), 1);
        for (int pid : pids)  // the workers were shut down and reaped
            EXPECT_TRUE(eventually([&] { return kill(pid, 0) != 0 && errno == ESRCH; })) << "worker " << pid;
    }
}

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // worker copies of this test binary stay in here
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
