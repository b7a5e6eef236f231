#pragma once
// Futures as arguments on a remote pool (remote/dataflow.hpp), as cases that the process-pool and
// MPI-pool tests both run: chains and fans of values, move-only values, exceptions and
// cancellation; results forwarded from reply to request without being decoded in the client; a
// graph half done at shutdown. Each test binary is one translation unit and includes this once,
// sets `client_pid` right after fronta::init (workers never get there), and gives each case a
// fresh pool.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fronta/future.hpp"
#include "fronta/promise.hpp"
#include "fronta/remote/registry.hpp"
#include "fronta/shared_array.hpp"
#include "fronta/thread_pool.hpp"

namespace dataflow_cases {

using namespace std::chrono_literals;
constexpr auto limit = 60s;  // a result that takes longer is a hang: the test fails

// The process that runs the tests (0 in workers): tells a decode in the client from one in a worker.
inline pid_t client_pid = 0;
inline std::atomic<int> client_decodes{0};

// A value whose decoding in the client is counted.
struct counted {
    int value = 0;
    template <class Archive>
    void save(Archive& archive) const {
        archive(value);
    }
    template <class Archive>
    void load(Archive& archive) {
        archive(value);
        if (getpid() == client_pid) client_decodes.fetch_add(1);
    }
};

int add_one(int x) { return x + 1; }
FRONTA_REMOTE(add_one);
int add3(int a, int b, int c) { return a + b + c; }
FRONTA_REMOTE(add3);
int stencil3(int a, int b, int c) { return (a + b + c) % 1000003; }
FRONTA_REMOTE(stencil3);
int fail_with(int x) { throw std::invalid_argument("failed on " + std::to_string(x)); }
FRONTA_REMOTE(fail_with);
std::unique_ptr<int> bump(std::unique_ptr<int> p) {
    ++*p;
    return p;
}
FRONTA_REMOTE(bump);
int unbox(std::unique_ptr<int> p) { return *p; }
FRONTA_REMOTE(unbox);
counted make_counted(int v) { return counted{v}; }
FRONTA_REMOTE(make_counted);
counted pass_counted(counted c) { return counted{c.value * 2}; }
FRONTA_REMOTE(pass_counted);
int read_counted(counted c) { return c.value; }
FRONTA_REMOTE(read_counted);
std::vector<double> scale(std::vector<double> v, double k) {
    for (double& x : v) x *= k;
    return v;
}
FRONTA_REMOTE(scale);
double total(std::vector<double> v) {
    double sum = 0;
    for (double x : v) sum += x;
    return sum;
}
FRONTA_REMOTE(total);
fronta::shared_array<double> count_up(int n) {
    fronta::shared_array<double> out(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) out[static_cast<std::size_t>(i)] = i;
    return out;
}
FRONTA_REMOTE(count_up);
double sum_array(fronta::shared_array<double> values) {
    double sum = 0;
    for (double x : values) sum += x;
    return sum;
}
FRONTA_REMOTE(sum_array);
void nothing_much(int) {}
FRONTA_REMOTE(nothing_much);
std::string label(std::string prefix, int x) { return prefix + std::to_string(x); }
FRONTA_REMOTE(label);

// Says it started (a byte into the FIFO `<gate>.started`, if the client waits for it: it opens
// that FIFO only after a wait_started), then waits until the client opens the FIFO `gate` and
// writes a byte; returns `v`.
counted gated_counted(std::string gate, int v) {
    const int started = open((gate + ".started").c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (started >= 0) {
        const char byte = 1;
        [[maybe_unused]] auto n = write(started, &byte, 1);
        close(started);
    }
    const int in = open(gate.c_str(), O_RDONLY | O_CLOEXEC);
    char byte = 0;
    while (read(in, &byte, 1) < 0 && errno == EINTR) {
    }
    close(in);
    return counted{v};
}
FRONTA_REMOTE(gated_counted);
int gated(std::string gate, int v) { return gated_counted(std::move(gate), v).value; }
FRONTA_REMOTE(gated);

// A FIFO that gated tasks wait on; open_it() lets them go.
struct gate {
    std::string path;
    int started_fd = -1;
    gate() {
        char name[] = "/tmp/fronta-dataflow-XXXXXX";
        const int fd = mkstemp(name);
        close(fd);
        unlink(name);
        path = name;
        if (mkfifo(path.c_str(), 0600) != 0 || mkfifo((path + ".started").c_str(), 0600) != 0)
            throw std::runtime_error("mkfifo");
        // Open for reading before any task runs, so that the task's non-blocking open finds a reader.
        started_fd = open((path + ".started").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    }
    ~gate() {
        close(started_fd);
        unlink(path.c_str());
        unlink((path + ".started").c_str());
    }
    void wait_started() const {  // until the gated task said it runs
        pollfd ready{started_fd, POLLIN, 0};
        while (poll(&ready, 1, -1) < 0 && errno == EINTR) {
        }
        char byte = 0;
        [[maybe_unused]] auto n = read(started_fd, &byte, 1);
    }
    void open_it() const {  // blocks until the gated task opens its end
        const int out = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
        const char byte = 1;
        [[maybe_unused]] auto n = write(out, &byte, 1);
        close(out);
    }
};

// Fails the test (and ends the process) if a case does not end within its limit, so that a
// regression that hangs a pool's shutdown fails instead of hanging.
class watchdog {
public:
    explicit watchdog(std::chrono::seconds within = 120s)
        : thread_([this, within] {
              std::unique_lock lock(mutex_);
              if (!done_cv_.wait_for(lock, within, [this] { return done_; })) {
                  std::fprintf(stderr, "watchdog: the case did not end within %lds\n",
                               static_cast<long>(within.count()));
                  std::_Exit(3);
              }
          }) {}
    ~watchdog() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        done_cv_.notify_all();
        thread_.join();
    }

private:
    std::mutex mutex_;
    std::condition_variable done_cv_;
    bool done_ = false;
    std::thread thread_;
};

// ---- the cases -------------------------------------------------------------------------------

// A chain of n tasks, each consuming the previous one's future; the client keeps no handle to
// the intermediate ones.
template <class Pool>
void chain_of_values(Pool& pool, int n) {
    fronta::future<int> f = pool.submit(add_one, 0);
    for (int i = 1; i < n; ++i) f = pool.submit(add_one, std::move(f));
    EXPECT_EQ(f.get(limit), n);
}

// A 1-D stencil: each point of a step consumes three points of the previous one; the client
// keeps only the last row.
template <class Pool>
void stencil(Pool& pool, int width, int steps) {
    std::vector<fronta::future<int>> row;
    std::vector<int> expected(width);
    for (int i = 0; i < width; ++i) {
        row.push_back(pool.submit(add_one, i));
        expected[i] = i + 1;
    }
    for (int t = 1; t < steps; ++t) {
        std::vector<fronta::future<int>> next;
        std::vector<int> expected_next(width);
        for (int i = 0; i < width; ++i) {
            const int l = i == 0 ? i : i - 1, r = i == width - 1 ? i : i + 1;
            next.push_back(pool.submit(stencil3, row[l], row[i], row[r]));
            expected_next[i] = stencil3(expected[l], expected[i], expected[r]);
        }
        row = std::move(next);
        expected = std::move(expected_next);
    }
    for (int i = 0; i < width; ++i) EXPECT_EQ(row[i].get(limit), expected[i]) << "point " << i;
}

// A fan out and in: one producer, many consumers, one consumer of them all (through when_all's
// inputs: here, a tree of add3).
template <class Pool>
void fan_out_and_in(Pool& pool) {
    auto source = pool.submit(add_one, 9);  // 10
    std::vector<fronta::future<int>> leaves;
    for (int i = 0; i < 27; ++i) leaves.push_back(pool.submit(add3, source, i, 0));  // 10 + i
    while (leaves.size() > 1) {
        std::vector<fronta::future<int>> up;
        for (std::size_t i = 0; i < leaves.size(); i += 3)
            up.push_back(pool.submit(add3, std::move(leaves[i]), std::move(leaves[i + 1]), std::move(leaves[i + 2])));
        leaves = std::move(up);
    }
    EXPECT_EQ(leaves[0].get(limit), 27 * 10 + 26 * 27 / 2);
    EXPECT_EQ(source.get(limit), 10);
}

template <class Pool>
void move_only_values(Pool& pool) {
    auto f = pool.submit(bump, std::make_unique<int>(0));
    for (int i = 1; i < 40; ++i) f = pool.submit(bump, std::move(f));
    auto read = pool.submit(unbox, std::move(f));
    EXPECT_EQ(read.get(limit), 40);
}

template <class Pool>
void large_values(Pool& pool) {
    std::vector<double> v(300000, 1.0);  // 2.4 MB: past the shared-memory threshold
    auto f = pool.submit(scale, v, 2.0);
    for (int i = 0; i < 4; ++i) f = pool.submit(scale, std::move(f), 2.0);
    auto sum = pool.submit(total, std::move(f));
    EXPECT_EQ(sum.get(limit), 300000.0 * 32);
}

// A result that travels as a descriptor (a shared_array made by a worker) goes on by value.
template <class Pool>
void shared_array_results(Pool& pool) {
    auto made = pool.submit(count_up, 1000);
    auto sum = pool.submit(sum_array, std::move(made));
    EXPECT_EQ(sum.get(limit), 999.0 * 1000 / 2);
    gate g;  // the same when the consumer surely waits for it
    auto head = pool.submit(gated, g.path, 100);
    auto late = pool.submit(count_up, head);
    auto sum2 = pool.submit(sum_array, late);
    g.open_it();
    EXPECT_EQ(sum2.get(limit), 99.0 * 100 / 2);
    EXPECT_EQ(late.get(limit).size(), 100u);
}

template <class Pool>
void exceptions_propagate(Pool& pool) {
    auto bad = pool.submit(fail_with, 7);
    auto c1 = pool.submit(add_one, bad);
    auto c2 = pool.submit(add_one, std::move(c1));
    auto c3 = pool.submit(add3, pool.submit(add_one, 1), std::move(c2), pool.submit(fail_with, 8));
    for (auto* f : {&bad, &c3}) {
        try {
            f->get(limit);
            ADD_FAILURE() << "no exception";
        } catch (const std::invalid_argument& e) {
            EXPECT_STREQ(e.what(), "failed on 7");  // the first failed input, in argument order
        }
    }
    // The first failed input in argument order, whichever fails first.
    auto late = pool.submit(fail_with, 1);
    auto early = pool.submit(fail_with, 2);
    early.wait();
    auto both = pool.submit(add3, std::move(late), 0, std::move(early));
    EXPECT_THROW(
        {
            try {
                both.get(limit);
            } catch (const std::invalid_argument& e) {
                EXPECT_STREQ(e.what(), "failed on 1");
                throw;
            }
        },
        std::invalid_argument);
}

// A failure that reaches a long chain of waiting tasks fails them all, in bounded stack.
template <class Pool>
void long_chain_fails(Pool& pool, int n) {
    gate g;
    auto head = pool.submit(fail_with, pool.submit(gated, g.path, 3));
    fronta::future<int> f = pool.submit(add_one, head);
    for (int i = 1; i < n; ++i) f = pool.submit(add_one, std::move(f));
    g.open_it();
    EXPECT_THROW(f.get(limit), std::invalid_argument);
    EXPECT_THROW(head.get(limit), std::invalid_argument);
}

// Several threads build graphs on one pool at once, consuming each other's futures too.
template <class Pool>
void graphs_from_many_threads(Pool& pool) {
    constexpr int threads = 4, length = 150;
    std::vector<fronta::future<int>> ends(threads);
    std::vector<std::thread> builders;
    fronta::promise<int> start;
    auto shared_start = start.get_future();
    for (int k = 0; k < threads; ++k)
        builders.emplace_back([&, k] {
            fronta::future<int> f = pool.submit(add3, shared_start, k, 0);
            for (int i = 0; i < length; ++i) f = pool.submit(add_one, std::move(f));
            ends[k] = std::move(f);
        });
    start.set_value(1000);  // while they build
    for (auto& b : builders) b.join();
    auto all = pool.submit(add3, ends[0], ends[1], pool.submit(add3, ends[2], ends[3], 0));
    EXPECT_EQ(all.get(limit), threads * (1000 + length) + (0 + 1 + 2 + 3));
}

// A cancelled input cancels its consumer, which cancels its own consumers in the pool.
template <class Pool>
void cancellation_propagates(Pool& pool) {
    fronta::promise<int> outside;
    auto waiting = pool.submit(add_one, outside.get_future());
    auto next = pool.submit(add_one, waiting);
    auto last = pool.submit(add3, next, pool.submit(add_one, 1), 0);
    EXPECT_TRUE(outside.get_future().cancel());
    EXPECT_THROW(last.get(limit), fronta::cancelled_error);
    EXPECT_TRUE(waiting.cancelled());
    EXPECT_TRUE(next.cancelled());
    EXPECT_TRUE(last.cancelled());
    // A task cancelled by its user while it waits is not run.
    fronta::promise<int> later;
    auto dropped = pool.submit(add_one, later.get_future());
    auto after = pool.submit(add_one, dropped);
    EXPECT_TRUE(dropped.cancel());
    later.set_value(1);
    EXPECT_THROW(after.get(limit), fronta::cancelled_error);
}

// Inputs from elsewhere (a thread pool, a promise), done ones, and a future<void> dependency.
template <class Pool>
void inputs_from_elsewhere(Pool& pool) {
    fronta::thread_pool threads(1);
    auto local = threads.submit([] { return 20; });
    fronta::promise<int> p;
    auto here = pool.submit(add_one, 1);  // 2
    auto sum = pool.submit(add3, local, p.get_future(), here);
    fronta::promise<int> ready;
    ready.set_value(100);
    auto done_already = ready.get_future();
    auto sum2 = pool.submit(add3, done_already, sum, 0);
    auto side = pool.submit(nothing_much, 1);
    auto after = pool.submit(add_one, side, sum2);  // future<void> passes nothing
    auto text = pool.submit(label, "n=", after);
    p.set_value(300);
    EXPECT_EQ(sum.get(limit), 322);
    EXPECT_EQ(after.get(limit), 423);
    EXPECT_EQ(text.get(limit), "n=423");
}

// The producer's result goes to its consumer without being decoded in the client when no handle
// to the producer's future is left; a handle that reads it decodes it once.
template <class Pool>
void forwarded_without_client_decode(Pool& pool) {
    gate g;
    client_decodes = 0;
    auto consumer = pool.submit(read_counted, pool.submit(pass_counted, pool.submit(gated_counted, g.path, 21)));
    g.open_it();
    EXPECT_EQ(consumer.get(limit), 42);
    EXPECT_EQ(client_decodes.load(), 0);
    // The control: a producer whose handle is kept is decoded (once) when it completes.
    gate g2;
    auto kept = pool.submit(gated_counted, g2.path, 5);
    auto reader = pool.submit(read_counted, kept);
    g2.open_it();
    EXPECT_EQ(reader.get(limit), 5);
    EXPECT_EQ(kept.get(limit).value, 5);
    EXPECT_EQ(client_decodes.load(), 1);
}

// shutdown(cancel_futures = true) with a graph half done: tasks waiting for inputs are cancelled.
// `stops_running`: the pool stops the running task too (a process pool kills its worker).
template <class Pool>
void shutdown_cancels_waiting_tasks(Pool& pool, bool stops_running) {
    gate g;
    auto head = pool.submit(gated, g.path, 1);
    auto a = pool.submit(add_one, head);
    auto b = pool.submit(add_one, a);
    auto c = pool.submit(add3, a, b, pool.submit(add_one, 0));
    g.wait_started();
    pool.shutdown(false, true);
    for (auto* f : {&a, &b, &c}) EXPECT_THROW(f->get(limit), fronta::cancelled_error);
    EXPECT_TRUE(a.cancelled());
    EXPECT_TRUE(c.cancelled());
    if (!stops_running) {
        g.open_it();
        EXPECT_EQ(head.get(limit), 1);
    } else {
        EXPECT_THROW(head.get(limit), fronta::cancelled_error);
    }
}

// shutdown(wait = true) runs the tasks still waiting for inputs.
template <class Pool>
void shutdown_waits_for_waiting_tasks(Pool& pool) {
    gate g;
    auto head = pool.submit(gated, g.path, 1);
    auto a = pool.submit(add_one, head);
    auto b = pool.submit(add3, a, head, pool.submit(add_one, 0));
    std::thread opener([&] { g.open_it(); });
    pool.shutdown(true, false);
    opener.join();
    EXPECT_TRUE(b.done());
    EXPECT_EQ(b.get(), 2 + 1 + 1);
    EXPECT_THROW(pool.submit(add_one, b), fronta::shutdown_error);
}

}  // namespace dataflow_cases
