#pragma once
// What one chunk of a `map` produces, wherever it ran: the results of its items up to the first
// failure, and that failure.

#include <cstddef>
#include <exception>
#include <vector>

namespace fronta::detail {

template <class R>
struct chunk_result {
    std::vector<R> values;     // results of the items before the first failure
    std::exception_ptr error;  // what the item at values.size() threw, if any
    std::size_t bytes = 0;     // the reply's size when it came from another process; 0 in process
};

}  // namespace fronta::detail
