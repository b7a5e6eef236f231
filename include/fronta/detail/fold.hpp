#pragma once
// The fold of one chunk of `map_reduce`, wherever the chunk runs: f over the items, combined with
// reduce from the first result on (so `init` is used once, on the client, not once per chunk).

#include <functional>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace fronta::detail {

/// reduce(...reduce(reduce(f(x0), f(x1)), f(x2))...); throws what f or reduce throws.
template <class T, class F, class Reduce, class Input>
T fold_items(F& fn, Reduce& reduce, std::vector<Input>& items) {
    std::optional<T> acc;
    for (auto& item : items) {
        T value(std::invoke(fn, std::move(item)));
        if (acc)
            acc.emplace(std::invoke(reduce, std::move(*acc), std::move(value)));
        else
            acc.emplace(std::move(value));
    }
    if (!acc) throw std::logic_error("map_reduce: a chunk without items");
    return std::move(*acc);
}

}  // namespace fronta::detail
