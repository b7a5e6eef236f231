// map_options::journal: a client killed in the middle of a map, run again, yields every result
// exactly once, equal to an uninterrupted run, and does not compute again what the journal holds.
// Clients run as child processes (child_client.hpp); the parent kills one with SIGKILL once it has
// reported K results through its stdout, and reads which inputs ran from a side file that the
// mapped function appends to (one line per execution, tagged with the run).
#include <array>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <numeric>

#include "child_client.hpp"
#include "fronta/detail/typed_map_journal.hpp"
#include "fronta/executor.hpp"
#include "fronta/inline_executor.hpp"
#include "fronta/map_reduce.hpp"
#include "fronta/thread_pool.hpp"

namespace fs = std::filesystem;

// Appends "<run> <x>" to the side file named by FRONTA_JOURNAL_SIDE, then returns x*x + 1. In
// run 1, input FRONTA_JOURNAL_BLOCK_AT says "reached" on stdout and waits for stdin to close.
int square_logged(int x) {
    const char* side = std::getenv("FRONTA_JOURNAL_SIDE");
    const char* run = std::getenv("FRONTA_JOURNAL_RUN");
    const char* block_at = std::getenv("FRONTA_JOURNAL_BLOCK_AT");
    if (block_at != nullptr && run != nullptr && std::string(run) == "1" && x == std::atoi(block_at)) {
        const char reached[] = "reached\n";
        if (write(1, reached, sizeof reached - 1) < 0) throw std::runtime_error("cannot write to stdout");
        char byte;
        while (read(0, &byte, 1) != 0) {
        }
    }
    if (side != nullptr) {
        const std::string line = std::string(run != nullptr ? run : "0") + ' ' + std::to_string(x) + '\n';
        const int fd = open(side, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
            throw std::runtime_error("cannot append to the side file");
        close(fd);
    }
    return x * x + 1;
}
FRONTA_REMOTE(square_logged);

int cube(int x) { return x * x * x; }
FRONTA_REMOTE(cube);

// In this process only: counts its executions per input, and throws for `failing_input`.
std::atomic<int> failing_input{-1};
std::array<std::atomic<int>, 64> executions{};
int fails_at(int x) {
    executions[static_cast<std::size_t>(x)].fetch_add(1);
    if (x == failing_input.load()) throw std::runtime_error("failing on purpose");
    return -x;
}
FRONTA_REMOTE(fails_at);

// In this process only: input 5 waits until the gate opens.
std::mutex gate_mutex;
std::condition_variable gate_opened;
bool gate_open = false;
bool gate_reached = false;
int gated(int x) {
    if (x == 5) {
        std::unique_lock lock(gate_mutex);
        gate_reached = true;
        gate_opened.notify_all();
        gate_opened.wait(lock, [] { return gate_open; });
    }
    return x + 1000;
}
FRONTA_REMOTE(gated);

namespace {

constexpr int input_count = 60;
constexpr std::size_t chunk = 3;
constexpr std::size_t chunk_count = input_count / chunk;

std::vector<int> inputs(int offset = 0) {
    std::vector<int> out(input_count);
    for (int i = 0; i < input_count; ++i) out[static_cast<std::size_t>(i)] = i + offset;
    return out;
}

fronta::map_options options(const std::string& journal) {
    return {.chunk_size = chunk, .max_in_flight = 4, .journal = journal};
}

// ---- the client ---------------------------------------------------------------------------------

// Maps square_logged over inputs() with the journal FRONTA_JOURNAL_PATH, on FRONTA_JOURNAL_EXECUTOR
// (threads: fronta::executor over a thread_pool; processes: a process_pool), as FRONTA_JOURNAL_KIND
// (map, map_unordered, map_reduce with std::plus). Prints "result y" per result (map_reduce: its
// one result); after FRONTA_JOURNAL_STOP results it prints "stopped" and waits to be killed; at
// the end "done".
template <class Executor>
int run_client(Executor& ex, const std::string& kind, const std::string& path, long stop) {
    long seen = 0;
    const auto report = [&](int y) {
        std::printf("result %d\n", y);
        std::fflush(stdout);
        if (++seen == stop) {
            std::printf("stopped\n");
            std::fflush(stdout);
            for (;;) pause();
        }
    };
    try {
        if (kind == "map_reduce")
            report(static_cast<int>(
                fronta::map_reduce(ex, square_logged, inputs(), std::plus<long>(), 0L, options(path))));
        else if (kind == "map_unordered")
            for (int y : ex.map_unordered(square_logged, inputs(), options(path))) report(y);
        else
            for (int y : ex.map(square_logged, inputs(), options(path))) report(y);
    } catch (const std::exception& e) {
        std::printf("error %s\n", e.what());
        return 1;
    }
    std::printf("done\n");
    return 0;
}

// A process_pool itself (remote_executor_base), or fronta::executor over a thread_pool.
int scenario_journal_client(const std::string&) {
    const std::string path = std::getenv("FRONTA_JOURNAL_PATH");
    const std::string kind = std::getenv("FRONTA_JOURNAL_KIND");
    const long stop = std::strtol(std::getenv("FRONTA_JOURNAL_STOP"), nullptr, 10);
    if (std::string(std::getenv("FRONTA_JOURNAL_EXECUTOR")) == "processes") {
        fronta::process_pool pool(2);
        return run_client(pool, kind, path, stop);
    }
    fronta::executor ex(fronta::thread_pool(2));
    return run_client(ex, kind, path, stop);
}
const scenario_registration journal_client{"journal_client", scenario_journal_client};

// ---- the test's side ----------------------------------------------------------------------------

class map_journal_resume : public ::testing::TestWithParam<std::tuple<const char*, const char*>> {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("fronta_journal_resume_" + std::to_string(getpid()) + "_" + std::to_string(counter_++));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        journal_ = dir_ / "journal";
        side_ = dir_ / "executions";
    }
    void TearDown() override { fs::remove_all(dir_); }

    const char* executor() const { return std::get<0>(GetParam()); }
    const char* kind() const { return std::get<1>(GetParam()); }

    bool reduces() const { return std::string(kind()) == "map_reduce"; }

    child_process start(int run, long stop) const {
        child_setup setup;
        setup.env = {"FRONTA_JOURNAL_PATH=" + journal_.string(),
                     "FRONTA_JOURNAL_SIDE=" + side_.string(),
                     "FRONTA_JOURNAL_RUN=" + std::to_string(run),
                     std::string("FRONTA_JOURNAL_EXECUTOR=") + executor(),
                     std::string("FRONTA_JOURNAL_KIND=") + kind(),
                     "FRONTA_JOURNAL_STOP=" + std::to_string(stop),
                     "FRONTA_JOURNAL_BLOCK_AT=36"};
        return start_child({"/proc/self/exe", "--scenario=journal_client"}, setup);
    }

    // Runs a client to its end; its results, in the order it printed them.
    std::vector<int> run_to_end(int run) const {
        child_process c = start(run, -1);
        end_client_on_exit guard{c};
        const bool done = read_until(
            c,
            [](const std::string& out) {
                return out.find("done\n") != std::string::npos || out.find("error") != std::string::npos;
            },
            std::chrono::seconds(120));
        EXPECT_TRUE(done) << c.output;
        EXPECT_EQ(exit_code(wait_for_child(c, std::chrono::seconds(60))), 0) << c.output;
        return results_in(c.output);
    }

    // Runs a client until it reported `stop` results (map_reduce: until input 36, in chunk 12,
    // runs and waits), then kills it with SIGKILL.
    void run_and_kill(int run, long stop) const {
        child_process c = start(run, stop);
        end_client_on_exit guard{c};
        const std::string signal = reduces() ? "reached\n" : "stopped\n";
        ASSERT_TRUE(read_until(
            c, [&](const std::string& out) { return out.find(signal) != std::string::npos; },
            std::chrono::seconds(120)))
            << c.output;
        kill(c.pid, SIGKILL);
        EXPECT_EQ(wait_for_child(c, std::chrono::seconds(60)) & 0x7f, SIGKILL);
        EXPECT_EQ(results_in(c.output).size(), reduces() ? 0 : static_cast<std::size_t>(stop));
    }

    static std::vector<int> results_in(const std::string& output) {
        std::vector<int> out;
        std::istringstream lines(output);
        for (std::string line; std::getline(lines, line);)
            if (line.rfind("result ", 0) == 0) out.push_back(std::stoi(line.substr(7)));
        return out;
    }

    // The inputs that run `run` executed, with repetitions.
    std::multiset<int> executed_in(int run) const {
        std::multiset<int> out;
        std::ifstream in(side_);
        int tag = 0, x = 0;
        while (in >> tag >> x)
            if (tag == run) out.insert(x);
        return out;
    }

    // The chunks the journal holds (opened as the client opens it: the same identity).
    std::vector<std::uint64_t> journaled(const fs::path& path) const {
        if (reduces()) {
            using journal = fronta::detail::typed_map_journal<int, std::vector<long>>;
            auto opened =
                fronta::detail::open_map_journal<int, std::vector<long>>(path, fronta::detail::journal_kind::map_reduce,
                                                                         chunk, &square_logged, std::plus<long>());
            return std::dynamic_pointer_cast<journal>(opened)->file().chunks();
        }
        const auto journal_kind = std::string(kind()) == "map_unordered" ? fronta::detail::journal_kind::map_unordered
                                                                         : fronta::detail::journal_kind::map;
        using journal = fronta::detail::typed_map_journal<int, std::vector<int>>;
        auto opened =
            fronta::detail::open_map_journal<int, std::vector<int>>(path, journal_kind, chunk, &square_logged);
        return std::dynamic_pointer_cast<journal>(opened)->file().chunks();
    }

    std::vector<int> expected() const {
        std::vector<int> out;
        for (int x : inputs()) out.push_back(x * x + 1);
        if (reduces()) return {std::accumulate(out.begin(), out.end(), 0)};
        return out;
    }
    std::vector<int> as_ordered(std::vector<int> results) const {
        if (std::string(kind()) == "map_unordered") std::sort(results.begin(), results.end());
        return results;
    }
    static std::multiset<int> inputs_of_chunks_not_in(const std::vector<std::uint64_t>& chunks) {
        std::multiset<int> out;
        for (std::uint64_t c = 0; c < chunk_count; ++c)
            if (std::find(chunks.begin(), chunks.end(), c) == chunks.end())
                for (std::size_t i = 0; i < chunk; ++i) out.insert(static_cast<int>(c * chunk + i));
        return out;
    }

    static inline int counter_ = 0;
    fs::path dir_, journal_, side_;
};

TEST_P(map_journal_resume, a_killed_map_resumes_computing_only_what_the_journal_lacks) {
    run_and_kill(1, 12);
    const auto held = journaled(journal_);
    // What was consumed was journaled first; the window (4 chunks) keeps the rest from running
    // (map_reduce: chunk 12 never finished, and chunks 0 to 8 were consumed before it was sent).
    EXPECT_GE(held.size(), reduces() ? 9 : 12 / chunk);
    EXPECT_LT(held.size(), chunk_count);
    if (reduces()) {
        EXPECT_EQ(std::count(held.begin(), held.end(), 12u), 0);
    }

    const auto results = run_to_end(2);
    EXPECT_EQ(as_ordered(results), expected());  // each result once, as an uninterrupted run
    EXPECT_EQ(executed_in(2), inputs_of_chunks_not_in(held));

    EXPECT_EQ(as_ordered(run_to_end(3)), expected());  // a complete journal replays
    EXPECT_TRUE(executed_in(3).empty());
}

TEST_P(map_journal_resume, a_torn_last_record_is_ignored) {
    run_and_kill(1, 12);
    const auto whole = journaled(journal_);
    fs::resize_file(journal_, fs::file_size(journal_) - 5);  // as if killed while writing its last record
    const fs::path copy = dir_ / "copy";
    fs::copy_file(journal_, copy);
    const auto held = journaled(copy);  // opening the copy cuts its torn record off
    EXPECT_EQ(held.size() + 1, whole.size());

    EXPECT_EQ(as_ordered(run_to_end(2)), expected());
    EXPECT_EQ(executed_in(2), inputs_of_chunks_not_in(held));
    EXPECT_EQ(journaled(journal_).size(), chunk_count);
}

INSTANTIATE_TEST_SUITE_P(executors, map_journal_resume,
                         ::testing::Combine(::testing::Values("threads", "processes"),
                                            ::testing::Values("map", "map_unordered", "map_reduce")),
                         [](const auto& info) {
                             return std::string(std::get<0>(info.param)) + "_" + std::get<1>(info.param);
                         });

// ---- in this process: refusals, failures, several ranges --------------------------------------

class map_journal_in_process : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("fronta_journal_in_process_" + std::to_string(getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        journal_ = dir_ / "journal";
    }
    void TearDown() override { fs::remove_all(dir_); }

    template <class F>
    static std::string refusal(F&& map_call) {
        try {
            map_call();
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "(not refused)";
    }
    fs::path dir_, journal_;
};

TEST_F(map_journal_in_process, a_journal_from_other_inputs_or_another_function_is_refused) {
    fronta::executor ex(fronta::thread_pool(2));
    std::vector<int> squares;
    for (int y : ex.map(cube, inputs(), options(journal_))) squares.push_back(y);
    ASSERT_EQ(squares.size(), static_cast<std::size_t>(input_count));
    const auto before = fs::file_size(journal_);

    std::string message = refusal([&] {
        for (int y : ex.map(cube, inputs(1), options(journal_))) (void)y;
    });
    EXPECT_NE(message.find("different inputs"), std::string::npos) << message;
    message = refusal([&] {
        for (int y : ex.map(square_logged, inputs(), options(journal_))) (void)y;
    });
    EXPECT_NE(message.find("cube"), std::string::npos) << message;
    EXPECT_NE(message.find("square_logged"), std::string::npos) << message;
    message = refusal([&] {
        for (int y : ex.map_unordered(cube, inputs(), options(journal_))) (void)y;
    });
    EXPECT_NE(message.find("made by map, not map_unordered"), std::string::npos) << message;
    message = refusal([&] {
        for (int y : ex.map(cube, inputs(), {.chunk_size = 4, .journal = journal_})) (void)y;
    });
    EXPECT_NE(message.find("chunk_size 3, not 4"), std::string::npos) << message;
    EXPECT_EQ(fs::file_size(journal_), before);

    // The same map again: replayed, the same results.
    std::vector<int> again;
    for (int y : ex.map(cube, inputs(), options(journal_))) again.push_back(y);
    EXPECT_EQ(again, squares);
}

TEST_F(map_journal_in_process, a_failed_chunk_is_not_journaled_and_runs_again) {
    fronta::executor ex(fronta::thread_pool(2));
    failing_input = 30;
    std::vector<int> results;
    EXPECT_THROW(
        {
            for (int y : ex.map(fails_at, inputs(), options(journal_))) results.push_back(y);
        },
        std::runtime_error);
    EXPECT_EQ(results.size(), 30u);  // every result before the failing input
    using journal = fronta::detail::typed_map_journal<int, std::vector<int>>;
    std::vector<std::uint64_t> held;
    {
        auto opened =
            fronta::detail::open_map_journal<int, std::vector<int>>(journal_, fronta::detail::journal_kind::map, chunk,
                                                                    &fails_at);
        held = std::dynamic_pointer_cast<journal>(opened)->file().chunks();
    }
    EXPECT_EQ(std::count(held.begin(), held.end(), 30 / chunk), 0);
    EXPECT_GE(held.size(), 30 / chunk);

    failing_input = -1;
    for (auto& e : executions) e = 0;
    results.clear();
    for (int y : ex.map(fails_at, inputs(), options(journal_))) results.push_back(y);
    ASSERT_EQ(results.size(), static_cast<std::size_t>(input_count));
    for (int x = 0; x < input_count; ++x) {
        EXPECT_EQ(results[static_cast<std::size_t>(x)], -x);
        const bool journaled = std::count(held.begin(), held.end(), static_cast<std::uint64_t>(x) / chunk) != 0;
        EXPECT_EQ(executions[static_cast<std::size_t>(x)].load(), journaled ? 0 : 1) << "input " << x;
    }
}

// A chunk still running when its map ends keeps the journal open until it is journaled; a map
// started meanwhile on the same journal shares it instead of finding it locked.
TEST_F(map_journal_in_process, a_map_right_after_an_ended_one_shares_its_journal) {
    const auto open_gate = [] {
        {
            std::lock_guard lock(gate_mutex);
            gate_open = true;
        }
        gate_opened.notify_all();
    };
    fronta::executor ex(fronta::thread_pool(2));
    struct opens_gate_at_the_end {  // whatever fails, the pool's threads do not wait forever
        decltype(open_gate)& open;
        ~opens_gate_at_the_end() { open(); }
    } guard{open_gate};
    {
        auto first = ex.map(gated, inputs(), options(journal_));
        EXPECT_EQ(*first.begin(), 1000);
        std::unique_lock lock(gate_mutex);  // chunk 1 (inputs 3, 4, 5) runs, and waits at the gate
        gate_opened.wait(lock, [] { return gate_reached; });
    }
    std::vector<int> results;
    auto second = ex.map(gated, inputs(), options(journal_));
    open_gate();
    for (int y : second) results.push_back(y);
    ASSERT_EQ(results.size(), static_cast<std::size_t>(input_count));
    for (int x = 0; x < input_count; ++x) EXPECT_EQ(results[static_cast<std::size_t>(x)], x + 1000);
}

TEST_F(map_journal_in_process, a_file_that_is_not_a_journal_is_refused_and_left_untouched) {
    const std::string text = "Hamburg;12.0\nBulawayo;8.9\n";
    std::ofstream(journal_) << text;
    fronta::executor ex(fronta::thread_pool(2));
    const std::string message = refusal([&] {
        for (int y : ex.map(cube, inputs(), options(journal_))) (void)y;
    });
    EXPECT_NE(message.find("not a fronta map journal"), std::string::npos) << message;
    std::ifstream in(journal_);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()), text);
}

std::atomic<int> additions{0};
int add_counted(int x, int y) {
    additions.fetch_add(1);
    return x + y;
}
FRONTA_REMOTE(add_counted);

TEST_F(map_journal_in_process, a_map_over_several_ranges_replays_with_no_execution) {
    fronta::executor ex(fronta::thread_pool(2));
    const std::vector<int> xs = inputs(), ys = inputs(100);
    std::vector<int> first, second;
    for (int y : ex.map(add_counted, xs, ys, options(journal_))) first.push_back(y);
    EXPECT_EQ(additions.exchange(0), input_count);
    for (int y : ex.map(add_counted, xs, ys, options(journal_))) second.push_back(y);
    EXPECT_EQ(additions.load(), 0);
    EXPECT_EQ(second, first);
    ASSERT_EQ(first.size(), static_cast<std::size_t>(input_count));
    EXPECT_EQ(first[7], 7 + 107);
}

struct unserializable {  // no serialize(): maps fine, cannot be journaled
    int value = 0;
};

TEST_F(map_journal_in_process, inputs_cereal_cannot_write_are_refused_only_with_a_journal) {
    fronta::executor ex(fronta::thread_pool(2));
    const std::vector<unserializable> items{{1}, {2}, {3}};
    const auto twice = [](unserializable u) { return 2 * u.value; };
    std::vector<int> results;
    for (int y : ex.map(twice, items)) results.push_back(y);
    EXPECT_EQ(results, (std::vector<int>{2, 4, 6}));
    const std::string message = refusal([&] {
        for (int y : ex.map(twice, items, {.journal = journal_})) (void)y;
    });
    EXPECT_NE(message.find("must be serializable with cereal"), std::string::npos) << message;
    EXPECT_FALSE(fs::exists(journal_));
}

TEST_F(map_journal_in_process, map_reduce_journals_on_a_thread_pool_and_the_inline_executor_directly) {
    fronta::thread_pool pool(2);
    for (auto& e : executions) e = 0;
    const int sum = fronta::map_reduce(pool, fails_at, inputs(), std::plus<int>(), 0, options(journal_));
    EXPECT_EQ(sum, -(input_count - 1) * input_count / 2);
    EXPECT_EQ(executions[7].load(), 1);
    fronta::inline_executor inline_ex;
    EXPECT_EQ(fronta::map_reduce(inline_ex, fails_at, inputs(), std::plus<int>(), 0, options(journal_)), sum)
        << "the same journal, replayed on another in-process executor";
    for (int x = 0; x < input_count; ++x) EXPECT_EQ(executions[static_cast<std::size_t>(x)].load(), 1) << x;
}

TEST_F(map_journal_in_process, thread_pool_says_to_go_through_executor) {
    fronta::thread_pool pool(1);
    const std::string message = refusal([&] {
        for (int y : pool.map(cube, inputs(), options(journal_))) (void)y;
    });
    EXPECT_NE(message.find("fronta::executor"), std::string::npos) << message;
    EXPECT_FALSE(fs::exists(journal_));
}

}  // namespace

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // workers are copies of this program
    if (auto name = scenario_asked(argc, argv)) return run_scenario(*name);
    return run_tests(argc, argv);
}
