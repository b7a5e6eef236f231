#pragma once
// Functions, function objects and exception types that the process-pool and MPI-pool tests both
// ship to their workers. Each test binary is one translation unit and includes this once.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fronta/as_completed.hpp"
#include "fronta/future.hpp"
#include "fronta/promise.hpp"
#include "fronta/remote/registry.hpp"

namespace {

double square(double x) { return x * x; }
FRONTA_REMOTE(square);

// The processes where reductions ran: f gives none, each reduction adds its own process.
std::vector<int> no_sites(int) { return {}; }
FRONTA_REMOTE(no_sites);
std::vector<int> join_sites(std::vector<int> a, std::vector<int> b) {
    a.insert(a.end(), b.begin(), b.end());
    a.push_back(static_cast<int>(getpid()));
    return a;
}
FRONTA_REMOTE(join_sites);

struct parse_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
FRONTA_REMOTE_EXCEPTION(parse_error);
struct unregistered_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// 0: std::out_of_range, 1: std::invalid_argument, 2: a registered type, 3: an unregistered type;
// otherwise returns `kind`.
int throw_kind(int kind) {
    switch (kind) {
        case 0: throw std::out_of_range("index 7 of 3");
        case 1: throw std::invalid_argument("bad argument");
        case 2: throw parse_error("line 3: unexpected ','");
        case 3: throw unregistered_error("mine");
        default: return kind;
    }
}
FRONTA_REMOTE(throw_kind);

[[maybe_unused]] int not_registered(int x) { return x; }

// Busy for about `microseconds`, then says which process ran it.
int busy_pid(int microseconds) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(microseconds);
    while (std::chrono::steady_clock::now() < until) {
    }
    return static_cast<int>(getpid());
}
FRONTA_REMOTE(busy_pid);

// A function object with state: what a capturing lambda becomes to be shipped.
struct scaler {
    double factor = 1;
    double operator()(double x) const { return factor * x; }
    template <class Archive>
    void serialize(Archive& archive) {
        archive(factor);
    }
};

// Blocks until the test opens the `gate` at `path` (a FIFO); returns 1.
int wait_at_gate(std::string path) {
    const int fd = open(path.c_str(), O_RDONLY);
    if (fd < 0) return -1;
    char byte = 0;
    const auto n = read(fd, &byte, 1);
    close(fd);
    return static_cast<int>(n);
}
FRONTA_REMOTE(wait_at_gate);

// A FIFO that `wait_at_gate` tasks (on workers of this machine) block on until `open()`: tasks
// queued behind one on a pool of one worker are certain to complete on the pool's dispatcher,
// after the test has attached its callbacks.
class gate {
public:
    gate() : path_("/tmp/fronta-gate-" + std::to_string(getpid()) + "-" + std::to_string(next_++)) {
        unlink(path_.c_str());
        if (mkfifo(path_.c_str(), 0600) != 0) throw std::runtime_error("mkfifo " + path_ + ": " + std::strerror(errno));
    }
    gate(const gate&) = delete;
    gate& operator=(const gate&) = delete;
    ~gate() {
        if (fd_ >= 0) close(fd_);
        unlink(path_.c_str());
    }
    const std::string& path() const { return path_; }
    // The byte waits in the FIFO for the task, read now or later, as long as this end stays open.
    // With `waiters`, that many tasks pass (one byte each; at most a pipe's 64 KiB).
    void open(std::size_t waiters = 1) {
        fd_ = ::open(path_.c_str(), O_RDWR);  // never blocks, unlike a writer-only open
        const std::string bytes(waiters, 'x');
        if (fd_ < 0 || write(fd_, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()))
            throw std::runtime_error("cannot open the gate " + path_);
    }

private:
    static inline int next_ = 0;
    std::string path_;
    int fd_ = -1;
};

// A regression of the callback tests would stall the pool, destructor included: end the test
// process with a failure instead of hanging (CTest runs each test, or each MPI job, on its own).
template <class T>
decltype(auto) get_or_die(const fronta::future<T>& f, const char* what,
                          std::chrono::seconds limit = std::chrono::seconds(60)) {
    if (!f.wait_for(limit)) {
        std::fprintf(stderr, "FAILED: %s: no result within %lld s; the pool is stalled\n", what,
                     static_cast<long long>(limit.count()));
        std::fflush(stderr);
        std::_Exit(3);
    }
    return f.get();
}

// What the callback tests' done callbacks do: once `f` is done, wait on another task of the same
// pool, the way that stalled it when callbacks ran on its dispatcher. Gives f's value + 16.
template <class Pool>
fronta::future<double> plus_a_square_waited_on_the_pool(Pool& pool, fronta::future<double> f) {
    auto result = std::make_shared<fronta::promise<double>>();
    auto out = result->get_future();
    f.add_done_callback([&pool, result](const fronta::future<double>& done) {
        try {
            result->set_value(done.get() + pool.submit(square, 4.0).get());
        } catch (...) {
            result->set_exception(std::current_exception());
        }
    });
    return out;
}

// What the callback tests' continuations do: wait on three more tasks of the same pool, the way
// that stalled it when callbacks ran on its dispatcher. Returns 3 v².
template <class Pool>
double three_squares_waited_on_the_pool(Pool& pool, double v) {
    std::vector<fronta::future<double>> more;
    for (int k = 0; k < 3; ++k) more.push_back(pool.submit(square, v));
    double total = 0;
    for (const auto& m : fronta::as_completed(more)) total += m.get();
    return total;
}

// A pool's initializer (Python's initializer=): counts its runs in the worker, which tasks report.
int initializer_runs = 0;
void count_initializer_run(int add) { initializer_runs += add; }
FRONTA_REMOTE(count_initializer_run);
// (pid, how often the initializer ran in this process); busy for `microseconds` first, so that
// tasks spread over the workers.
std::pair<int, int> pid_and_initializer_runs(int microseconds) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(microseconds);
    while (std::chrono::steady_clock::now() < until) {
    }
    return {static_cast<int>(getpid()), initializer_runs};
}
FRONTA_REMOTE(pid_and_initializer_runs);
void failing_initializer(std::string message) { throw std::runtime_error(message); }
FRONTA_REMOTE(failing_initializer);
void crashing_initializer(int code) {
    if (code == 0) std::abort();
    std::_Exit(code);
}
FRONTA_REMOTE(crashing_initializer);

}  // namespace
