// fronta::tracing and FRONTA_TRACE: every task once, with its worker, times, phases and outcome;
// pool events; the bad inputs (an unwritable path or a directory, a full disk, two traces at once,
// FRONTA_TRACE and FRONTA_TRACE_MAX_TASKS with odd values); 500 short-lived threads; a trace
// started with tasks queued; a client killed while tracing leaves what it recorded, and its report
// says so; the Chrome trace validates (tests/observe/trace_checker).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/resource.h>

#include <fronta/fronta.hpp>
#include <fronta/tracing.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <latch>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "child_client.hpp"
#include "observe/trace_checker.hpp"
#include "observe/trace_record.hpp"
#include "remote_functions.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using fronta::test::check_trace_file;
using fronta::test::trace_check;
using fronta::test::trace_summary;

namespace {

int traced_square(int x) {
    if (x % 7 == 3) throw std::runtime_error("no square for " + std::to_string(x));
    return x * x;
}
FRONTA_REMOTE(traced_square);

int traced_pid(int) { return static_cast<int>(getpid()); }
FRONTA_REMOTE(traced_pid);

std::string traced_echo(std::string s) { return s; }
FRONTA_REMOTE(traced_echo);

int die_once(std::string marker) {
    // The first run (no marker file yet) dies; the retry finds the file and answers.
    if (!fs::exists(marker)) {
        std::ofstream(marker) << "x";
        std::abort();
    }
    return 42;
}
FRONTA_REMOTE(die_once);

struct records {
    json header;
    std::vector<json> tasks, pools, workers, threads, events, counters, summaries;
    std::optional<json> end;
};

records read_records(const fs::path& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path.string());
    records r;
    std::string line;
    std::size_t number = 0;
    while (std::getline(in, line)) {
        ++number;
        json j = json::parse(line);  // a malformed line fails the test with the parser's message
        const std::string type = j.at("type");
        if (number == 1) {
            EXPECT_EQ(type, "header");
            r.header = j;
        } else if (type == "task") {
            r.tasks.push_back(j);
        } else if (type == "pool") {
            r.pools.push_back(j);
        } else if (type == "worker") {
            r.workers.push_back(j);
        } else if (type == "thread") {
            r.threads.push_back(j);
        } else if (type == "event") {
            r.events.push_back(j);
        } else if (type == "counter") {
            r.counters.push_back(j);
        } else if (type == "summary") {
            r.summaries.push_back(j);
        } else if (type == "end") {
            r.end = j;
        } else {
            ADD_FAILURE() << "unknown line type " << type << " at line " << number;
        }
    }
    return r;
}

class tracing_test : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("fronta_tracing_" + std::to_string(getpid()) + "_" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_;
};

// Checks the Chrome trace with the test suite's checker; returns its summary.
trace_summary expect_valid_trace(const fs::path& path) {
    const trace_check check = check_trace_file(path);
    for (const auto& problem : check.problems) ADD_FAILURE() << path << ": " << problem;
    return check.summary;
}

}  // namespace

TEST_F(tracing_test, every_thread_pool_task_is_recorded_once_with_its_worker_times_and_outcome) {
    const fs::path path = dir_ / "run.json";
    std::set<long> worker_tids;
    {
        fronta::tracing trace(path);
        fronta::thread_pool pool(2);
        std::vector<fronta::future<int>> futures;
        for (int i = 0; i < 200; ++i) futures.push_back(pool.submit(traced_square, i));
        for (auto& f : futures) f.wait();
        trace.close();
        EXPECT_EQ(trace.tasks(), 200u);
    }
    const records r = read_records(fronta::trace_records_path(path));
    EXPECT_EQ(r.header.at("fronta_trace"), 1);
    ASSERT_EQ(r.tasks.size(), 200u);
    ASSERT_TRUE(r.end.has_value());
    EXPECT_EQ(r.end->at("tasks"), 200);
    std::set<std::uint64_t> ids;
    std::size_t failed = 0;
    for (const json& t : r.tasks) {
        ids.insert(t.at("task").get<std::uint64_t>());
        EXPECT_EQ(t.at("fn"), "traced_square") << t;
        EXPECT_LE(t.at("submit").get<double>(), t.at("start").get<double>()) << t;
        EXPECT_LE(t.at("start").get<double>(), t.at("end").get<double>()) << t;
        EXPECT_NEAR(t.at("phases").at("run").get<double>(), t.at("end").get<double>() - t.at("start").get<double>(),
                    0.002);
        if (t.at("outcome") == "failed") {
            ++failed;
            EXPECT_NE(t.at("error").get<std::string>().find("no square for"), std::string::npos) << t;
        } else {
            EXPECT_EQ(t.at("outcome"), "ok") << t;
        }
    }
    EXPECT_EQ(ids.size(), 200u);
    EXPECT_EQ(failed, 29u);  // 3, 10, 17, ..., 199
    ASSERT_EQ(r.pools.size(), 1u);
    EXPECT_EQ(r.pools[0].at("executor"), "thread_pool");
    EXPECT_EQ(r.pools[0].at("settings").at("workers"), 2);
    for (const json& w : r.workers) {
        EXPECT_EQ(w.at("pid"), getpid());
        worker_tids.insert(w.at("tid").get<long>());
    }
    EXPECT_GE(worker_tids.size(), 1u);
    EXPECT_LE(worker_tids.size(), 3u);  // two workers, and a waiter that helped
    const trace_summary s = expect_valid_trace(path);
    EXPECT_EQ(s.tasks, 200u);
    EXPECT_EQ(s.flows, 200u);
    EXPECT_GT(s.counters, 0u);
}

TEST_F(tracing_test, map_chunks_are_named_after_their_function_and_cancelled_tasks_are_marked) {
    const fs::path path = dir_ / "map.json";
    {
        fronta::tracing trace(path);
        fronta::thread_pool pool(1);
        std::vector<int> inputs(100, 2);
        long sum = 0;
        for (int y : pool.map(traced_square, inputs, {.chunk_size = 10})) sum += y;
        EXPECT_EQ(sum, 400);
        // One worker held by a task that waits for a promise: what is queued behind it is cancelled.
        fronta::promise<void> release;
        auto gate = release.get_future();
        auto blocker = pool.submit([gate]() mutable { gate.get(); });
        std::vector<fronta::future<int>> queued;
        for (int i = 0; i < 5; ++i) queued.push_back(pool.submit(traced_square, i));
        for (auto& f : queued) EXPECT_TRUE(f.cancel());
        release.set_value();
        blocker.get();
        pool.shutdown();
    }
    const records r = read_records(fronta::trace_records_path(path));
    std::map<std::string, std::size_t> by_outcome;
    std::size_t chunks = 0;
    for (const json& t : r.tasks) {
        by_outcome[t.at("outcome")]++;
        if (t.at("fn") == "traced_square (map chunk)") ++chunks;
    }
    EXPECT_EQ(chunks, 10u);
    EXPECT_EQ(by_outcome["cancelled"], 5u);
    EXPECT_EQ(r.tasks.size(), 16u);
    for (const json& t : r.tasks)
        if (t.at("outcome") == "cancelled") {
            EXPECT_EQ(t.at("worker"), 0) << t;
            EXPECT_EQ(t.at("phases").at("run"), 0.0) << t;
        }
    const trace_summary s = expect_valid_trace(path);
    EXPECT_EQ(s.tasks, 11u);  // cancelled tasks never ran: no slice
}

TEST_F(tracing_test, process_pool_tasks_have_their_phases_bytes_worker_pids_and_errors) {
    const fs::path path = dir_ / "processes.json";
    std::set<int> pids_seen_by_tasks;
    {
        fronta::tracing trace(path);
        fronta::process_pool pool(2);
        std::vector<fronta::future<int>> futures;
        for (int i = 0; i < 100; ++i) futures.push_back(pool.submit(traced_pid, i));
        for (auto& f : futures) pids_seen_by_tasks.insert(f.get());
        EXPECT_EQ(pool.submit(traced_echo, std::string(100000, 'x')).get().size(), 100000u);
        EXPECT_THROW(pool.submit(traced_square, 3).get(), std::runtime_error);
    }
    const records r = read_records(fronta::trace_records_path(path));
    ASSERT_EQ(r.tasks.size(), 102u);
    std::map<std::uint64_t, long> worker_pid;
    for (const json& w : r.workers) worker_pid[w.at("worker")] = w.at("pid");
    std::set<int> pids_in_trace;
    for (const json& t : r.tasks) {
        const json& p = t.at("phases");
        const double total = p.at("serialize").get<double>() + p.at("queue").get<double>() +
                             p.at("transfer").get<double>() + p.at("run").get<double>() + p.at("reply").get<double>() +
                             p.at("deserialize").get<double>();
        EXPECT_GT(total, 0.0) << t;
        EXPECT_GT(t.at("bytes_out").get<std::uint64_t>(), 0u) << t;
        EXPECT_GT(t.at("bytes_in").get<std::uint64_t>(), 0u) << t;
        EXPECT_LE(t.at("submit").get<double>(), t.at("start").get<double>()) << t;
        ASSERT_TRUE(worker_pid.count(t.at("worker"))) << t;
        if (t.at("fn") == "traced_pid") pids_in_trace.insert(static_cast<int>(worker_pid[t.at("worker")]));
        if (t.at("fn") == "traced_echo") {
            EXPECT_GT(t.at("bytes_out").get<std::uint64_t>(), 100000u);
            EXPECT_GT(t.at("bytes_in").get<std::uint64_t>(), 100000u);
        }
        if (t.at("fn") == "traced_square") {
            EXPECT_EQ(t.at("outcome"), "failed");
            EXPECT_NE(t.at("error").get<std::string>().find("no square for 3"), std::string::npos) << t;
        }
    }
    EXPECT_EQ(pids_in_trace, pids_seen_by_tasks);  // the trace's worker is the process that ran it
    // Every worker that ran a task was seen starting (under load the second worker may still be
    // starting when the pool is done, and be stopped before it said hello).
    std::set<std::uint64_t> started, ran;
    for (const json& e : r.events)
        if (e.at("event") == "worker_started") started.insert(e.at("worker").get<std::uint64_t>());
    for (const json& t : r.tasks) ran.insert(t.at("worker").get<std::uint64_t>());
    for (std::uint64_t w : ran) EXPECT_TRUE(started.count(w)) << "worker " << w;
    EXPECT_LE(started.size(), 2u);
    const trace_summary s = expect_valid_trace(path);
    EXPECT_EQ(s.tasks, 102u);
}

TEST_F(tracing_test, a_worker_that_dies_is_an_event_and_the_retried_task_counts_its_retry) {
    const fs::path path = dir_ / "deaths.json";
    const std::string marker = (dir_ / "died-once").string();
    {
        fronta::tracing trace(path);
        fronta::process_pool pool(fronta::process_pool_options{.workers = 1, .retries = 1});
        EXPECT_EQ(pool.submit(die_once, marker).get(), 42);
    }
    const records r = read_records(fronta::trace_records_path(path));
    ASSERT_EQ(r.tasks.size(), 1u);
    EXPECT_EQ(r.tasks[0].at("retries"), 1);
    EXPECT_EQ(r.tasks[0].at("outcome"), "ok");
    std::map<std::string, std::size_t> events;
    for (const json& e : r.events) events[e.at("event")]++;
    EXPECT_EQ(events["worker_died"], 1u);
    EXPECT_EQ(events["worker_replaced"], 1u);
    EXPECT_EQ(events["worker_started"], 1u);
    expect_valid_trace(path);
}

TEST_F(tracing_test, a_task_past_its_timeout_is_marked_timeout_and_its_worker_killed) {
    const fs::path path = dir_ / "timeout.json";
    {
        fronta::tracing trace(path);
        fronta::process_pool pool(
            fronta::process_pool_options{.workers = 1, .task_timeout = std::chrono::milliseconds(300)});
        EXPECT_THROW(pool.submit(stuck).get(), fronta::timeout_error);
        EXPECT_EQ(pool.submit(quick, 1).get(), 2);  // a new worker took over
    }
    const records r = read_records(fronta::trace_records_path(path));
    ASSERT_EQ(r.tasks.size(), 2u);
    std::map<std::string, std::string> outcome;
    for (const json& t : r.tasks) outcome[t.at("fn")] = t.at("outcome");
    EXPECT_EQ(outcome["stuck"], "timeout");
    EXPECT_EQ(outcome["quick"], "ok");
    std::size_t died = 0, replaced = 0;
    for (const json& e : r.events) {
        if (e.at("event") == "worker_died") {
            ++died;
            EXPECT_NE(e.at("detail").get<std::string>().find("timeout"), std::string::npos) << e;
        }
        replaced += e.at("event") == "worker_replaced" ? 1 : 0;
    }
    EXPECT_EQ(died, 1u);
    EXPECT_EQ(replaced, 1u);
    const trace_summary s = expect_valid_trace(path);
    EXPECT_EQ(s.tasks, 2u);  // the killed run is a slice too: it ran until the kill
}

// A task was recorded after its future completed: a client that got the value and closed the
// trace at once could close it before the record was there (seen on mpi_pool: 59 of 60).
TEST_F(tracing_test, a_task_whose_future_is_done_is_in_a_trace_closed_right_after) {
    fronta::thread_pool threads(1);
    fronta::process_pool processes(1);
    for (int round = 0; round < 40; ++round) {
        fronta::tracing trace(dir_ / ("round" + std::to_string(round) + ".json"));
        EXPECT_EQ(threads.submit(traced_pid, round).get(), getpid());
        EXPECT_THROW(threads.submit(traced_square, 3).get(), std::runtime_error);
        EXPECT_GT(processes.submit(traced_pid, round).get(), 0);
        EXPECT_THROW(processes.submit(traced_square, 3).get(), std::runtime_error);
        EXPECT_EQ(trace.tasks(), 4u) << "round " << round;
        trace.close();
        EXPECT_EQ(trace.tasks(), 4u) << "round " << round;
    }
}

TEST_F(tracing_test, a_path_that_cannot_be_written_fails_at_construction_naming_it) {
    const fs::path path = dir_ / "no" / "such" / "dir" / "run.json";
    try {
        fronta::tracing trace(path);
        FAIL() << "no error";
    } catch (const std::system_error& e) {
        EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    }
    // Nothing records afterwards, and a new trace can start.
    fronta::tracing again(dir_ / "ok.json");
}

TEST_F(tracing_test, a_second_trace_at_once_is_refused_naming_the_first) {
    fronta::tracing first(dir_ / "first.json");
    try {
        fronta::tracing second(dir_ / "second.json");
        FAIL() << "no error";
    } catch (const std::logic_error& e) {
        EXPECT_NE(std::string(e.what()).find("first.json"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(dir_ / "second.json"));
}

TEST_F(tracing_test, max_tasks_writes_the_first_tasks_and_counts_the_rest_per_function) {
    const fs::path path = dir_ / "bounded.json";
    {
        fronta::tracing trace(fronta::tracing_options{.path = path, .max_tasks = 50});
        fronta::thread_pool pool(2);
        std::vector<fronta::future<int>> futures;
        for (int i = 0; i < 300; ++i) futures.push_back(pool.submit(traced_square, i));
        for (auto& f : futures) f.wait();
    }
    const records r = read_records(fronta::trace_records_path(path));
    EXPECT_EQ(r.tasks.size(), 50u);
    std::uint64_t counted = 0, failures = 0;
    for (const json& s : r.summaries) {
        counted += s.at("count").get<std::uint64_t>();
        failures += s.at("failures").get<std::uint64_t>();
        std::uint64_t in_hist = 0;
        for (const json& b : s.at("run_hist")) in_hist += b.get<std::uint64_t>();
        EXPECT_EQ(in_hist, s.at("count").get<std::uint64_t>());
    }
    EXPECT_EQ(counted, 250u);
    std::size_t failed_written = 0;
    for (const json& t : r.tasks) failed_written += t.at("outcome") == "failed" ? 1 : 0;
    EXPECT_EQ(failures + failed_written, 43u);  // 3, 10, ..., 297
    ASSERT_TRUE(r.end.has_value());
    EXPECT_EQ(r.end->at("tasks"), 300);
    EXPECT_EQ(r.end->at("written"), 50);
}

// ---- hostile conditions: unwritable and full paths, many short-lived threads, a trace started late --

TEST_F(tracing_test, a_trace_path_that_is_a_directory_fails_at_construction_naming_it) {
    const fs::path path = dir_ / "a_directory.json";
    fs::create_directories(path);
    try {
        fronta::tracing trace(path);
        FAIL() << "no error";
    } catch (const std::system_error& e) {
        EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    }
    EXPECT_TRUE(fs::is_directory(path));
    fronta::tracing again(dir_ / "ok.json");  // the failed one left nothing recording
}

namespace {
// A trace whose two files are /dev/full (every flush fails with ENOSPC), by symbolic links, so the
// records file does not land in /dev.
fs::path full_disk_trace(const fs::path& dir) {
    const fs::path path = dir / "full.json";
    fs::create_symlink("/dev/full", path);
    fs::create_symlink("/dev/full", fronta::trace_records_path(path));
    return path;
}
}  // namespace

TEST_F(tracing_test, a_trace_on_a_full_disk_fails_at_construction_naming_the_path) {
    const fs::path path = full_disk_trace(dir_);
    fronta::thread_pool pool(2);
    try {
        fronta::tracing trace(path);
        FAIL() << "no error";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), ENOSPC) << e.what();
        EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    }
    // Nothing records: the pool runs untraced, and a new trace can start.
    EXPECT_EQ(pool.submit(traced_pid, 1).get(), getpid());
    fronta::tracing again(dir_ / "ok.json");
}

namespace {
// A trace whose files may not grow past 64 KiB (RLIMIT_FSIZE, SIGXFSZ ignored: writes fail with
// EFBIG): the header goes out, the tasks do not. flush() throws; the destructor says so and exits.
int scenario_trace_outgrows_its_file(const std::string&) {
    signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{64 << 10, 64 << 10};
    setrlimit(RLIMIT_FSIZE, &limit);
    fronta::thread_pool pool(2);
    {
        fronta::tracing trace(std::getenv("FRONTA_TEST_TRACE_PATH"));
        for (int i = 0; i < 2000; ++i) pool.submit(traced_pid, i).get();
        try {
            trace.flush();
            std::printf("flush did not throw\n");
        } catch (const std::system_error& e) {
            std::printf("flush threw: %s\n", e.what());
        }
    }  // the destructor: no exception, no crash, a line on stderr
    std::printf("%s\n", pool.submit(traced_pid, 1).get() == getpid() ? "still running" : "wrong");
    return 0;
}
const scenario_registration trace_outgrows_its_file{"trace_outgrows_its_file", scenario_trace_outgrows_its_file};
}  // namespace

TEST_F(tracing_test, a_write_that_fails_later_throws_from_flush_and_the_destructor_only_says_so) {
    const fs::path path = dir_ / "big.json";
    child_setup setup;
    setup.env = {"FRONTA_TEST_TRACE_PATH=" + path.string()};
    setup.stderr_too = true;
    child_process c = start_child({"/proc/self/exe", "--scenario=trace_outgrows_its_file"}, setup);
    end_client_on_exit guard{c};
    ASSERT_TRUE(read_until(
        c, [](const std::string& out) { return out.find("still running") != std::string::npos; },
        std::chrono::seconds(120)))
        << c.output;
    EXPECT_EQ(exit_code(wait_for_child(c, std::chrono::seconds(60))), 0) << c.output;
    EXPECT_NE(c.output.find("flush threw: fronta::tracing: writing " + path.string()), std::string::npos) << c.output;
    EXPECT_NE(c.output.find("writing " + path.string() + " failed"), std::string::npos) << c.output;
}

namespace {
// What the recorder holds: one buffer per thread that recorded and has not been drained since it
// ended (observe/trace_record.hpp; the writer frees those of ended threads when it drains).
std::size_t thread_buffers() {
    auto& c = fronta::trace_impl::the_collector();
    std::lock_guard lock(c.mutex);
    return c.buffers.size();
}
}  // namespace

TEST_F(tracing_test, tasks_of_many_short_lived_threads_are_recorded_once_and_their_buffers_freed) {
    const fs::path path = dir_ / "threads.json";
    constexpr int threads = 500, at_once = 25;
    fronta::thread_pool pool(2);
    fronta::inline_executor here;
    {
        fronta::tracing trace(path);
        // Every long-lived thread that records (both workers, this one) has its buffer before the
        // count is taken: two tasks that wait for each other run on both workers.
        std::latch both(2);
        auto meet = [&both](int x) {
            both.arrive_and_wait();
            return x;
        };
        auto first = pool.submit(meet, 1), second = pool.submit(meet, 2);
        EXPECT_EQ(first.get() + second.get(), 3);
        for (int i = 0; i < 6; ++i) EXPECT_EQ(pool.submit(traced_pid, i).get(), getpid());
        EXPECT_EQ(here.submit(traced_pid, 0).get(), getpid());
        EXPECT_EQ(trace.tasks(), 9u);
        const std::size_t before = thread_buffers();

        std::atomic<int> answers{0};
        for (int wave = 0; wave < threads / at_once; ++wave) {
            std::vector<std::thread> group;
            for (int i = 0; i < at_once; ++i)
                group.emplace_back([&, n = wave * at_once + i] {
                    if (pool.submit(traced_square, 7 * n + 1).get() == (7 * n + 1) * (7 * n + 1)) ++answers;
                    if (here.submit(traced_square, 7 * n + 2).get() == (7 * n + 2) * (7 * n + 2)) ++answers;
                });
            for (auto& t : group) t.join();
        }
        EXPECT_EQ(answers.load(), 2 * threads);
        EXPECT_EQ(trace.tasks(), 9u + 2 * threads);  // drains: the ended threads' buffers go
        EXPECT_EQ(thread_buffers(), before);
    }
    const records r = read_records(fronta::trace_records_path(path));
    ASSERT_EQ(r.tasks.size(), 9u + 2 * threads);
    std::map<int, std::string> executor_of;
    for (const json& p : r.pools) executor_of[p.at("pool")] = p.at("executor");
    // Each short-lived thread submitted one task to each executor, and the inline one ran on it.
    std::map<std::uint64_t, std::map<std::string, int>> by_submitter;
    std::set<std::uint64_t> ids;
    for (const json& t : r.tasks) {
        EXPECT_TRUE(ids.insert(t.at("task").get<std::uint64_t>()).second) << t;
        if (t.at("fn") != "traced_square") continue;
        EXPECT_EQ(t.at("outcome"), "ok") << t;
        const std::string executor = executor_of[t.at("pool")];
        by_submitter[t.at("submitter")][executor]++;
        if (executor == "inline_executor") {
            EXPECT_EQ(t.at("worker"), t.at("submitter")) << t;
        }
    }
    EXPECT_EQ(by_submitter.size(), std::size_t{threads});
    for (const auto& [submitter, counts] : by_submitter)
        EXPECT_EQ(counts, (std::map<std::string, int>{{"inline_executor", 1}, {"thread_pool", 1}}))
            << "thread " << submitter;
    const trace_summary s = expect_valid_trace(path);
    EXPECT_EQ(s.tasks, 9u + 2 * threads);
}

namespace {
int traced_late(int x) { return x + 1; }
FRONTA_REMOTE(traced_late);
}  // namespace

TEST_F(tracing_test, a_trace_started_with_tasks_queued_has_only_the_tasks_submitted_while_it_records) {
    const fs::path path = dir_ / "late.json";
    fronta::thread_pool pool(1);
    // Before the trace: the worker held, tasks queued behind it, some of them stamped by an earlier
    // trace that ended while they waited. (A std::future: the pool would start a thread in place of
    // a worker blocked in fronta's get, and the queue would drain.)
    std::promise<void> release;
    std::shared_future<void> gate = release.get_future().share();
    auto blocker = pool.submit([gate] { gate.get(); });
    std::vector<fronta::future<int>> before, during;
    for (int i = 0; i < 10; ++i) before.push_back(pool.submit(traced_square, 2));
    {
        fronta::tracing earlier(dir_ / "earlier.json");
        for (int i = 0; i < 10; ++i) before.push_back(pool.submit(traced_square, 2));
    }
    {
        fronta::tracing trace(path);
        for (int i = 0; i < 10; ++i) during.push_back(pool.submit(traced_late, i));
        release.set_value();
        blocker.get();
        for (auto& f : before) EXPECT_EQ(f.get(), 4);
        for (int i = 0; i < 10; ++i) EXPECT_EQ(during[i].get(), i + 1);
        EXPECT_EQ(trace.tasks(), 10u);
    }
    const records r = read_records(fronta::trace_records_path(path));
    ASSERT_EQ(r.tasks.size(), 10u);
    for (const json& t : r.tasks) {
        EXPECT_EQ(t.at("fn"), "traced_late") << t;
        EXPECT_GE(t.at("submit").get<double>(), 0.0) << t;
        EXPECT_GE(t.at("start").get<double>(), t.at("submit").get<double>()) << t;
        EXPECT_GE(t.at("end").get<double>(), t.at("start").get<double>()) << t;
        for (const auto& [phase, us] : t.at("phases").items()) EXPECT_GE(us.get<double>(), 0.0) << phase << t;
    }
    ASSERT_EQ(r.pools.size(), 1u);
    EXPECT_EQ(r.pools[0].at("executor"), "thread_pool");
    for (const json& c : r.counters) EXPECT_GE(c.at("time").get<double>(), 0.0) << c;
    const trace_check check = check_trace_file(path, {.require_names = true});
    for (const auto& problem : check.problems) ADD_FAILURE() << problem;
    EXPECT_EQ(check.summary.tasks, 10u);
}

TEST_F(tracing_test, write_report_after_failures_on_a_process_pool_names_the_failure) {
    const fs::path path = dir_ / "failures.json", html = dir_ / "failures.html";
    {
        fronta::process_pool pool(2);
        fronta::tracing trace(path);
        std::vector<fronta::future<int>> futures;
        for (int i = 0; i < 20; ++i) futures.push_back(pool.submit(traced_square, i));
        int failed = 0;
        for (auto& f : futures) try {
                f.get();
            } catch (const std::runtime_error&) {
                ++failed;
            }
        EXPECT_EQ(failed, 3);  // 3, 10, 17
        trace.write_report(html);
    }
    ASSERT_TRUE(fs::exists(html));
    std::ifstream in(html);
    const std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(page.find("no square for 10"), std::string::npos);
    EXPECT_NE(page.find("traced_square"), std::string::npos);
}

// ---- FRONTA_TRACE, and a client killed while tracing, in child processes ----------------------------

namespace {

// A program that knows nothing of tracing: a thread pool and a process pool.
int scenario_untraced_program(const std::string&) {
    fronta::thread_pool threads(2);
    fronta::process_pool processes(2);
    long sum = 0;
    for (int i = 0; i < 40; ++i) sum += threads.submit(traced_pid, i).get() > 0 ? 1 : 0;
    for (int i = 0; i < 40; ++i) sum += processes.submit(traced_pid, i).get() > 0 ? 1 : 0;
    std::printf("done %ld\n", sum);
    return 0;
}
const scenario_registration untraced_program{"untraced_program", scenario_untraced_program};

// Traces with a short flush interval, says how many tasks completed, then hangs until killed.
int scenario_killed_while_tracing(const std::string&) {
    fronta::tracing trace(fronta::tracing_options{.path = std::getenv("FRONTA_TEST_TRACE_PATH"),
                                                  .flush_interval = std::chrono::milliseconds(20)});
    fronta::thread_pool pool(2);
    std::vector<fronta::future<int>> futures;
    for (int i = 0; i < 30; ++i) futures.push_back(pool.submit(traced_pid, i));
    for (auto& f : futures) f.wait();
    std::printf("completed 30\n");
    std::fflush(stdout);
    hang_forever();
    return 0;
}
const scenario_registration killed_while_tracing{"killed_while_tracing", scenario_killed_while_tracing};

// The untraced program, run in FRONTA_TEST_DIR: a trace written by mistake would land there.
int scenario_untraced_program_in_test_dir(const std::string& arg) {
    if (chdir(std::getenv("FRONTA_TEST_DIR")) != 0) return 3;
    return scenario_untraced_program(arg);
}
const scenario_registration untraced_program_in_test_dir{"untraced_program_in_test_dir",
                                                         scenario_untraced_program_in_test_dir};

template <class Predicate>
bool eventually(Predicate&& predicate, std::chrono::seconds limit) {
    const auto give_up = std::chrono::steady_clock::now() + limit;
    while (!predicate()) {
        if (std::chrono::steady_clock::now() > give_up) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polls a file, orders nothing
    }
    return true;
}

std::size_t task_lines(const fs::path& path) {
    std::ifstream in(path);
    std::size_t n = 0;
    std::string line;
    while (std::getline(in, line)) n += line.find("\"type\":\"task\"") != std::string::npos ? 1 : 0;
    return n;
}

}  // namespace

TEST_F(tracing_test, fronta_trace_traces_a_whole_program_and_its_workers_do_not_write_their_own) {
    const fs::path path = dir_ / "env.json";
    child_setup setup;
    setup.env = {"FRONTA_TRACE=" + path.string()};
    child_process c = start_child({"/proc/self/exe", "--scenario=untraced_program"}, setup);
    end_client_on_exit guard{c};
    ASSERT_TRUE(read_until(
        c, [](const std::string& out) { return out.find("done 80") != std::string::npos; }, std::chrono::seconds(120)))
        << c.output;
    EXPECT_EQ(exit_code(wait_for_child(c, std::chrono::seconds(60))), 0) << c.output;
    const records r = read_records(fronta::trace_records_path(path));
    EXPECT_EQ(r.tasks.size(), 80u);
    ASSERT_TRUE(r.end.has_value());
    EXPECT_EQ(r.header.at("settings").at("FRONTA_TRACE"), path.string());
    std::set<std::string> executors;
    for (const json& p : r.pools) executors.insert(p.at("executor"));
    EXPECT_EQ(executors, (std::set<std::string>{"thread_pool", "process_pool"}));
    const trace_summary s = expect_valid_trace(path);
    EXPECT_EQ(s.tasks, 80u);
}

TEST_F(tracing_test, fronta_trace_with_an_unwritable_path_says_so_and_the_program_runs) {
    child_setup setup;
    setup.env = {"FRONTA_TRACE=" + (dir_ / "missing" / "env.json").string()};
    setup.stderr_too = true;
    child_process c = start_child({"/proc/self/exe", "--scenario=untraced_program"}, setup);
    end_client_on_exit guard{c};
    ASSERT_TRUE(read_until(
        c, [](const std::string& out) { return out.find("done 80") != std::string::npos; }, std::chrono::seconds(120)))
        << c.output;
    EXPECT_EQ(exit_code(wait_for_child(c, std::chrono::seconds(60))), 0) << c.output;
    EXPECT_NE(c.output.find("FRONTA_TRACE="), std::string::npos) << c.output;
    EXPECT_NE(c.output.find("not tracing"), std::string::npos) << c.output;
}

TEST_F(tracing_test, a_client_killed_while_tracing_leaves_what_it_recorded_on_disk) {
    const fs::path path = dir_ / "killed.json";
    child_setup setup;
    setup.env = {"FRONTA_TEST_TRACE_PATH=" + path.string()};
    child_process c = start_child({"/proc/self/exe", "--scenario=killed_while_tracing"}, setup);
    end_client_on_exit guard{c};
    ASSERT_TRUE(read_until(
        c, [](const std::string& out) { return out.find("completed 30") != std::string::npos; },
        std::chrono::seconds(120)))
        << c.output;
    // The writer flushes every 20 ms: the 30 tasks reach the disk with no help from the client.
    const fs::path lines = fronta::trace_records_path(path);
    EXPECT_TRUE(eventually([&] { return task_lines(lines) == 30; }, std::chrono::seconds(30)));
    kill(c.pid, SIGKILL);
    EXPECT_EQ(wait_for_child(c, std::chrono::seconds(60)) & 0x7f, SIGKILL);
    const records r = read_records(lines);
    EXPECT_EQ(r.tasks.size(), 30u);
    EXPECT_FALSE(r.end.has_value());
    const trace_check check = check_trace_file(path);  // no closing bracket: allowed, noted
    EXPECT_TRUE(check.problems.empty()) << check.problems.front();
    EXPECT_EQ(check.summary.tasks, 30u);
}

namespace {
// Runs the untraced program in a child with `env` (stderr with stdout) to its end; its output.
std::string run_untraced_program(const std::vector<std::string>& env) {
    child_setup setup;
    setup.env = env;
    setup.stderr_too = true;
    child_process c = start_child({"/proc/self/exe", "--scenario=untraced_program_in_test_dir"}, setup);
    end_client_on_exit guard{c};
    EXPECT_EQ(exit_code(finish_child(c, std::chrono::seconds(120), std::chrono::seconds(60))), 0) << c.output;
    EXPECT_NE(c.output.find("done 80"), std::string::npos) << c.output;
    return c.output;
}
}  // namespace

TEST_F(tracing_test, fronta_trace_on_a_full_disk_says_it_is_not_tracing_and_the_program_exits_0) {
    const fs::path path = full_disk_trace(dir_);
    const std::string said =
        run_untraced_program({"FRONTA_TRACE=" + path.string(), "FRONTA_TEST_DIR=" + dir_.string()});
    EXPECT_NE(said.find("FRONTA_TRACE=" + path.string() + ": fronta::tracing: cannot write the trace file"),
              std::string::npos)
        << said;
    EXPECT_NE(said.find("not tracing"), std::string::npos) << said;
}

TEST_F(tracing_test, fronta_trace_empty_or_0_writes_no_trace_and_the_program_runs) {
    for (const std::string value : {"", "0"}) {
        const std::string said = run_untraced_program({"FRONTA_TRACE=" + value, "FRONTA_TEST_DIR=" + dir_.string()});
        EXPECT_EQ(said.find("fronta:"), std::string::npos) << said;
        EXPECT_TRUE(fs::is_empty(dir_)) << "FRONTA_TRACE=" << value << " wrote "
                                        << fs::directory_iterator(dir_)->path();
    }
}

TEST_F(tracing_test, fronta_trace_max_tasks_that_is_not_a_number_is_said_and_the_trace_has_no_bound) {
    for (const std::string value : {"garbage", "-5", "10k"}) {
        const fs::path path = dir_ / ("bound_" + value + ".json");
        const std::string said = run_untraced_program(
            {"FRONTA_TRACE=" + path.string(), "FRONTA_TRACE_MAX_TASKS=" + value, "FRONTA_TEST_DIR=" + dir_.string()});
        EXPECT_NE(said.find("FRONTA_TRACE_MAX_TASKS=" + value + " is not a number of tasks"), std::string::npos)
            << said;
        const records r = read_records(fronta::trace_records_path(path));
        EXPECT_EQ(r.tasks.size(), 80u) << value;
        EXPECT_EQ(r.header.at("settings").at("max_tasks"), 0) << value;
        ASSERT_TRUE(r.end.has_value());
    }
    // A number is the bound, and says nothing.
    const fs::path path = dir_ / "bound_10.json";
    const std::string said = run_untraced_program(
        {"FRONTA_TRACE=" + path.string(), "FRONTA_TRACE_MAX_TASKS=10", "FRONTA_TEST_DIR=" + dir_.string()});
    EXPECT_EQ(said.find("fronta:"), std::string::npos) << said;
    const records r = read_records(fronta::trace_records_path(path));
    EXPECT_EQ(r.tasks.size(), 10u);
    ASSERT_TRUE(r.end.has_value());
    EXPECT_EQ(r.end->at("tasks"), 80);
}

TEST_F(tracing_test, fronta_report_on_a_killed_run_writes_a_page_saying_the_run_did_not_finish) {
    const fs::path path = dir_ / "killed.json", html = dir_ / "killed.html";
    {
        child_setup setup;
        setup.env = {"FRONTA_TEST_TRACE_PATH=" + path.string()};
        child_process c = start_child({"/proc/self/exe", "--scenario=killed_while_tracing"}, setup);
        end_client_on_exit guard{c};
        ASSERT_TRUE(read_until(
            c, [](const std::string& out) { return out.find("completed 30") != std::string::npos; },
            std::chrono::seconds(120)))
            << c.output;
        EXPECT_TRUE(
            eventually([&] { return task_lines(fronta::trace_records_path(path)) == 30; }, std::chrono::seconds(30)));
        kill(c.pid, SIGKILL);
        EXPECT_EQ(wait_for_child(c, std::chrono::seconds(60)) & 0x7f, SIGKILL);
    }
    child_setup setup;
    setup.stderr_too = true;
    child_process report = start_child({FRONTA_REPORT_PROGRAM, path.string(), "-o", html.string()}, setup);
    end_client_on_exit guard{report};
    EXPECT_EQ(exit_code(finish_child(report, std::chrono::seconds(60), std::chrono::seconds(60))), 0) << report.output;
    ASSERT_TRUE(fs::exists(html)) << report.output;
    std::ifstream in(html);
    const std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(page.find("This run did not finish."), std::string::npos);
}

int main(int argc, char** argv) {
    fronta::init(argc, argv);
    if (auto name = scenario_asked(argc, argv)) return run_scenario(*name);
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
