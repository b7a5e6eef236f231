#pragma once
// Functions, function objects and exception types that the process-pool and MPI-pool tests both
// ship to their workers. Each test binary is one translation unit and includes this once.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>

#include "fronta/remote/registry.hpp"

namespace {

double square(double x) { return x * x; }
FRONTA_REMOTE(square);

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

int not_registered(int x) { return x; }

// A function object with state: what a capturing lambda becomes to be shipped.
struct scaler {
    double factor = 1;
    double operator()(double x) const { return factor * x; }
    template <class Archive>
    void serialize(Archive& archive) {
        archive(factor);
    }
};

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
