#pragma once
/// @file remote/dataflow.hpp
/// @brief Futures as arguments on a remote pool, without a detour through the client: when a task
/// of a process_pool or mpi_pool consumes the future of another task of the same pool, the
/// producer's result bytes go from its reply into the consumer's request inside the pool
/// (remote_task::forward_reply), never deserialized here.
///
/// At submit, the consumer's request is built with its literal arguments serialized, one piece
/// each, and a piece left open for each future argument; the pool holds it as a waiting task
/// (remote_sink::hold_waiting). An input that is a pending task of the same pool, whose value type
/// is exactly the parameter's (so its bytes are the argument's bytes), links the consumer to
/// itself; any other input (done already, or from elsewhere) fills its piece from a done callback
/// that serializes its value. The last input to arrive settles the consumer: it is queued with its
/// pieces put together, or fails with the first failed input's exception (argument order), or is
/// cancelled. Submits whose future types differ from their parameters' take the generic path.

#include <array>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "fronta/detail/remote_sink.hpp"
#include "fronta/detail/shared_state.hpp"
#include "fronta/future.hpp"
#include "fronta/remote/call.hpp"

namespace fronta::remote::dataflow {

template <class A>
struct future_value {
    static constexpr bool is_future = false;
    using type = A;
};
template <class T>
struct future_value<fronta::future<T>> {
    static constexpr bool is_future = true;
    using type = T;
};

template <class A>
inline constexpr bool is_future_v = future_value<std::decay_t<A>>::is_future;
/// A `future<void>` argument is a dependency only: it passes nothing.
template <class A>
inline constexpr bool passes_nothing_v = is_future_v<A> && std::is_void_v<typename future_value<std::decay_t<A>>::type>;
/// What an argument stands for: T for a future<T>, itself otherwise.
template <class A>
using value_t = typename future_value<std::decay_t<A>>::type;

template <class... Args>
inline constexpr bool has_future_v = (is_future_v<Args> || ...);

template <class... T>
struct type_list {};

// The values the call receives: the arguments, futures replaced by their values, future<void> left out.
template <class List, class... A>
struct collect {
    using type = List;
};
template <class... T, class A, class... Rest>
struct collect<type_list<T...>, A, Rest...>
    : collect<std::conditional_t<passes_nothing_v<A>, type_list<T...>, type_list<T..., value_t<A>>>, Rest...> {};
template <class... A>
using values_t = typename collect<type_list<>, A...>::type;

template <class F, class List>
struct shipping_for;
template <class F, class... V>
struct shipping_for<F, type_list<V...>> {
    using type = remote::shipping<F, V...>;
};
/// How `f(args...)` ships once its futures are replaced by their values.
template <class F, class... Args>
using shipping_t = typename shipping_for<F, values_t<Args...>>::type;

namespace detail {

// The parameter each argument goes to (-1 for a future<void>).
template <class... Args>
constexpr std::array<int, sizeof...(Args)> parameter_indices() {
    std::array<int, sizeof...(Args)> out{};
    int next = 0, i = 0;
    ((out[i++] = passes_nothing_v<Args> ? -1 : next++), ...);
    return out;
}

template <class Arguments, int I>
struct parameter {
    using type = std::tuple_element_t<static_cast<std::size_t>(I), Arguments>;
};
template <class Arguments>
struct parameter<Arguments, -1> {
    using type = void;
};

// Each argument fits its parameter: a future's value type is the parameter's exactly (its bytes
// are the argument's bytes), any other argument converts.
template <class Arguments, class... Args, std::size_t... I>
constexpr bool fits(std::index_sequence<I...>) {
    return (([] {
                using A = std::tuple_element_t<I, std::tuple<Args...>>;
                if constexpr (passes_nothing_v<A>) {
                    return true;
                } else {
                    using P = typename parameter<Arguments, parameter_indices<Args...>()[I]>::type;
                    if constexpr (is_future_v<A>)
                        return std::is_same_v<value_t<A>, P>;
                    else
                        return std::is_constructible_v<P, A&&>;
                }
            }()) &&
            ...);
}

template <class F, class... Args>
constexpr bool forwardable() {
    using shipping = shipping_t<F, Args...>;
    if constexpr (!shipping::value) {
        return false;
    } else {
        using arguments = typename shipping::arguments;
        constexpr std::size_t values = [] {
            std::size_t n = 0;
            ((n += passes_nothing_v<Args> ? 0 : 1), ...);
            return n;
        }();
        if constexpr (std::tuple_size_v<arguments> != values)
            return false;
        else
            return fits<arguments, Args...>(std::index_sequence_for<Args...>());
    }
}

// A result of the same pool that came with descriptors: decoded and serialized again by value.
template <class T>
void reencode(std::string_view result, std::string& out) {
    T value = from_bytes<T>(result);
    attachment_scope by_value(nullptr);
    out.clear();
    append_bytes(out, value);
}

// Fills a consumer's piece from a future's state once it is done (any future: done already, from
// another executor, or a task of the pool whose outcome is known).
template <class T>
struct input_callback : fronta::detail::callback_node {
    remote_task* consumer;
    std::uint32_t piece;

    input_callback(remote_task* c, std::uint32_t p) : consumer(c), piece(p) {
        fire = &fired;
        c->retain();
    }
    static void fired(fronta::detail::callback_node* self, fronta::detail::state_base* done) noexcept {
        auto* node = static_cast<input_callback*>(self);
        argument_piece& into = node->consumer->pieces[node->piece];
        if (done == nullptr) {
            into.error = std::make_exception_ptr(broken_promise());
        } else if (done->current_status() == fronta::detail::status::cancelled) {
            into.cancelled = true;
        } else if (done->has_exception()) {
            into.error = done->exception_after_done();
        } else if constexpr (!std::is_void_v<T>) {
            try {
                attachment_scope by_value(nullptr);
                append_bytes(into.bytes, static_cast<fronta::detail::state<T>*>(done)->value_ref());
            } catch (...) {
                into.error = std::current_exception();
            }
        }
        node->consumer->input_arrived();
        node->consumer->drop();
        delete node;
    }
};

template <class T>
void wait_for_input(const fronta::future<T>& input, fronta::detail::remote_sink& target, remote_task& consumer,
                    std::uint32_t piece) {
    auto* state = input.state();
    if (auto* producer = dynamic_cast<remote::detail::remote_task_state<T>*>(state);
        producer != nullptr && producer->pool == &target) {
        if constexpr (!std::is_void_v<T>) consumer.pieces[piece].reencode = &reencode<T>;
        if (producer->link_consumer(consumer, piece)) return;
    }
    auto* node = new input_callback<T>(&consumer, piece);
    if (!state->add_callback(node)) input_callback<T>::fired(node, state);
}

}  // namespace detail

/// Whether `f(args...)` (some of them futures) can take the forwarding path at all.
template <class F, class... Args>
inline constexpr bool forwardable_v = has_future_v<Args...> && detail::forwardable<F, Args...>();

namespace detail {

// The literal argument I serialized as its parameter's type (its own piece).
template <class Arguments, int Index, class A>
std::string literal_bytes(A&& a) {
    using P = typename parameter<Arguments, Index>::type;
    std::string out;
    if constexpr (std::is_same_v<std::decay_t<A>, P>)
        append_bytes(out, std::as_const(a));
    else
        append_bytes(out, P(std::forward<A>(a)));
    return out;
}

}  // namespace detail

/// Submits `f(args...)` to `target` as a task waiting for its future arguments: those that are
/// pending tasks of the same pool forward their result's bytes, the others are serialized when
/// done. Returns nothing when an argument is an empty future (the generic path says so). Throws
/// what hold_waiting throws (shut down, broken).
template <class F, class... Args>
    requires forwardable_v<F, Args...>
std::optional<future<typename shipping_t<F, Args...>::result>> try_submit(
    fronta::detail::remote_sink& target, std::optional<int> retries, std::optional<std::chrono::milliseconds> timeout,
    F&& f, Args&&... args) {
    using shipping = shipping_t<F, Args...>;
    using result = typename shipping::result;
    using arguments = typename shipping::arguments;
    constexpr auto index = detail::parameter_indices<Args...>();

    bool usable = true;
    const auto look = [&]<class A>(const A& a) {
        if constexpr (is_future_v<A>) usable = usable && a.valid();  // else the generic path says what is wrong
    };
    (look(args), ...);
    if (!usable || !target.forwards_inputs()) return std::nullopt;

    const std::uint64_t submitted = fronta::detail::tracing_on() ? fronta::detail::trace_clock() : 0;
    const bool descriptors = target.passes_descriptors();
    request call;
    std::vector<argument_piece> pieces(sizeof...(Args));
    std::uint32_t inputs = 0;
    auto refs = std::forward_as_tuple(std::forward<Args>(args)...);
    {
        attachment_scope scope(descriptors ? &call.attached : nullptr);
        std::tie(call.function, call.state) = shipping::identify(f);
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (
                [&] {
                    using A = std::tuple_element_t<I, std::tuple<Args...>>;
                    if constexpr (is_future_v<A>) {
                        pieces[I].input = true;
                        ++inputs;
                    } else {
                        pieces[I].bytes =
                            detail::literal_bytes<arguments, index[I]>(std::forward<A>(std::get<I>(refs)));
                    }
                }(),
                ...);
        }(std::index_sequence_for<Args...>());
    }
    std::string description = call.function;
    auto [fut, t] = make_remote_task<result>(std::move(call), std::move(description), submitted);
    t->pieces = std::move(pieces);
    t->expect_inputs(inputs);
    if (retries) t->retries_left = *retries;
    if (timeout) t->timeout = *timeout;
    target.hold_waiting(t);  // throws (with t cancelled or failed) when the pool takes no task
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (
            [&] {
                using A = std::tuple_element_t<I, std::tuple<Args...>>;
                if constexpr (is_future_v<A>) detail::wait_for_input(std::get<I>(refs), target, *t, I);
            }(),
            ...);
    }(std::index_sequence_for<Args...>());
    t->inputs_linked();
    // A future passed as an rvalue is given up, as the generic path's task takes it: when no
    // other handle is left, its result is forwarded and never decoded here.
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (
            [&] {
                using A = std::tuple_element_t<I, std::tuple<Args...>>;
                if constexpr (is_future_v<A> && !std::is_lvalue_reference_v<A>) {
                    [[maybe_unused]] const std::decay_t<A> given_up = std::move(std::get<I>(refs));
                }
            }(),
            ...);
    }(std::index_sequence_for<Args...>());
    return std::move(fut);
}

}  // namespace fronta::remote::dataflow
