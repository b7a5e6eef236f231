#pragma once
/// @file remote/callable.hpp
/// @brief A callable as a member of a shipped function object: what lets `map_reduce` send its
/// function and its reduction in one task. A registered function travels as its name and is found
/// again by name in the worker (whose addresses differ); a captureless lambda travels as nothing;
/// a function object with serialize() travels as its state.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "fronta/detail/fold.hpp"
#include "fronta/remote/registry.hpp"

namespace fronta::remote {

template <class F>
inline constexpr bool is_function_pointer_v = std::is_pointer_v<F> && std::is_function_v<std::remove_pointer_t<F>>;

/// True when a callable of type F can travel inside a callable_box.
template <class F>
inline constexpr bool boxable_v =
    is_function_pointer_v<F> || (std::is_class_v<F> && (detail::stateless_v<F> || is_serializable_v<F>));

/// A callable that cereal can write and read (see the file comment). Writing an unregistered
/// function throws std::invalid_argument naming it.
template <class F>
struct callable_box {
    F f{};

    template <class Archive>
        requires boxable_v<F>
    void save(Archive& archive) const {
        if constexpr (is_function_pointer_v<F>) {
            const entry* e = registry::instance().find_function(reinterpret_cast<std::uintptr_t>(f));
            if (e == nullptr) throw_unregistered(reinterpret_cast<const void*>(f), typeid(F));
            archive(e->name);
        } else if constexpr (!detail::stateless_v<F>) {
            archive(f);
        }
    }
    template <class Archive>
        requires boxable_v<F>
    void load(Archive& archive) {
        if constexpr (is_function_pointer_v<F>) {
            std::string name;
            archive(name);
            const std::uintptr_t address = registry::instance().find_address(name);
            if (address == 0) throw std::invalid_argument("function `" + name + "` is not registered in this worker");
            f = reinterpret_cast<F>(address);
        } else if constexpr (!detail::stateless_v<F>) {
            archive(f);
        }
    }
};

/// The name of a callable for messages: a registered function's name, else its type's.
template <class F>
std::string describe_callable(const F& f) {
    if constexpr (is_function_pointer_v<F>) {
        if (const entry* e = registry::instance().find_function(reinterpret_cast<std::uintptr_t>(f))) return e->name;
        const std::string symbol = function_name(reinterpret_cast<const void*>(f));
        if (!symbol.empty()) return symbol;
    }
    return type_name(typeid(F));
}

template <class F>
struct shipped_apply;
/// A map over several ranges is named after its function.
template <class F>
std::string describe_callable(const shipped_apply<F>& apply) {
    return describe_callable(apply.fn.f);
}

/// One chunk of `map_reduce` in a worker: `fn` over the items, folded with `reduce` there, so one
/// value travels back (or the first failure).
template <class F, class Reduce, class T, class Input>
struct fold_chunk {
    callable_box<F> fn;
    callable_box<Reduce> reduce;

    template <class Archive>
        requires(boxable_v<F> && boxable_v<Reduce>)
    void serialize(Archive& archive) {
        archive(fn, reduce);
    }
    detail::chunk_reply<T> operator()(std::vector<Input> items) {
        detail::chunk_reply<T> reply;
        try {
            reply.values.push_back(fronta::detail::fold_items<T>(fn.f, reduce.f, items));
        } catch (...) {
            reply.failed = true;
            reply.error = registry::instance().describe(std::current_exception());
        }
        return reply;
    }
};

/// f applied to the members of each tuple of `map(f, xs, ys, ...)`, shipped with f.
template <class F>
struct shipped_apply {
    callable_box<F> fn;

    template <class Archive>
        requires boxable_v<F>
    void serialize(Archive& archive) {
        archive(fn);
    }
    template <class Tuple>
    decltype(auto) operator()(Tuple&& members) {
        return std::apply(fn.f, std::forward<Tuple>(members));
    }
};

namespace detail {
template <class F>
struct holds_raw_pointer<shipped_apply<F>> : std::false_type {};
// The callables inside are boxed: no raw pointer travels.
template <class F>
struct holds_raw_pointer<callable_box<F>> : std::false_type {};
template <class F, class Reduce, class T, class Input>
struct holds_raw_pointer<fold_chunk<F, Reduce, T, Input>>
    : std::disjunction<holds_raw_pointer<std::remove_cv_t<T>>, holds_raw_pointer<std::remove_cv_t<Input>>> {};
}  // namespace detail

}  // namespace fronta::remote
