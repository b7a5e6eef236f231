// 14: the talk's "concurrent.futures within asyncio": an event-loop server that stays responsive
// while CPU-heavy requests run on an executor. Python:
//     result = await loop.run_in_executor(executor, crunch, units)
//     result = await asyncio.wrap_future(executor.submit(crunch, units))
// C++ (Asio, one io_context thread):
//     auto r = co_await fronta::asio::run_in_executor(pool, crunch, units, asio::use_awaitable);
//     auto r = co_await fronta::asio::async_get(pool.submit(crunch, units), asio::use_awaitable);
//
//   14_async_server [--port P] [--executor threads|processes|inline|async] [--workers N]
//                   [--max-heavy N] [--max-memory MIB] [--max-line BYTES] [--grace SECONDS]
//                   [--worker-nice N|idle] [--self-test] [--calibrate]
// Defaults: an ephemeral port (printed: "listening on 127.0.0.1:<port>"), threads, one worker per
// hardware thread, --max-heavy 4 * workers, --max-memory 256, --max-line 1024, --grace 10,
// --worker-nice 10.
//
// --worker-nice: the heavy work runs at this lower priority (Linux nice 0..19, or `idle`: the
// SCHED_IDLE policy, preempted by any other thread that wakes; each worker thread,
// worker process or std::async thread sets it first, through the pool's `initializer`). With as
// many workers as cores, the event-loop thread then still gets a core soon when a request
// arrives, while the heavy ones keep every core busy (bench/asio/server_load.cpp measures both;
// docs/benchmarks.md: on 2 cores, a thread pool's cheap p99 stays at the idle server's, a process
// pool's grows to 1-2.5 ms). 0 leaves the priority alone.
//
// A TCP line protocol on 127.0.0.1 (one request per line, replies in order):
//   ping                  -> pong
//   echo <text>           -> echo <text>
//   stats                 -> stats heavy_in_flight=.. heavy_served=.. busy=.. cancelled=.. dropped=..
//                            connections=.. rss_kib=.. heavy_running=..
//                            (in flight: admitted, queued or running; running: started; rss: this
//                            process and its children, a process pool's workers)
//   heavy <units> [<kib>] -> heavy <units> <checksum hex>   (about 100 µs of CPU per unit, over a
//                            buffer of <kib> KiB the task allocates; 14_async_server_work.hpp)
//                         -> busy    when admitting it would pass --max-heavy requests or
//                                    --max-memory MiB (kib + line buffer of each admitted one)
//   anything else         -> error <reason>  (the connection stays open)
//   a line past --max-line bytes -> error line too long, and the connection is closed
// Cheap requests are answered on the io_context thread; heavy ones go to the executor, and the
// connection watches its socket meanwhile: a client that hangs up cancels its task if it has not
// started (`cancelled` in stats) or drops its result (`dropped`); a client that only shuts down its
// sending side (`nc -N`) looks the same, and gets no reply. SIGINT/SIGTERM: stop accepting, finish
// the requests in flight (at most --grace seconds, 10 by default; then their connections are
// closed and the executor's tasks cancelled), shut the executor down, print a summary, exit 0.
// `--executor inline` runs heavy work on the io_context thread (the design not to copy: every
// client waits), `async` starts a std::async thread per heavy request; both for the benchmark.
#include <fronta/asio.hpp>
#include <fronta/fronta.hpp>

#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>

#include <array>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <future>
#include <list>
#include <optional>
#include <sched.h>
#include <set>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>
#include <variant>
#include <vector>

#include "14_async_server_work.hpp"

std::uint64_t heavy_task(std::uint32_t units, std::uint32_t kib) { return async_server::heavy_work(units, kib); }
FRONTA_REMOTE(heavy_task);

// Lowers the calling thread's priority (Linux: per thread): nice 1..19, or the idle policy
// (SCHED_IDLE, `--worker-nice idle`, passed as 20), which any thread of normal policy preempts as
// soon as it wakes. Run first on every worker thread (thread_pool's initializer), in every worker
// process (process_pool's), and on each std::async thread.
constexpr int idle_priority = 20;
void lower_priority(int nice) {
    const auto tid = static_cast<pid_t>(gettid());
    if (nice >= idle_priority) {
        const sched_param none{};
        if (sched_setscheduler(tid, SCHED_IDLE, &none) != 0) std::perror("14_async_server: sched_setscheduler");
    } else if (nice > 0 && setpriority(PRIO_PROCESS, static_cast<id_t>(tid), nice) != 0) {
        std::perror("14_async_server: setpriority");
    }
}
FRONTA_REMOTE(lower_priority);

namespace {

namespace net = ::asio;
using net::awaitable;
using net::use_awaitable;
using net::ip::tcp;
using namespace net::experimental::awaitable_operators;

enum class mode { threads, processes, inline_work, async_thread };

struct options {
    unsigned short port = 0;
    mode executor = mode::threads;
    std::string executor_name = "threads";
    std::size_t workers = std::max(1u, std::thread::hardware_concurrency());
    std::size_t max_heavy = 0;  // 0: 4 * workers
    std::size_t max_memory_mib = 256;
    std::size_t max_line = 1024;
    std::size_t grace_seconds = 10;  // at SIGINT/SIGTERM, how long requests in flight may still take
    std::size_t worker_nice = 10;    // the heavy work's priority below the event loop's
    bool self_test = false;
    bool calibrate = false;
};

// Resident memory of this process and of its children (a process pool's workers), in KiB.
std::uint64_t rss_kib() {
    auto vm_rss = [](const std::string& status) -> std::uint64_t {
        std::ifstream in(status);
        std::string key;
        while (in >> key) {
            if (key == "VmRSS:") {
                std::uint64_t kib = 0;
                in >> kib;
                return kib;
            }
            in.ignore(1 << 20, '\n');
        }
        return 0;
    };
    std::uint64_t total = vm_rss("/proc/self/status");
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
        std::ifstream children(task.path() / "children");
        std::string pid;
        while (children >> pid) total += vm_rss("/proc/" + pid + "/status");
    }
    return total;
}

// A parsed request line.
struct request {
    enum kind_t { ping, echo, stats, heavy, bad } kind = bad;
    std::string_view reason;  // for bad
    std::uint32_t units = 0, kib = async_server::default_kib;
};

bool parse_number(std::string_view text, std::uint32_t low, std::uint32_t high, std::uint32_t& out) {
    if (text.empty() || text.size() > 9) return false;
    std::uint32_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || value < low || value > high) return false;
    out = value;
    return true;
}

request parse(std::string_view line) {
    request r;
    for (const unsigned char c : line)
        if (c < 0x20 || c > 0x7e) {
            r.reason = "non-printable byte";
            return r;
        }
    const std::size_t space = line.find(' ');
    const std::string_view command = line.substr(0, space);
    const std::string_view rest = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    if (command == "echo") {
        r.kind = request::echo;
    } else if (command == "ping" || command == "stats") {
        r.kind = command == "ping" ? request::ping : request::stats;
        if (space != std::string_view::npos) {
            r.kind = request::bad;
            r.reason = "takes no argument";
        }
    } else if (command == "heavy") {
        const std::size_t second = rest.find(' ');
        const std::string_view units = rest.substr(0, second);
        const std::string_view kib = second == std::string_view::npos ? std::string_view() : rest.substr(second + 1);
        if (!parse_number(units, 1, async_server::max_units, r.units))
            r.reason = "bad number: heavy <units 1..100000> [<kib 1..65536>]";
        else if (second != std::string_view::npos && !parse_number(kib, 1, async_server::max_kib, r.kib))
            r.reason = "bad number: heavy <units 1..100000> [<kib 1..65536>]";
        else
            r.kind = request::heavy;
    } else {
        r.reason = line.empty() ? "empty line" : "unknown command (ping, echo, stats, heavy)";
    }
    return r;
}

std::string heavy_reply(std::uint32_t units, std::uint64_t checksum) {
    char text[64];
    std::snprintf(text, sizeof text, "heavy %u %016llx", units, static_cast<unsigned long long>(checksum));
    return text;
}

// What a heavy request's wait ended with: its checksum or its error (never thrown, so that the
// `||` below always takes the first to finish).
struct outcome {
    std::uint64_t value = 0;
    std::exception_ptr error;
};

// std::async per request, awaited without blocking the io_context: the thread posts the
// completion to the awaiting coroutine's executor. The std::future of each thread is kept (its
// destructor would wait for the thread) and reaped once ready.
template <class Token>
auto async_on_own_thread(std::vector<std::future<void>>& threads, int nice, std::uint32_t units, std::uint32_t kib,
                         Token&& token) {
    return net::async_initiate<Token, void(std::exception_ptr, std::uint64_t)>(
        [&threads, nice](auto handler, std::uint32_t n, std::uint32_t k) {
            // Outstanding work until the completion is posted: io_context::run() waits for it.
            std::optional work(
                net::prefer(net::get_associated_executor(handler), net::execution::outstanding_work.tracked));
            std::erase_if(threads, [](const std::future<void>& t) {
                return t.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
            });
            threads.push_back(std::async(std::launch::async, [handler = std::move(handler), work = std::move(work), n,
                                                              k, nice]() mutable {
                lower_priority(nice);
                outcome o;
                try {
                    o.value = heavy_task(n, k);
                } catch (...) {
                    o.error = std::current_exception();
                }
                net::post(*work, [handler = std::move(handler), o]() mutable { std::move(handler)(o.error, o.value); });
                work.reset();  // the thread's callable lives on in its std::future's state until reaped
            }));
        },
        token, units, kib);
}

// The completion of a detached coroutine: an exception that escaped it is printed, not lost.
auto report(const char* what) {
    return [what](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            std::fprintf(stderr, "14_async_server: %s: %s\n", what, x.what());
        }
    };
}

class server {
public:
    server(net::io_context& io, const options& opt, fronta::executor* pool)
        : io_(io), opt_(opt), pool_(pool), acceptor_(io, {net::ip::address_v4::loopback(), opt.port}), grace_(io),
          signals_(io, SIGINT, SIGTERM) {}

    unsigned short port() const { return acceptor_.local_endpoint().port(); }

    void start() {
        net::co_spawn(io_, accept_loop(), report("accept loop"));
        signals_.async_wait([this](std::error_code ec, int) {
            if (!ec) stop();
        });
    }

    // Graceful: no new connections, idle ones closed, busy ones closed after their reply; after
    // the grace period the rest are closed and the executor's pending tasks cancelled.
    void stop() {
        if (stopping_) return;
        stopping_ = true;
        std::error_code ignored;
        acceptor_.close(ignored);
        signals_.cancel();
        for (connection* c : connections_)
            if (c->reading) c->socket.cancel(ignored);
        grace_.expires_after(std::chrono::seconds(opt_.grace_seconds));
        grace_.async_wait([this](std::error_code ec) {
            if (ec) return;  // everything finished in time
            std::fprintf(stderr, "14_async_server: requests still running after %lld s: closing them\n",
                         static_cast<long long>(opt_.grace_seconds));
            // Tasks that wait are cancelled first, so that they count as cancelled, whatever
            // the closing and the pool's shutdown below complete first.
            closed_by_force_ = true;
            for (connection* c : connections_)
                if (c->task.valid()) c->task.cancel();
            std::error_code ignored_too;
            for (connection* c : connections_) c->socket.close(ignored_too);
            if (pool_ != nullptr) pool_->shutdown(/*wait=*/false, /*cancel_futures=*/true);
        });
        finish_if_idle();
    }

    std::string stats_line() const {
        return "stats heavy_in_flight=" + std::to_string(heavy_in_flight_) +
               " heavy_served=" + std::to_string(heavy_served_) + " busy=" + std::to_string(busy_) +
               " cancelled=" + std::to_string(cancelled_) + " dropped=" + std::to_string(dropped_) +
               " connections=" + std::to_string(connections_.size()) + " rss_kib=" + std::to_string(rss_kib()) +
               " heavy_running=" + std::to_string(heavy_running());
    }

    std::string summary() const {
        return "stopped: heavy_served=" + std::to_string(heavy_served_) + " busy=" + std::to_string(busy_) +
               " cancelled=" + std::to_string(cancelled_) + " dropped=" + std::to_string(dropped_) + " (executor " +
               opt_.executor_name + ")";
    }

    ~server() {
        for (auto& t : async_threads_) t.wait();
    }

private:
    struct connection {
        tcp::socket socket;
        std::string buffer;                  // bytes read and not yet taken: at most one line (--max-line + "\r\n")
        bool reading = false;                // waiting for a request: stop() may close it now
        bool hung_up = false;                // the client left while its heavy request was pending
        fronta::future<std::uint64_t> task;  // its pending heavy request on a pool, if any
    };

    std::size_t line_capacity() const { return opt_.max_line + 2; }  // the line and "\r\n"

    awaitable<void> accept_loop() {
        while (!stopping_) {
            std::error_code ec;
            tcp::socket socket = co_await acceptor_.async_accept(net::redirect_error(use_awaitable, ec));
            if (stopping_) co_return;
            if (ec) {  // out of descriptors, say: wait a little rather than spin
                net::steady_timer pause(io_, std::chrono::milliseconds(10));
                co_await pause.async_wait(net::redirect_error(use_awaitable, ec));
                continue;
            }
            net::co_spawn(io_, serve(std::move(socket)), report("connection"));
        }
    }

    awaitable<void> serve(tcp::socket socket) {
        connection c{std::move(socket)};
        connections_.insert(&c);
        std::error_code ec;
        while (!stopping_) {
            c.reading = true;
            const std::size_t n =
                co_await net::async_read_until(c.socket, net::dynamic_buffer(c.buffer, line_capacity()), '\n',
                                               net::redirect_error(use_awaitable, ec));
            c.reading = false;
            std::string reply;
            bool last = false;
            std::string_view line;
            if (!ec) {
                line = std::string_view(c.buffer.data(), n - 1);
                if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            }
            if (ec == net::error::not_found || line.size() > opt_.max_line) {
                reply = "error line too long";  // and the connection is closed: the rest is not read
                last = true;
            } else if (ec) {
                break;  // the client left, or stop() closed an idle connection
            } else {
                const request r = parse(line);
                switch (r.kind) {
                    case request::ping: reply = "pong"; break;
                    case request::echo: reply = line; break;
                    case request::stats: reply = stats_line(); break;
                    case request::bad: reply = "error " + std::string(r.reason); break;
                    case request::heavy: break;
                }
                c.buffer.erase(0, n);
                if (r.kind == request::heavy) reply = co_await heavy(c, r.units, r.kib);
                if (c.hung_up) break;
            }
            reply += '\n';
            co_await net::async_write(c.socket, net::buffer(reply), net::redirect_error(use_awaitable, ec));
            if (ec) break;
            if (last) {
                co_await linger(c);
                break;
            }
        }
        c.socket.shutdown(tcp::socket::shutdown_both, ec);
        c.socket.close(ec);
        connections_.erase(&c);
        finish_if_idle();
    }

    // Closing a socket with unread bytes resets the connection, and the reset may overtake the
    // reply. So: end our side, then read and discard what the client still sends until it closes
    // its side, for at most a second and a MiB.
    awaitable<void> linger(connection& c) {
        std::error_code ec;
        c.socket.shutdown(tcp::socket::shutdown_send, ec);
        net::steady_timer limit(io_, std::chrono::seconds(1));
        limit.async_wait([&c](std::error_code timer_ec) {
            std::error_code ignored;
            if (!timer_ec) c.socket.cancel(ignored);
        });
        std::array<char, 4096> chunk;
        for (std::size_t total = 0; !ec && total < (1u << 20);)
            total += co_await c.socket.async_read_some(net::buffer(chunk), net::redirect_error(use_awaitable, ec));
        limit.cancel();
    }

    // Admission, then the work on the chosen executor while watching the client.
    awaitable<std::string> heavy(connection& c, std::uint32_t units, std::uint32_t kib) {
        const std::uint64_t cost = std::uint64_t(kib) * 1024 + line_capacity();
        if (heavy_in_flight_ >= max_heavy() || admitted_bytes_ + cost > opt_.max_memory_mib << 20) {
            ++busy_;
            co_return "busy";
        }
        admit(cost);
        if (opt_.executor == mode::inline_work) {  // the io_context thread does it: nothing else runs meanwhile
            std::string reply = heavy_reply(units, heavy_task(units, kib));
            ++heavy_served_;
            release(cost);
            co_return reply;
        }
        fronta::future<std::uint64_t> task;
        auto entry = tasks_.end();  // the task in tasks_, on a pool
        std::variant<outcome, std::monostate> first;
        if (opt_.executor == mode::async_thread) {
            first = co_await (wait_for_thread(units, kib) || wait_for_hangup(c));
        } else {
            try {
                task = pool_->submit(heavy_task, units, kib);
            } catch (const std::exception& e) {  // the executor is shut down
                release(cost);
                co_return "error " + std::string(e.what());
            }
            // asyncio.wrap_future(executor.submit(...)): awaited here, the io_context runs on.
            // (submit, then async_get, rather than run_in_executor: the handle tells afterwards
            // whether a client that hung up had its task cancelled or its result dropped.)
            entry = tasks_.insert(tasks_.end(), task);
            c.task = task;
            first = co_await (wait_for(task) || wait_for_hangup(c));
        }
        // Forgets the task once it ended (its admission ends too).
        auto done_with = [this, cost, entry] {
            if (entry != tasks_.end()) tasks_.erase(entry);
            release(cost);
        };
        if (task.valid()) c.task = {};
        if (first.index() == 0 && !closed_by_force_) {
            done_with();
            const outcome& o = std::get<0>(first);
            if (o.error) {
                try {
                    std::rethrow_exception(o.error);
                } catch (const std::exception& e) {
                    co_return "error heavy failed: " + std::string(e.what());
                }
            }
            ++heavy_served_;
            co_return heavy_reply(units, o.value);
        }
        // The client hung up (or the grace period ended), and the `||` cancelled the wait:
        // async_get cancelled the task if it had not started. One that runs keeps its admission
        // until it ends (its memory is in use).
        c.hung_up = true;
        if (task.valid() && task.cancelled()) {
            ++cancelled_;
            done_with();
        } else {
            ++dropped_;
            if (task.valid() && !task.done())
                net::co_spawn(io_, drain(task, std::move(done_with)), report("drain"));
            else
                done_with();
        }
        co_return "";
    }

    static awaitable<outcome> wait_for(fronta::future<std::uint64_t> task) {
        outcome o;
        try {
            o.value = co_await fronta::asio::async_get(std::move(task), use_awaitable);
        } catch (...) {
            o.error = std::current_exception();
        }
        co_return o;
    }

    awaitable<outcome> wait_for_thread(std::uint32_t units, std::uint32_t kib) {
        outcome o;
        try {
            o.value = co_await async_on_own_thread(async_threads_, static_cast<int>(opt_.worker_nice), units, kib,
                                                   use_awaitable);
        } catch (...) {
            o.error = std::current_exception();
        }
        co_return o;
    }

    // Returns when the client hangs up (end of file, reset, or the socket closed by a forced
    // shutdown); cancelled by the `||` when the result comes first. What the client sends meanwhile
    // (its next request) is kept, up to one line; past that it is left unread in the socket.
    awaitable<void> wait_for_hangup(connection& c) {
        std::array<char, 512> chunk;
        std::error_code ec;
        for (;;) {
            if (c.buffer.size() >= line_capacity()) {
                net::steady_timer forever(io_, net::steady_timer::time_point::max());
                co_await forever.async_wait(net::redirect_error(use_awaitable, ec));
                co_return;  // only cancellation ends it, and then the result came first
            }
            const std::size_t room = std::min(chunk.size(), line_capacity() - c.buffer.size());
            const std::size_t n = co_await c.socket.async_read_some(net::buffer(chunk.data(), room),
                                                                    net::redirect_error(use_awaitable, ec));
            c.buffer.append(chunk.data(), n);
            if (ec) co_return;
        }
    }

    // A dropped task that runs: its admission ends when it does.
    template <class Done>
    awaitable<void> drain(fronta::future<std::uint64_t> task, Done done_with) {
        co_await wait_for(std::move(task));
        done_with();
    }

    // Admitted requests whose work has started: on a pool, those of its futures that run (a
    // process pool's have been sent to a worker); a std::async thread starts at once.
    std::uint64_t heavy_running() const {
        if (opt_.executor == mode::async_thread) return heavy_in_flight_;
        return std::count_if(tasks_.begin(), tasks_.end(), [](const auto& t) { return t.running(); });
    }

    std::size_t max_heavy() const { return opt_.max_heavy != 0 ? opt_.max_heavy : 4 * opt_.workers; }
    void admit(std::uint64_t cost) {
        ++heavy_in_flight_;
        admitted_bytes_ += cost;
    }
    void release(std::uint64_t cost) {
        --heavy_in_flight_;
        admitted_bytes_ -= cost;
        finish_if_idle();
    }
    void finish_if_idle() {
        if (stopping_ && connections_.empty() && heavy_in_flight_ == 0) grace_.cancel();
    }

    net::io_context& io_;
    const options& opt_;
    fronta::executor* pool_;
    tcp::acceptor acceptor_;
    net::steady_timer grace_;
    net::signal_set signals_;
    bool stopping_ = false;
    bool closed_by_force_ = false;  // the grace period ended: no reply goes out any more
    std::set<connection*> connections_;
    std::vector<std::future<void>> async_threads_;
    std::list<fronta::future<std::uint64_t>> tasks_;  // on a pool: the admitted ones
    // Everything below is touched only on the io_context thread.
    std::uint64_t heavy_in_flight_ = 0, admitted_bytes_ = 0;
    std::uint64_t heavy_served_ = 0, busy_ = 0, cancelled_ = 0, dropped_ = 0;
};

// --self-test: a client inside the same io_context checks each kind of reply, then stops the server.
awaitable<bool> self_test(server& s, bool* passed) {
    bool ok = true;
    tcp::socket socket(co_await net::this_coro::executor);
    co_await socket.async_connect({net::ip::address_v4::loopback(), s.port()}, use_awaitable);
    std::string buffer;
    auto ask = [&](std::string line) -> awaitable<std::string> {
        line += '\n';
        co_await net::async_write(socket, net::buffer(line), use_awaitable);
        const std::size_t n = co_await net::async_read_until(socket, net::dynamic_buffer(buffer), '\n', use_awaitable);
        std::string reply = buffer.substr(0, n - 1);
        buffer.erase(0, n);
        co_return reply;
    };
    auto check = [&](const std::string& what, const std::string& got, const std::string& want, bool prefix = false) {
        const bool good = prefix ? got.rfind(want, 0) == 0 : got == want;
        std::printf("%-24s -> %-44s %s\n", what.c_str(), got.c_str(), good ? "ok" : ("FAILED, want " + want).c_str());
        ok = ok && good;
    };
    check("ping", co_await ask("ping"), "pong");
    check("echo hello, world", co_await ask("echo hello, world"), "echo hello, world");
    check("heavy 20", co_await ask("heavy 20"), heavy_reply(20, async_server::heavy_work(20, 64)));
    check("heavy 5 1024", co_await ask("heavy 5 1024"), heavy_reply(5, async_server::heavy_work(5, 1024)));
    check("heavy 0", co_await ask("heavy 0"), "error bad number", true);
    check("frobnicate", co_await ask("frobnicate"), "error unknown command", true);
    check("\\x01\\xff", co_await ask("\x01\xff"), "error non-printable byte");
    check("stats", co_await ask("stats"),
          "stats heavy_in_flight=0 heavy_served=2 busy=0 cancelled=0 dropped=0 connections=1 ", true);
    s.stop();
    *passed = ok;
    co_return ok;
}

void usage() {
    std::fprintf(stderr,
                 "usage: 14_async_server [--port P] [--executor threads|processes|inline|async] [--workers N]\n"
                 "                       [--max-heavy N] [--max-memory MIB] [--max-line BYTES] [--grace SECONDS]\n"
                 "                       [--worker-nice N|idle] [--self-test] [--calibrate]\n");
}

std::optional<options> parse_options(int argc, char** argv) {
    options opt;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        auto number = [&](std::size_t low, std::size_t high, std::size_t& out) {
            std::uint32_t value = 0;
            if (i + 1 >= argc || !parse_number(argv[i + 1], std::uint32_t(low), std::uint32_t(high), value))
                return false;
            out = value;
            ++i;
            return true;
        };
        std::size_t value = 0;
        if (arg == "--self-test") {
            opt.self_test = true;
        } else if (arg == "--calibrate") {
            opt.calibrate = true;
        } else if (arg == "--executor" && i + 1 < argc) {
            opt.executor_name = argv[++i];
            if (opt.executor_name == "threads")
                opt.executor = mode::threads;
            else if (opt.executor_name == "processes")
                opt.executor = mode::processes;
            else if (opt.executor_name == "inline")
                opt.executor = mode::inline_work;
            else if (opt.executor_name == "async")
                opt.executor = mode::async_thread;
            else
                return std::nullopt;
        } else if (arg == "--port" && number(0, 65535, value)) {
            opt.port = static_cast<unsigned short>(value);
        } else if (arg == "--workers" && number(1, 4096, value)) {
            opt.workers = value;
        } else if (arg == "--max-heavy" && number(1, 1'000'000, value)) {
            opt.max_heavy = value;
        } else if (arg == "--max-memory" && number(1, 1'048'576, value)) {
            opt.max_memory_mib = value;
        } else if (arg == "--max-line" && number(1, 1 << 24, value)) {
            opt.max_line = value;
        } else if (arg == "--grace" && number(0, 3600, value)) {
            opt.grace_seconds = value;
        } else if (arg == "--worker-nice" && i + 1 < argc && std::string_view(argv[i + 1]) == "idle") {
            opt.worker_nice = idle_priority;
            ++i;
        } else if (arg == "--worker-nice" && number(0, 19, value)) {
            opt.worker_nice = value;
        } else {
            return std::nullopt;
        }
    }
    return opt;
}

}  // namespace

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // process-pool workers are copies of this program: they stay in here
    const std::optional<options> parsed = parse_options(argc, argv);
    if (!parsed) {
        usage();
        return 2;
    }
    const options& opt = *parsed;
    if (opt.calibrate) {
        const auto start = std::chrono::steady_clock::now();
        const std::uint64_t h = async_server::heavy_work(2000, async_server::default_kib);
        const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
        std::printf("one unit of heavy work: %.1f us (checksum %016llx)\n", us / 2000,
                    static_cast<unsigned long long>(h));
        return 0;
    }
    try {
        std::optional<fronta::executor> pool;
        const int nice = static_cast<int>(opt.worker_nice);
        if (opt.executor == mode::threads)
            pool.emplace(
                fronta::thread_pool({.workers = opt.workers, .initializer = [nice] { lower_priority(nice); }}));
        if (opt.executor == mode::processes)
            pool.emplace(fronta::process_pool(
                {.workers = opt.workers, .initializer = fronta::remote_call(lower_priority, nice)}));

        net::io_context io(1);
        server s(io, opt, pool ? &*pool : nullptr);
        s.start();
        std::printf("listening on 127.0.0.1:%u\n", s.port());
        std::fflush(stdout);
        bool passed = false;
        if (opt.self_test)
            net::co_spawn(io, self_test(s, &passed), [](std::exception_ptr e, bool) {
                if (!e) return;
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& x) {
                    std::fprintf(stderr, "14_async_server: self-test: %s\n", x.what());
                }
            });
        io.run();
        if (pool) pool->shutdown(/*wait=*/true);
        std::printf("%s\n", s.summary().c_str());
        if (opt.self_test) std::printf("self-test %s\n", passed ? "passed" : "FAILED");
        return opt.self_test && !passed ? 1 : 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "14_async_server: %s\n", e.what());
        return 2;
    }
}
