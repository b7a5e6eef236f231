// Load on examples/14_async_server (issue 12): do cheap requests stay fast while heavy ones run?
//
//   server_load [--server PATH | --connect HOST:PORT] [--modes inline,async,threads,processes]
//               [--rounds 3] [--seconds 8] [--warmup 1] [--cheap-clients 128] [--interval-ms 200]
//               [--cheap ping|echo] [--heavy-clients 4] [--heavy-units 200] [--heavy-kib 0]
//               [--workers 2] [--slices 4] [--server-arg ARG]... [--loadgen-nice N] [--worker-nice N]
//               [--server-log]
//
// For each round and each mode (the server's --executor), it starts the server (PATH, or
// 14_async_server found beside this program or in ../examples/) with `--port 0 --executor MODE
// --workers N`, waits for `listening on 127.0.0.1:<port>`, and measures two phases on it:
//   idle    only the cheap clients; then one heavy request at a time, alone (its duration here)
//   loaded  the cheap clients and H heavy clients sending `heavy <units>` back to back
// in --slices turns (default 4: idle, loaded, idle, loaded, ..., each --seconds / 4 long after a
// warm-up, 1 s the first time and 0.3 s after), so that a burst from a neighbour on a shared
// machine falls on both phases alike; then it stops the server with SIGTERM (its graceful
// shutdown; a server that has not exited after 10 s is killed and the line says so). With
// --connect it measures a running server instead (one mode, named "connected").
//
// Cheap clients are paced open-loop: client i sends `ping` at start + i*interval/C + k*interval,
// one request at a time per connection as the protocol says; a reply that comes late delays the
// next send, but its latency still counts from the time it was scheduled (no coordinated
// omission: a stall of the server shows up in every request that should have been sent during
// it). Heavy clients are closed-loop; on `busy` they wait 5 ms before asking again. The interval
// (200 ms) is longer than H heavy requests back to back (4 x 20 ms): a server doing heavy work
// inline answers each connection once per round of its loop, H heavy requests long, and with a
// shorter interval the inline server's backlog, and so its latency, would grow without bound.
//
// Everything runs in one thread (Asio coroutines on one io_context) to keep the load generator
// light on a 2-core machine; its own CPU use is in the output (loadgen_cpu_percent), and so is
// how late its timers fired (late_p99_us: a busy machine delays the load generator too).
// --loadgen-nice -10 (root) runs the load generator, not the server, at a higher priority: the
// clients as if on another machine, so that what is measured is the server's own delay.
// --worker-nice 10 (an experiment) renices every thread of the started server but its main one
// (the io_context's) and every thread of its child processes (a process pool's workers), once it
// listens: the event loop first, the heavy work on what CPU is left. std::async's threads, started
// later by the main thread, keep its priority.
//
// Output: one JSON line per round, mode and phase on stdout (bench/report.py server turns them
// into the table of docs/benchmarks.md); progress on stderr.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <variant>
#include <vector>

#include "14_async_server_work.hpp"  // the heavy request's work: each reply's checksum is checked

extern char** environ;

namespace {

using clock_type = std::chrono::steady_clock;
using asio::ip::tcp;

struct options {
    std::string server, connect;
    std::vector<std::string> modes{"inline", "async", "threads", "processes"};
    std::vector<std::string> server_args;
    int rounds = 3, cheap_clients = 128, heavy_clients = 4, heavy_units = 200, heavy_kib = 0, workers = 2;
    int loadgen_nice = 0, worker_nice = 0, slices = 4;
    double seconds = 8, warmup = 1, interval_ms = 200;
    std::string cheap = "ping";
    bool server_log = false;
    std::string heavy_line, heavy_expected;  // `heavy <units> [<kib>]` and its one right answer
};

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr, "server_load: %s (see the comment at the top of bench/asio/server_load.cpp)\n", why);
    std::exit(2);
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::stringstream in(s);
    for (std::string part; std::getline(in, part, sep);)
        if (!part.empty()) out.push_back(part);
    return out;
}

options parse(int argc, char** argv) {
    options o;
    const std::map<std::string, std::variant<int*, double*, std::string*>> flags = {
        {"--server", &o.server},
        {"--connect", &o.connect},
        {"--rounds", &o.rounds},
        {"--seconds", &o.seconds},
        {"--warmup", &o.warmup},
        {"--cheap-clients", &o.cheap_clients},
        {"--interval-ms", &o.interval_ms},
        {"--cheap", &o.cheap},
        {"--heavy-clients", &o.heavy_clients},
        {"--heavy-units", &o.heavy_units},
        {"--heavy-kib", &o.heavy_kib},
        {"--workers", &o.workers},
        {"--loadgen-nice", &o.loadgen_nice},
        {"--worker-nice", &o.worker_nice},
        {"--slices", &o.slices},
    };
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--server-log") {
            o.server_log = true;
            continue;
        }
        if (i + 1 >= argc) usage(("missing value after " + flag).c_str());
        const std::string value = argv[++i];
        if (flag == "--modes") {
            o.modes = split(value, ',');
        } else if (flag == "--server-arg") {
            o.server_args.push_back(value);
        } else if (const auto it = flags.find(flag); it != flags.end()) {
            std::visit(
                [&](auto* target) {
                    using type = std::remove_pointer_t<decltype(target)>;
                    if constexpr (std::is_same_v<type, int>)
                        *target = std::stoi(value);
                    else if constexpr (std::is_same_v<type, double>)
                        *target = std::stod(value);
                    else
                        *target = value;
                },
                it->second);
        } else {
            usage(("unknown argument " + flag).c_str());
        }
    }
    if (o.cheap != "ping" && o.cheap != "echo") usage("--cheap is ping or echo");
    if (o.cheap_clients < 1 || o.rounds < 1 || o.slices < 1 || o.seconds <= 0 || o.interval_ms <= 0 ||
        o.heavy_units < 1 || o.heavy_units > int(async_server::max_units) || o.heavy_kib < 0 ||
        o.heavy_kib > int(async_server::max_kib))
        usage("bad numbers");
    if (!o.connect.empty()) o.modes = {"connected"};
    const auto kib = static_cast<std::uint32_t>(o.heavy_kib > 0 ? o.heavy_kib : async_server::default_kib);
    o.heavy_line = "heavy " + std::to_string(o.heavy_units) + (o.heavy_kib > 0 ? " " + std::to_string(kib) : "") + "\n";
    char expected[64];
    std::snprintf(expected, sizeof expected, "heavy %d %016llx", o.heavy_units,
                  static_cast<unsigned long long>(
                      async_server::heavy_work(static_cast<std::uint32_t>(o.heavy_units), kib)));
    o.heavy_expected = expected;
    return o;
}

// ---- the server process ------------------------------------------------------------------------

std::string find_server(const options& o) {
    if (!o.server.empty()) return o.server;
    const auto self = std::filesystem::read_symlink("/proc/self/exe").parent_path();
    for (auto candidate : {self / "14_async_server", self / ".." / "examples" / "14_async_server"})
        if (std::filesystem::exists(candidate)) return candidate.lexically_normal().string();
    usage("14_async_server not found beside server_load nor in ../examples/: give --server PATH");
}

// The server, started with its stdout on a pipe; the port comes from its `listening on` line.
struct server_process {
    pid_t pid = -1;
    int port = 0;
    std::thread drain;  // reads the rest of its stdout so that it never blocks on a full pipe

    server_process(const std::string& path, const std::vector<std::string>& args, bool log) {
        int out[2];
        if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, out[1], 1);
        if (!log) posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
        std::vector<char*> argv{const_cast<char*>(path.c_str())};
        for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        const int rc = posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        close(out[1]);
        if (rc != 0) throw std::runtime_error("cannot start " + path + ": " + std::strerror(rc));
        std::string seen;
        const auto deadline = clock_type::now() + std::chrono::seconds(20);
        while (port == 0) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
            pollfd p{out[0], POLLIN, 0};
            if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
            char chunk[512];
            const ssize_t n = read(out[0], chunk, sizeof chunk);
            if (n <= 0) break;
            seen.append(chunk, static_cast<std::size_t>(n));
            const auto at = seen.find("listening on ");
            const auto colon = at == std::string::npos ? at : seen.find(':', at);
            if (colon != std::string::npos && seen.find('\n', colon) != std::string::npos)
                port = std::atoi(seen.c_str() + colon + 1);
        }
        if (port == 0) {
            stop();
            close(out[0]);
            throw std::runtime_error(path + " did not print `listening on HOST:PORT` within 20 s; it printed: " + seen);
        }
        drain = std::thread([fd = out[0], log] {
            char chunk[4096];
            for (ssize_t n; (n = read(fd, chunk, sizeof chunk)) > 0;)
                if (log) (void)!write(2, chunk, static_cast<std::size_t>(n));
            close(fd);
        });
    }

    // SIGTERM, as an operator would; "exit N", "signal N", or "killed after 10 s".
    std::string stop() {
        if (pid <= 0) return "not running";
        kill(pid, SIGTERM);
        std::string how = "killed after 10 s";
        int status = 0;
        for (int i = 0; i < 1000; ++i) {  // polling a child's exit, not synchronising a test
            if (waitpid(pid, &status, WNOHANG) == pid) {
                how = WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                        : "signal " + std::to_string(WTERMSIG(status));
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        if (how.starts_with("killed")) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        }
        pid = -1;
        if (drain.joinable()) drain.join();
        return how;
    }
    ~server_process() { stop(); }
};

// Every thread of `pid` but `pid` itself (its main thread), and every thread of its children.
int renice_workers(pid_t pid, int nice, bool main_too = false) {
    int reniced = 0;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        const pid_t tid = std::atoi(task.path().filename().c_str());
        if ((main_too || tid != pid) && setpriority(PRIO_PROCESS, static_cast<id_t>(tid), nice) == 0) ++reniced;
        std::ifstream children(task.path() / "children");
        for (pid_t child; children >> child;) reniced += renice_workers(child, nice, true);
    }
    return reniced;
}

// ---- the clients -------------------------------------------------------------------------------

struct phase_config {
    tcp::endpoint endpoint;
    int cheap_clients, heavy_clients;
    std::string cheap_request, heavy_request, heavy_expected;
    clock_type::duration interval;
    clock_type::time_point start, measure_from, end;
};

struct phase_result {
    std::vector<double> latency_us, service_us, late_us, heavy_ms;
    long cheap_answered = 0, heavy_completed = 0, busy = 0;
    std::vector<std::string> errors;

    void append(const phase_result& slice) {
        for (auto [to, from] : {std::pair{&latency_us, &slice.latency_us},
                                {&service_us, &slice.service_us},
                                {&late_us, &slice.late_us},
                                {&heavy_ms, &slice.heavy_ms}})
            to->insert(to->end(), from->begin(), from->end());
        cheap_answered += slice.cheap_answered;
        heavy_completed += slice.heavy_completed;
        busy += slice.busy;
        errors.insert(errors.end(), slice.errors.begin(), slice.errors.end());
    }
};

double us_between(clock_type::time_point a, clock_type::time_point b) {
    return std::chrono::duration<double, std::micro>(b - a).count();
}

asio::awaitable<std::string> request(tcp::socket& s, std::string& buffer, const std::string& line) {
    co_await asio::async_write(s, asio::buffer(line), asio::use_awaitable);
    const std::size_t n = co_await asio::async_read_until(s, asio::dynamic_buffer(buffer), '\n', asio::use_awaitable);
    std::string reply = buffer.substr(0, n - 1);
    buffer.erase(0, n);
    if (!reply.empty() && reply.back() == '\r') reply.pop_back();
    co_return reply;
}

asio::awaitable<void> cheap_client(tcp::socket& s, const phase_config& c, phase_result& r, int index) {
    asio::steady_timer timer(s.get_executor());
    std::string buffer;
    const std::string expected =
        c.cheap_request == "ping\n" ? "pong" : c.cheap_request.substr(0, c.cheap_request.size() - 1);
    auto scheduled = c.start + c.interval * index / c.cheap_clients;
    for (; scheduled < c.end; scheduled += c.interval) {
        const bool waited = clock_type::now() < scheduled;
        if (waited) {
            timer.expires_at(scheduled);
            co_await timer.async_wait(asio::use_awaitable);
        }
        const auto sent = clock_type::now();
        const std::string reply = co_await request(s, buffer, c.cheap_request);
        const auto got = clock_type::now();
        if (reply != expected) r.errors.push_back("cheap request answered `" + reply + "`");
        if (got >= c.measure_from && got <= c.end) ++r.cheap_answered;
        if (scheduled < c.measure_from) continue;
        r.latency_us.push_back(us_between(scheduled, got));
        r.service_us.push_back(us_between(sent, got));
        if (waited) r.late_us.push_back(us_between(scheduled, sent));  // the load generator's own delay
    }
}

asio::awaitable<void> heavy_client(tcp::socket& s, const phase_config& c, phase_result& r) {
    asio::steady_timer timer(s.get_executor());
    std::string buffer;
    if (clock_type::now() < c.start) {
        timer.expires_at(c.start);
        co_await timer.async_wait(asio::use_awaitable);
    }
    while (clock_type::now() < c.end) {
        const auto sent = clock_type::now();
        const std::string reply = co_await request(s, buffer, c.heavy_request);
        const auto got = clock_type::now();
        const bool counted = got >= c.measure_from && got <= c.end;
        if (reply == c.heavy_expected) {
            if (counted) ++r.heavy_completed, r.heavy_ms.push_back(us_between(sent, got) / 1000);
        } else if (reply == "busy") {
            if (counted) ++r.busy;
            timer.expires_after(std::chrono::milliseconds(5));
            co_await timer.async_wait(asio::use_awaitable);
        } else {
            r.errors.push_back("heavy request answered `" + reply + "`, not `" + c.heavy_expected + "`");
        }
    }
}

tcp::socket connect(asio::io_context& io, const tcp::endpoint& to) {
    tcp::socket s(io);
    s.connect(to);
    s.set_option(tcp::no_delay(true));
    return s;
}

double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// One phase on one io_context thread: all connections first, then the clients from `start`.
phase_result run_phase(const options& o, const tcp::endpoint& to, int heavy_clients, double warmup, double seconds,
                       double& cpu_percent) {
    asio::io_context io(1);
    phase_config c{to,
                   o.cheap_clients,
                   heavy_clients,
                   o.cheap + (o.cheap == "echo" ? " hello\n" : "\n"),
                   o.heavy_line,
                   o.heavy_expected,
                   std::chrono::duration_cast<clock_type::duration>(
                       std::chrono::duration<double, std::milli>(o.interval_ms)),
                   {},
                   {},
                   {}};
    std::vector<tcp::socket> cheap, heavy;
    for (int i = 0; i < c.cheap_clients; ++i) cheap.push_back(connect(io, to));
    for (int i = 0; i < c.heavy_clients; ++i) heavy.push_back(connect(io, to));
    c.start = clock_type::now() + std::chrono::milliseconds(50);
    c.measure_from = c.start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(warmup));
    c.end = c.measure_from + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds));
    phase_result r;
    std::exception_ptr failed;
    auto done = [&](std::exception_ptr e) {
        if (e && !failed) failed = e;
    };
    for (int i = 0; i < c.cheap_clients; ++i) asio::co_spawn(io, cheap_client(cheap[i], c, r, i), done);
    for (auto& s : heavy) asio::co_spawn(io, heavy_client(s, c, r), done);
    const double cpu0 = cpu_seconds();
    const auto wall0 = clock_type::now();
    io.run();
    cpu_percent = 100 * (cpu_seconds() - cpu0) / std::chrono::duration<double>(clock_type::now() - wall0).count();
    if (failed) std::rethrow_exception(failed);
    return r;
}

// The duration of one heavy request with nothing else running, `count` times, one at a time.
std::vector<double> heavy_alone_ms(const options& o, const tcp::endpoint& to, int count) {
    asio::io_context io(1);
    tcp::socket s = connect(io, to);
    std::string buffer;
    const std::string& line = o.heavy_line;
    std::vector<double> ms;
    for (int i = 0; i < count; ++i) {
        const auto sent = clock_type::now();
        asio::write(s, asio::buffer(line));
        const std::size_t n = asio::read_until(s, asio::dynamic_buffer(buffer), '\n');
        ms.push_back(us_between(sent, clock_type::now()) / 1000);
        if (buffer.substr(0, n - 1) != o.heavy_expected)
            throw std::runtime_error("heavy alone answered `" + buffer.substr(0, n - 1) + "`, not `" +
                                     o.heavy_expected + "`");
        buffer.erase(0, n);
    }
    return ms;
}

// `stats k=v ...` as a JSON object of numbers (or strings for what is not a number).
std::string server_stats(const tcp::endpoint& to) {
    asio::io_context io(1);
    tcp::socket s = connect(io, to);
    std::string buffer;
    asio::write(s, asio::buffer(std::string("stats\n")));
    const std::size_t n = asio::read_until(s, asio::dynamic_buffer(buffer), '\n');
    std::string json = "{";
    for (auto& field : split(buffer.substr(0, n - 1), ' ')) {
        const auto eq = field.find('=');
        if (eq == std::string::npos) continue;
        const std::string key = field.substr(0, eq), value = field.substr(eq + 1);
        const bool number = !value.empty() && value.find_first_not_of("0123456789.-") == std::string::npos;
        json += (json.size() > 1 ? ", \"" : "\"") + key + "\": " + (number ? value : "\"" + value + "\"");
    }
    return json + "}";
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const auto rank = static_cast<std::size_t>(p / 100 * static_cast<double>(v.size()));
    return v[std::min(rank, v.size() - 1)];
}

std::string load_average() {
    double load[3] = {0, 0, 0};
    getloadavg(load, 3);
    char text[64];
    std::snprintf(text, sizeof text, "[%.2f, %.2f, %.2f]", load[0], load[1], load[2]);
    return text;
}

void print_phase(const options& o, int round, const std::string& mode, const char* phase, int heavy_clients,
                 const phase_result& r, double cpu_percent, double alone_ms, const std::string& stats) {
    std::printf(
        "{\"round\": %d, \"mode\": \"%s\", \"phase\": \"%s\", \"workers\": %d, \"cheap_clients\": %d, "
        "\"heavy_clients\": %d, \"interval_ms\": %g, \"seconds\": %g, \"heavy_units\": %d, \"heavy_kib\": %d, "
        "\"cheap_measured\": %zu, \"cheap_per_s\": %.1f, \"cheap_p50_us\": %.1f, \"cheap_p90_us\": %.1f, "
        "\"cheap_p99_us\": %.1f, \"cheap_p999_us\": %.1f, \"cheap_max_us\": %.1f, \"service_p99_us\": %.1f, "
        "\"late_p99_us\": %.1f, \"heavy_completed\": %ld, \"heavy_per_s\": %.2f, \"heavy_p50_ms\": %.2f, "
        "\"busy\": %ld, \"heavy_alone_ms\": %.2f, \"errors\": %zu, \"loadgen_cpu_percent\": %.1f, "
        "\"loadgen_nice\": %d, \"worker_nice\": %d, \"load_average\": %s, \"stats\": %s}\n",
        round, mode.c_str(), phase, o.workers, o.cheap_clients, heavy_clients, o.interval_ms, o.seconds, o.heavy_units,
        o.heavy_kib, r.latency_us.size(), static_cast<double>(r.cheap_answered) / o.seconds,
        percentile(r.latency_us, 50), percentile(r.latency_us, 90), percentile(r.latency_us, 99),
        percentile(r.latency_us, 99.9), percentile(r.latency_us, 100), percentile(r.service_us, 99),
        percentile(r.late_us, 99), r.heavy_completed, static_cast<double>(r.heavy_completed) / o.seconds,
        percentile(r.heavy_ms, 50), r.busy, alone_ms, r.errors.size(), cpu_percent, o.loadgen_nice, o.worker_nice,
        load_average().c_str(), stats.c_str());
    std::fflush(stdout);
    std::fprintf(stderr, "  %-9s %-6s cheap p50 %8.0f us  p99 %8.0f us  max %8.0f us  heavy %6.1f/s  busy %ld%s\n",
                 mode.c_str(), phase, percentile(r.latency_us, 50), percentile(r.latency_us, 99),
                 percentile(r.latency_us, 100), static_cast<double>(r.heavy_completed) / o.seconds, r.busy,
                 r.errors.empty() ? "" : ("  ERRORS, first: " + r.errors.front()).c_str());
}

// Both phases of one mode on one server, in --slices slices taken in turn (idle, loaded, idle,
// ...), so that a neighbour's burst on a shared machine falls on both phases alike.
void measure_mode(const options& o, int round, const std::string& mode, const tcp::endpoint& to) {
    phase_result idle, loaded;
    double idle_cpu = 0, loaded_cpu = 0, cpu = 0;
    std::vector<double> alone;
    const double slice_seconds = o.seconds / o.slices;
    for (int k = 0; k < o.slices; ++k) {
        const double warmup = k == 0 ? o.warmup : std::min(o.warmup, 0.3);  // the pool is warm by then
        idle.append(run_phase(o, to, 0, warmup, slice_seconds, cpu));
        idle_cpu += cpu / o.slices;
        const auto ms = heavy_alone_ms(o, to, k == 0 ? 3 : 2);
        alone.insert(alone.end(), ms.begin(), ms.end());
        loaded.append(run_phase(o, to, o.heavy_clients, warmup, slice_seconds, cpu));
        loaded_cpu += cpu / o.slices;
    }
    const double alone_ms = percentile(alone, 50);
    const std::string stats = server_stats(to);
    print_phase(o, round, mode, "idle", 0, idle, idle_cpu, alone_ms, stats);
    print_phase(o, round, mode, "loaded", o.heavy_clients, loaded, loaded_cpu, alone_ms, stats);
}

// Of this thread, the only one of the load generator that does anything timed.
void set_nice(int nice) {
    if (setpriority(PRIO_PROCESS, 0, nice) != 0) usage("--loadgen-nice: setpriority failed (below 0 needs root)");
}

}  // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_TIMERSLACK, 1UL);  // timers on time (the default slack is 50 us)
    const std::string server = o.connect.empty() ? find_server(o) : "";
    int failures = 0;
    for (int round = 1; round <= o.rounds; ++round) {
        std::fprintf(stderr, "server_load: round %d of %d, load average %s\n", round, o.rounds, load_average().c_str());
        for (const auto& mode : o.modes) {
            try {
                if (!o.connect.empty()) {
                    const auto colon = o.connect.rfind(':');
                    asio::io_context io;
                    tcp::resolver resolver(io);
                    const auto to = *resolver
                                         .resolve(o.connect.substr(0, colon), o.connect.substr(colon + 1),
                                                  tcp::resolver::numeric_service)
                                         .begin();
                    if (o.loadgen_nice != 0) set_nice(o.loadgen_nice);
                    measure_mode(o, round, mode, to.endpoint());
                    continue;
                }
                std::vector<std::string> args{"--port", "0",         "--executor",
                                              mode,     "--workers", std::to_string(o.workers)};
                args.insert(args.end(), o.server_args.begin(), o.server_args.end());
                if (o.loadgen_nice != 0) set_nice(0);  // the server starts at the usual priority
                server_process process(server, args, o.server_log);
                if (o.loadgen_nice != 0) set_nice(o.loadgen_nice);
                if (o.worker_nice != 0)
                    std::fprintf(stderr, "  %-9s reniced %d threads of the server to %d\n", mode.c_str(),
                                 renice_workers(process.pid, o.worker_nice), o.worker_nice);
                measure_mode(o, round, mode, tcp::endpoint(asio::ip::make_address("127.0.0.1"), process.port));
                const std::string how = process.stop();
                std::fprintf(stderr, "  %-9s server stopped on SIGTERM: %s\n", mode.c_str(), how.c_str());
                if (how != "exit 0") ++failures;
            } catch (const std::exception& e) {
                std::fprintf(stderr, "server_load: %s: %s\n", mode.c_str(), e.what());
                ++failures;
            }
        }
    }
    return failures == 0 ? 0 : 1;
}
