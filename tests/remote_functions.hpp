#pragma once
// Functions, function objects and exception types that the process-pool and MPI-pool tests both
// ship to their workers. Each test binary is one translation unit and includes this once.
#include <stdexcept>

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

}  // namespace
