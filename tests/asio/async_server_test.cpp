// examples/14_async_server.cpp from outside, as its users and its abusers would meet it: the
// server runs as a child process (--port 0; the port read from its first line of output), and the
// test talks to it over TCP with plain blocking sockets. Every wait has a time limit, so a
// regression fails instead of hanging; nothing waits by sleeping: the tests read replies or poll
// `stats` until it shows what they wait for. Each test runs on threads and on processes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "14_async_server_work.hpp"

extern char** environ;

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

#if defined(__SANITIZE_THREAD__)
constexpr std::uint64_t sanitizer_memory_factor = 3;
#elif defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t sanitizer_memory_factor = 3;
#else
constexpr std::uint64_t sanitizer_memory_factor = 1;
#endif

// Generous: the tests also run under sanitizers, on a loaded machine.
constexpr auto io_limit = 60s;

int remaining_ms(steady::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 1'000'000));
}

// The server binary as a child process, with a pipe on its stdout.
class server_process {
public:
    explicit server_process(const std::vector<std::string>& args) {
        int out[2];
        if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
        output_ = out[0];
        std::vector<std::string> all = {ASYNC_SERVER_PROGRAM};
        all.insert(all.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : all) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
        const int error = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        close(out[1]);
        if (error != 0) throw std::runtime_error("cannot start " + all[0]);
        const std::string first = read_output_line(io_limit);
        const std::string prefix = "listening on 127.0.0.1:";
        if (first.rfind(prefix, 0) != 0) throw std::runtime_error("unexpected first line: '" + first + "'");
        port_ = std::stoi(first.substr(prefix.size()));
    }
    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;

    ~server_process() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        close(output_);
    }

    int port() const { return port_; }
    void signal(int number) const { kill(pid_, number); }

    // The exit status, or nullopt when the server is still running after `limit`. (Polled: a
    // child's exit has no descriptor to wait on here.)
    std::optional<int> wait_exit(std::chrono::milliseconds limit) {
        const auto deadline = steady::now() + limit;
        for (;;) {
            int status = 0;
            const pid_t r = waitpid(pid_, &status, WNOHANG);
            if (r == pid_) {
                pid_ = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            if (steady::now() > deadline) return std::nullopt;
            std::this_thread::sleep_for(5ms);
        }
    }

    // The rest of its output, up to end of file (after it exited) or `limit`.
    std::string rest_of_output(std::chrono::milliseconds limit) {
        const auto deadline = steady::now() + limit;
        std::string text = pending_;
        pending_.clear();
        char chunk[4096];
        for (;;) {
            pollfd p{output_, POLLIN, 0};
            if (poll(&p, 1, remaining_ms(deadline)) <= 0) return text;
            const ssize_t n = read(output_, chunk, sizeof chunk);
            if (n <= 0) return text;
            text.append(chunk, std::size_t(n));
        }
    }

private:
    std::string read_output_line(std::chrono::milliseconds limit) {
        const auto deadline = steady::now() + limit;
        char chunk[256];
        while (pending_.find('\n') == std::string::npos) {
            pollfd p{output_, POLLIN, 0};
            if (poll(&p, 1, remaining_ms(deadline)) <= 0) return "(no line in time)";
            const ssize_t n = read(output_, chunk, sizeof chunk);
            if (n <= 0) return "(the server's output ended)";
            pending_.append(chunk, std::size_t(n));
        }
        const std::size_t end = pending_.find('\n');
        std::string line = pending_.substr(0, end);
        pending_.erase(0, end + 1);
        return line;
    }

    pid_t pid_ = -1;
    int output_ = -1;
    int port_ = 0;
    std::string pending_;
};

// One TCP connection to the server, with a time limit on every read and write.
class client {
public:
    explicit client(int port) {
        fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<std::uint16_t>(port));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
            throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    }
    client(const client&) = delete;
    client& operator=(const client&) = delete;
    ~client() { hang_up(); }

    void hang_up() {
        if (fd_ >= 0) close(fd_);
        fd_ = -1;
    }

    // False when the server no longer takes bytes (it closed the connection).
    bool send_bytes(std::string_view bytes) {
        const auto deadline = steady::now() + io_limit;
        while (!bytes.empty()) {
            pollfd p{fd_, POLLOUT, 0};
            if (poll(&p, 1, remaining_ms(deadline)) <= 0) return false;
            const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (n <= 0) return false;
            bytes.remove_prefix(std::size_t(n));
        }
        return true;
    }

    // The next reply line; nullopt when the server closed the connection, "(timeout)" past the limit.
    std::optional<std::string> read_line(std::chrono::milliseconds limit = io_limit) {
        const auto deadline = steady::now() + limit;
        char chunk[4096];
        while (buffer_.find('\n') == std::string::npos) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, remaining_ms(deadline)) <= 0) return "(timeout)";
            const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return std::nullopt;  // end of file or reset
            buffer_.append(chunk, std::size_t(n));
        }
        const std::size_t end = buffer_.find('\n');
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        return line;
    }

    std::string ask(const std::string& line) {
        if (!send_bytes(line + "\n")) return "(send failed)";
        return read_line().value_or("(closed)");
    }

private:
    int fd_ = -1;
    std::string buffer_;
};

std::map<std::string, std::uint64_t> parse_stats(const std::string& line) {
    std::map<std::string, std::uint64_t> values;
    std::istringstream in(line);
    std::string word;
    in >> word;
    if (word != "stats") return values;
    while (in >> word) {
        const std::size_t eq = word.find('=');
        if (eq != std::string::npos) values[word.substr(0, eq)] = std::stoull(word.substr(eq + 1));
    }
    return values;
}

std::string expected_heavy(std::uint32_t units, std::uint32_t kib = async_server::default_kib) {
    char text[64];
    std::snprintf(text, sizeof text, "heavy %u %016llx", units,
                  static_cast<unsigned long long>(async_server::heavy_work(units, kib)));
    return text;
}

// Units of heavy work that take about `target` of CPU in this build on this machine (sanitizers
// slow it). The fastest of a few runs: being preempted only ever adds time, and a loaded machine
// once made a single measurement ten times too long (and the task ten times too short).
std::uint32_t units_lasting(std::chrono::milliseconds target) {
    double per_unit = 1;
    for (int run = 0; run < 7; ++run) {
        const auto start = steady::now();
        [[maybe_unused]] volatile std::uint64_t sink = async_server::heavy_work(5, async_server::default_kib);
        per_unit = std::min(per_unit, std::chrono::duration<double>(steady::now() - start).count() / 5);
    }
    const double units = std::chrono::duration<double>(target).count() / per_unit;
    return static_cast<std::uint32_t>(std::clamp(units, 1.0, double(async_server::max_units)));
}

class async_server_test : public ::testing::TestWithParam<std::string> {
protected:
    std::vector<std::string> with_executor(std::vector<std::string> args) const {
        args.insert(args.begin(), {"--port", "0", "--executor", GetParam()});
        return args;
    }

    // SIGTERM, then the exit status: 0 when it stopped cleanly. Under the sanitizers this is also
    // where a leak (LeakSanitizer's exit code) or a race (ThreadSanitizer's, halt_on_error) in the
    // server fails the test.
    static std::optional<int> stop(server_process& server) {
        server.signal(SIGTERM);
        return server.wait_exit(io_limit);
    }

    // Polls `stats` on `monitor` until `done` holds (true) or the limit passes (false).
    static bool stats_until(client& monitor, const std::function<bool(std::map<std::string, std::uint64_t>&)>& done,
                            std::chrono::milliseconds limit = io_limit) {
        const auto deadline = steady::now() + limit;
        for (;;) {
            auto stats = parse_stats(monitor.ask("stats"));
            if (!stats.empty() && done(stats)) return true;
            if (steady::now() > deadline) return false;
            std::this_thread::sleep_for(2ms);  // a poll interval, not a synchronisation
        }
    }
};

TEST_P(async_server_test, answers_ping_echo_stats_and_heavy_with_the_right_checksum) {
    server_process server(with_executor({"--workers", "2"}));
    client c(server.port());
    EXPECT_EQ(c.ask("ping"), "pong");
    EXPECT_EQ(c.ask("ping\r"), "pong");  // a CRLF line ending is taken too
    EXPECT_EQ(c.ask("echo hello, world"), "echo hello, world");
    EXPECT_EQ(c.ask("heavy 7"), expected_heavy(7));
    EXPECT_EQ(c.ask("heavy 3 2048"), expected_heavy(3, 2048));
    EXPECT_EQ(c.ask("heavy 1 1"), expected_heavy(1, 1));
    // Replies come in order, also for requests sent together.
    ASSERT_TRUE(c.send_bytes("heavy 2\nping\necho two\nheavy 4 128\n"));
    EXPECT_EQ(c.read_line(), expected_heavy(2));
    EXPECT_EQ(c.read_line(), "pong");
    EXPECT_EQ(c.read_line(), "echo two");
    EXPECT_EQ(c.read_line(), expected_heavy(4, 128));
    const auto stats = parse_stats(c.ask("stats"));
    EXPECT_EQ(stats.size(), 8u);
    EXPECT_EQ(stats.at("heavy_running"), 0u);
    EXPECT_EQ(stats.at("heavy_in_flight"), 0u);
    EXPECT_EQ(stats.at("heavy_served"), 5u);
    EXPECT_EQ(stats.at("busy"), 0u);
    EXPECT_EQ(stats.at("connections"), 1u);
    EXPECT_GT(stats.at("rss_kib"), 0u);
    EXPECT_EQ(stop(server), 0);
}

TEST_P(async_server_test, garbage_gets_an_error_and_the_connection_stays_open) {
    server_process server(with_executor({"--workers", "1"}));
    client c(server.port());
    const std::vector<std::string> garbage = {std::string("\x00\x01\x02", 3),
                                              "\xff\xfe garbage",
                                              "ping\x7f",
                                              "echo tab\there",
                                              "frobnicate",
                                              "PING",
                                              "",
                                              "ping now",
                                              "stats please",
                                              "heavy",
                                              "heavy 0",
                                              "heavy 100001",
                                              "heavy -5",
                                              "heavy 5 0",
                                              "heavy 5 65537",
                                              "heavy 5 abc",
                                              "heavy 5 64 more",
                                              "heavy  5",
                                              "heavy 99999999999999999999"};
    for (const std::string& line : garbage) {
        const std::string reply = c.ask(line);
        EXPECT_EQ(reply.rfind("error ", 0), 0u) << "for '" << line << "': " << reply;
    }
    EXPECT_EQ(c.ask("ping"), "pong");
    EXPECT_EQ(c.ask("heavy 3"), expected_heavy(3));
    EXPECT_EQ(parse_stats(c.ask("stats")).at("heavy_served"), 1u);
    EXPECT_EQ(stop(server), 0);
}

TEST_P(async_server_test, an_over_long_line_is_refused_and_closes_that_connection_only) {
    server_process server(with_executor({"--workers", "1", "--max-line", "64"}));
    client other(server.port());
    EXPECT_EQ(other.ask("ping"), "pong");

    client at_limit(server.port());  // 64 bytes is still a line
    EXPECT_EQ(at_limit.ask("echo " + std::string(59, 'x')), "echo " + std::string(59, 'x'));

    client long_line(server.port());
    EXPECT_EQ(long_line.ask("echo " + std::string(60, 'x')), "error line too long");
    EXPECT_EQ(long_line.read_line(), std::nullopt);  // then closed

    // No newline at all: the server stops reading at the limit instead of buffering on.
    client endless(server.port());
    ASSERT_TRUE(endless.send_bytes(std::string(16 * 1024, 'y')));
    EXPECT_EQ(endless.read_line(), "error line too long");
    EXPECT_EQ(endless.read_line(), std::nullopt);
    long_line.hang_up();  // (or the server waits a second for them to close their side)
    endless.hang_up();

    EXPECT_EQ(other.ask("ping"), "pong");
    EXPECT_EQ(at_limit.ask("heavy 2"), expected_heavy(2));
    EXPECT_TRUE(stats_until(other, [](auto& s) { return s["connections"] == 2; }));
    EXPECT_EQ(stop(server), 0);
}

TEST_P(async_server_test, a_client_that_hangs_up_gets_its_queued_task_cancelled_and_its_running_task_dropped) {
    server_process server(with_executor({"--workers", "1"}));
    client monitor(server.port());
    // A first task of over a millisecond: a process pool then sends a busy worker no task ahead,
    // so the queued task below stays in the client's queue, where it can be cancelled.
    EXPECT_EQ(monitor.ask("heavy 30"), expected_heavy(30));

    client running(server.port());
    ASSERT_TRUE(running.send_bytes("heavy " + std::to_string(units_lasting(3s)) + "\n"));
    ASSERT_TRUE(stats_until(monitor, [](auto& s) { return s["heavy_running"] == 1; }));
    client queued(server.port());
    ASSERT_TRUE(queued.send_bytes("heavy 10\n"));
    ASSERT_TRUE(stats_until(monitor, [](auto& s) { return s["heavy_in_flight"] == 2; }));
    EXPECT_EQ(parse_stats(monitor.ask("stats"))["heavy_running"], 1u);

    queued.hang_up();  // its task has not started (one worker, busy for seconds): cancelled
    EXPECT_TRUE(stats_until(monitor, [](auto& s) { return s["cancelled"] == 1 && s["heavy_in_flight"] == 1; }));

    running.hang_up();  // its task runs on: its result is dropped, its admission held until it ends
    EXPECT_TRUE(stats_until(monitor, [](auto& s) { return s["dropped"] == 1 && s["connections"] == 1; }));

    // The server serves on, and the dropped task's slot comes back when it ends.
    EXPECT_EQ(monitor.ask("ping"), "pong");
    EXPECT_EQ(monitor.ask("heavy 5"), expected_heavy(5));
    EXPECT_TRUE(stats_until(monitor, [](auto& s) { return s["heavy_in_flight"] == 0; }));
    const auto stats = parse_stats(monitor.ask("stats"));
    EXPECT_EQ(stats.at("cancelled"), 1u);
    EXPECT_EQ(stats.at("dropped"), 1u);
    EXPECT_EQ(stats.at("heavy_served"), 2u);
    EXPECT_EQ(stop(server), 0);
}

TEST_P(async_server_test, a_flood_beyond_max_heavy_gets_busy_replies_and_the_rest_is_served) {
    constexpr std::size_t max_heavy = 3, clients = 24;
    server_process server(with_executor({"--workers", "2", "--max-heavy", std::to_string(max_heavy)}));
    client monitor(server.port());
    const std::uint32_t units = units_lasting(50ms);
    std::vector<std::unique_ptr<client>> flood;
    for (std::size_t i = 0; i < clients; ++i) {
        flood.push_back(std::make_unique<client>(server.port()));
        ASSERT_TRUE(flood.back()->send_bytes("heavy " + std::to_string(units) + "\n"));
    }
    std::size_t served = 0, busy = 0;
    for (auto& c : flood) {
        const auto reply = c->read_line();
        ASSERT_TRUE(reply);
        if (*reply == "busy")
            ++busy;
        else if (*reply == expected_heavy(units))
            ++served;
        else
            ADD_FAILURE() << "unexpected reply " << *reply;
        // Never more admitted than --max-heavy.
        EXPECT_LE(parse_stats(monitor.ask("stats")).at("heavy_in_flight"), max_heavy);
    }
    EXPECT_EQ(served + busy, clients);
    EXPECT_GE(served, max_heavy);  // the first ones in were admitted
    EXPECT_GT(busy, 0u);
    const auto stats = parse_stats(monitor.ask("stats"));
    EXPECT_EQ(stats.at("busy"), busy);
    EXPECT_EQ(stats.at("heavy_served"), served);
    // Once answered, a client may ask again and be served.
    EXPECT_EQ(flood.front()->ask("heavy 1"), expected_heavy(1));
    EXPECT_EQ(stop(server), 0);
}

TEST_P(async_server_test, a_flood_of_large_requests_is_admitted_by_memory_and_memory_stays_bounded) {
    // 32 clients each ask for 8 MiB: 256 MiB if all ran. --max-memory 40 admits four at a time
    // (4 * (8 MiB + a line) <= 40 MiB < 5 * ...); two run at once (--workers 2).
    constexpr std::uint32_t kib = 8192;
    constexpr std::size_t max_memory_mib = 40, clients = 32, workers = 2;
    server_process server(with_executor(
        {"--workers", std::to_string(workers), "--max-heavy", "1000", "--max-memory", std::to_string(max_memory_mib)}));
    client monitor(server.port());
    const std::uint32_t units = units_lasting(30ms);
    // Warm up: each worker has run one 8 MiB task (allocator arenas, process-pool workers started).
    {
        client a(server.port()), b(server.port());
        ASSERT_TRUE(a.send_bytes("heavy " + std::to_string(units) + " 8192\n"));
        ASSERT_TRUE(b.send_bytes("heavy " + std::to_string(units) + " 8192\n"));
        EXPECT_EQ(a.read_line(), expected_heavy(units, kib));
        EXPECT_EQ(b.read_line(), expected_heavy(units, kib));
    }
    const std::uint64_t baseline = parse_stats(monitor.ask("stats")).at("rss_kib");

    std::vector<std::unique_ptr<client>> flood;
    for (std::size_t i = 0; i < clients; ++i) {
        flood.push_back(std::make_unique<client>(server.port()));
        ASSERT_TRUE(flood.back()->send_bytes("heavy " + std::to_string(units) + " 8192\n"));
    }
    std::size_t served = 0, busy = 0;
    std::uint64_t peak = baseline, most_in_flight = 0;
    for (auto& c : flood) {
        const auto reply = c->read_line();
        ASSERT_TRUE(reply);
        served += *reply == expected_heavy(units, kib);
        busy += *reply == "busy";
        const auto stats = parse_stats(monitor.ask("stats"));
        peak = std::max(peak, stats.at("rss_kib"));
        most_in_flight = std::max(most_in_flight, stats.at("heavy_in_flight"));
    }
    EXPECT_EQ(served + busy, clients);
    EXPECT_GT(busy, 0u);
    EXPECT_GE(served, 4u);
    EXPECT_LE(most_in_flight, 4u);
    // The bound: admission caps what is queued (4 requests, 32 MiB promised); only running tasks
    // hold their buffer (queued ones have not allocated it yet), and at most `workers` run, so the
    // live heap grows by workers * 8 MiB; the allocator may keep
    // what was freed (glibc trims above twice its mmap threshold, 16 MiB after 8 MiB chunks) in
    // each arena or worker process. Far below the 256 MiB of the whole flood.
    // Sanitizers multiply it: ThreadSanitizer maps shadow memory for every page the program
    // touches and its allocator caches freed blocks (measured: 2.5-5x the growth of a plain build),
    // AddressSanitizer quarantines freed blocks. An unbounded server would grow by the whole
    // flood times the same factor, so the check keeps its meaning.
    const std::uint64_t bound_kib = ((workers * kib) + workers * 16 * 1024 + 8 * 1024) * sanitizer_memory_factor;
    std::printf("rss_kib: baseline %llu, peak %llu (growth %llu KiB, bound %llu KiB), served %zu, busy %zu\n",
                static_cast<unsigned long long>(baseline), static_cast<unsigned long long>(peak),
                static_cast<unsigned long long>(peak - baseline), static_cast<unsigned long long>(bound_kib), served,
                busy);
    EXPECT_LE(peak - baseline, bound_kib);
    EXPECT_EQ(stop(server), 0);
}

TEST_P(async_server_test, sigterm_lets_the_running_request_finish_then_exits_cleanly) {
    server_process server(with_executor({"--workers", "1"}));
    client idle(server.port());
    EXPECT_EQ(idle.ask("ping"), "pong");
    client busy(server.port());
    // Well under the server's 10 s grace, also on a loaded machine (a nominal 1 s once took more).
    const std::uint32_t units = units_lasting(300ms);
    ASSERT_TRUE(busy.send_bytes("heavy " + std::to_string(units) + "\n"));
    ASSERT_TRUE(stats_until(idle, [](auto& s) { return s["heavy_running"] == 1; }));

    server.signal(SIGTERM);
    EXPECT_EQ(idle.read_line(), std::nullopt);           // an idle connection is closed at once
    EXPECT_EQ(busy.read_line(), expected_heavy(units));  // the running request is answered
    EXPECT_EQ(busy.read_line(), std::nullopt);           // then its connection closed
    EXPECT_EQ(server.wait_exit(io_limit), 0);
    EXPECT_NE(server.rest_of_output(5s).find("stopped: heavy_served=1 "), std::string::npos);
}

TEST_P(async_server_test, past_the_grace_period_sigterm_closes_the_connections_and_cancels_what_waits) {
    server_process server(with_executor({"--workers", "1", "--grace", "1"}));
    client monitor(server.port());
    EXPECT_EQ(monitor.ask("heavy 30"), expected_heavy(30));  // (no task sent ahead: see above)
    client running(server.port()), queued(server.port());
    ASSERT_TRUE(running.send_bytes("heavy " + std::to_string(units_lasting(3s)) + "\n"));
    ASSERT_TRUE(stats_until(monitor, [](auto& s) { return s["heavy_running"] == 1; }));
    ASSERT_TRUE(queued.send_bytes("heavy 10\n"));
    ASSERT_TRUE(stats_until(monitor, [](auto& s) { return s["heavy_in_flight"] == 2; }));

    server.signal(SIGTERM);
    // After a second both are closed unanswered: the queued task cancelled, the running one's
    // result dropped (a process pool stops it; a thread runs it to its end, and then the server exits).
    EXPECT_EQ(queued.read_line(), std::nullopt);
    EXPECT_EQ(running.read_line(), std::nullopt);
    EXPECT_EQ(server.wait_exit(io_limit), 0);
    const std::string output = server.rest_of_output(5s);
    EXPECT_NE(output.find("stopped: heavy_served=1 busy=0 cancelled=1 dropped=1 "), std::string::npos) << output;
}

INSTANTIATE_TEST_SUITE_P(executors, async_server_test, ::testing::Values("threads", "processes"),
                         [](const auto& info) { return info.param; });

}  // namespace
