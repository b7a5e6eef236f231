#pragma once
/// @file remote/registry.hpp
/// @brief What may run in another process, by name. The client and its workers run the same
/// executable, so both hold the same registry; only names and serialized bytes travel, never a code
/// address, and a worker runs nothing that was not registered.
///
/// Make a function remotable once, next to its definition:
/// @code
/// double do_some_math(double x) { return x * x; }
/// FRONTA_REMOTE(do_some_math);
/// pool.submit(do_some_math, 5.0);          // exactly as on a thread pool
/// @endcode
/// Function objects need no registration: a captureless lambda, or a struct whose state cereal can
/// serialize, is shipped with that state (the C++ analogue of a cloudpickled closure). A user
/// exception type survives the trip when registered: `FRONTA_REMOTE_EXCEPTION(my_error);`.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeindex>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fronta/errors.hpp"
#include "fronta/remote/attachments.hpp"
#include "fronta/remote/serialization.hpp"

namespace fronta::remote {

/// One thing a worker can run. Both functions read serialized input and append serialized output
/// to `out`; they throw what the user's code throws.
struct entry {
    std::string name;
    /// (callable state, serialized argument tuple) -> serialized result
    void (*call)(std::string_view state, std::string_view arguments, output_bytes& out) = nullptr;
    /// (callable state, serialized vector of argument tuples) -> serialized chunk reply
    void (*call_chunk)(std::string_view state, std::string_view items, output_bytes& out) = nullptr;
};

/// How an exception crosses: what kind it is, its type's name and its message.
struct exception_description {
    std::string type_name;  // registered or standard name, or the demangled type of anything else
    std::string message;
    bool known = false;  // true: rebuild as the same type; false: remote_error
    template <class Archive>
    void serialize(Archive& archive) {
        archive(type_name, message, known);
    }
};

class registry {
public:
    static registry& instance();

    /// Registers `e`; `address` identifies a plain function on the client (0 for function objects).
    /// The same name twice with different functions is recorded as a conflict (see `check`).
    bool add(entry e, std::uintptr_t address);
    const entry* find(std::string_view name) const;
    const entry* find_function(std::uintptr_t address) const;
    /// The address, in this process, of the plain function registered under `name`; 0 if none.
    std::uintptr_t find_address(std::string_view name) const;
    /// Throws std::logic_error naming every name registered twice for different functions.
    void check() const;

    /// Exceptions: how to rebuild a type from its message, by name and by type.
    void add_exception(std::string name, std::type_index type, std::exception_ptr (*make)(const std::string&));
    exception_description describe(std::exception_ptr error) const;
    std::exception_ptr rebuild(const exception_description& description) const;

private:
    registry();
    mutable std::shared_mutex mutex_;
    std::unordered_map<std::string, entry> by_name_;
    std::unordered_map<std::uintptr_t, std::string> by_address_;
    std::unordered_map<std::string, std::uintptr_t> address_by_name_;
    std::vector<std::string> conflicts_;
    struct exception_codec {
        std::string name;
        std::exception_ptr (*make)(const std::string&);
    };
    std::unordered_map<std::type_index, exception_codec> exceptions_by_type_;
    std::unordered_map<std::string, std::exception_ptr (*)(const std::string&)> exceptions_by_name_;
};

/// What the client sends for one task: which entry, the callable's state, and the arguments (one
/// tuple, or for a chunk of `map` a vector of tuples).
struct request {
    std::string function;
    std::string state;
    std::string arguments;
    bool chunk = false;
    attachments attached;  // shared memory the state or arguments refer to (not serialized)
    /// Large arguments, serialized into shared memory instead of `arguments` (process pools): the
    /// message is laid out around them in place (see `frame_shared_request`).
    shared_bytes shared_arguments;
    template <class Archive>
    void serialize(Archive& archive) {
        archive(function, state, arguments, chunk);
    }
    /// About how many bytes travel: the state and the arguments, inline or in shared memory.
    std::size_t wire_size() const noexcept {
        return function.size() + state.size() + arguments.size() + shared_arguments.size();
    }
    /// Serializes `values` as the arguments (a tuple, or its elements one after the other: the same
    /// bytes); with `shared`, large ones go straight to shared memory.
    template <class... T>
    void set_arguments(bool shared, const T&... values) {
        output_bytes out(shared ? shared_spill_threshold : output_bytes::never);
        if constexpr (sizeof...(T) != 0) append_bytes(out, values...);
        if (out.is_shared())
            shared_arguments = out.take_shared();
        else
            arguments = out.take_string();
    }
};

/// For a request with `shared_arguments`: writes the rest of its serialized form (the same bytes
/// as `to_bytes(r)` would give) around them and returns (offset, length) of the whole message in
/// the segment.
std::pair<std::uint64_t, std::uint64_t> frame_shared_request(request& r);

/// Replies start with a header of 24 bytes: the first is one of these, then (at 8 and 16) when the
/// worker started and ended the call (CLOCK_MONOTONIC nanoseconds: traces place the run with
/// them); the rest is the result or an exception_description. (A multiple of 8 keeps a result's
/// arrays as aligned in a reply as they are in the buffer it lies in, so they can be copied out
/// directly.)
inline constexpr char reply_result = 'R';
inline constexpr char reply_exception = 'E';
inline constexpr std::size_t reply_header_size = 24;
inline constexpr std::size_t reply_times_offset = 8;
inline std::string_view reply_header(char kind) {
    static constexpr char result[reply_header_size] = {reply_result};
    static constexpr char exception[reply_header_size] = {reply_exception};
    return {kind == reply_result ? result : exception, reply_header_size};
}

/// Runs one serialized request on a worker: looks the entry up, calls it, and returns the reply
/// bytes. Never throws: every failure, including an unknown name or unreadable bytes, becomes an
/// exception reply.
/// `exchange` holds the descriptors that came with the request, and receives those the reply needs.
std::string execute(std::string_view request_bytes, attachments& exchange);
/// As above, writing the reply into `reply` (emptied first), in shared memory when it is large.
void execute(std::string_view request_bytes, attachments& exchange, output_bytes& reply);
/// As above; a null `exchange`: no descriptors travel (MPI), so the reply holds everything by
/// value (a shared_array's contents, not its descriptor).
std::string execute(std::string_view request_bytes, attachments* exchange);
void execute(std::string_view request_bytes, attachments* exchange, output_bytes& reply);

/// An exception reply for `error` in `reply` (emptied first).
void failure_reply(std::exception_ptr error, output_bytes& reply);

/// Client side: turns a reply into the value bytes, or throws the exception it carries.
std::string_view result_or_throw(std::string_view reply);

/// The readable name of a type (demangled).
std::string type_name(const std::type_info& type);
/// A function's readable name from its symbol, without the parameter list.
std::string demangle_symbol(const char* symbol);
/// The readable name of the function at `address`, from the dynamic symbols or else the symbol
/// table of the file it was loaded from; empty when neither has it (a stripped binary).
std::string function_name(const void* address);
/// `name` as FRONTA_REMOTE can spell it at namespace scope (without "(anonymous namespace)::").
std::string remotable_name(std::string name);
/// The std::invalid_argument for a function that is not registered: names it (from the symbol
/// table) and says how to register it.
[[noreturn]] void throw_unregistered(const void* address, const std::type_info& type);

namespace detail {

template <class T>
struct function_traits;
template <class R, class... P>
struct function_traits<R (*)(P...)> {
    using result = R;
    using parameters = std::tuple<std::decay_t<P>...>;
};
template <class R, class... P>
struct function_traits<R (*)(P...) noexcept> : function_traits<R (*)(P...)> {};

// The reply to a chunk: results up to the first failure, and that failure.
template <class R>
struct chunk_reply {
    std::vector<R> values;
    bool failed = false;
    exception_description error;
    template <class Archive>
    void serialize(Archive& archive) {
        archive(values, failed, error);
    }
};

template <class R, class Call>
void write_result(output_bytes& out, Call&& call) {
    if constexpr (std::is_void_v<R>) {
        std::forward<Call>(call)();
    } else {
        append_bytes(out, std::forward<Call>(call)());
    }
}

// A stand-in for void results inside chunk replies.
struct nothing {
    template <class Archive>
    void serialize(Archive&) {}
};
template <class R>
using stored_t = std::conditional_t<std::is_void_v<R>, nothing, R>;

// The items of a chunk: for one-parameter callables a vector of that parameter (cereal writes a
// vector of numbers as one block), otherwise a vector of argument tuples.
template <class Tuple>
struct chunk_items {
    using type = std::vector<Tuple>;
};
template <class P>
struct chunk_items<std::tuple<P>> {
    using type = std::vector<P>;
};
template <class Tuple>
using chunk_items_t = typename chunk_items<Tuple>::type;

template <class Callable, class Item>
decltype(auto) call_with_item(Callable& callable, Item&& item) {
    if constexpr (requires { std::tuple_size<std::remove_cvref_t<Item>>::value; } &&
                  !std::is_invocable_v<Callable&, Item&&>)
        return std::apply(callable, std::forward<Item>(item));
    else
        return std::invoke(callable, std::forward<Item>(item));
}

template <class R, class Callable, class Tuple>
void run_chunk(Callable& callable, std::string_view items_bytes, output_bytes& out) {
    auto items = from_bytes<chunk_items_t<Tuple>>(items_bytes);
    chunk_reply<stored_t<R>> reply;
    reply.values.reserve(items.size());
    for (auto& item : items) {
        try {
            if constexpr (std::is_void_v<R>) {
                call_with_item(callable, std::move(item));
                reply.values.emplace_back();
            } else {
                reply.values.push_back(call_with_item(callable, std::move(item)));
            }
        } catch (...) {
            reply.failed = true;
            reply.error = registry::instance().describe(std::current_exception());
            break;
        }
    }
    append_bytes(out, reply);
}

template <auto Function>
struct function_entry {
    using traits = function_traits<decltype(Function)>;
    using R = typename traits::result;
    using arguments = typename traits::parameters;

    static void call(std::string_view, std::string_view argument_bytes, output_bytes& out) {
        auto args = from_bytes<arguments>(argument_bytes);
        write_result<R>(out, [&]() -> decltype(auto) { return std::apply(Function, std::move(args)); });
    }
    static void call_chunk(std::string_view, std::string_view items, output_bytes& out) {
        auto callable = Function;
        run_chunk<R, decltype(callable), arguments>(callable, items, out);
    }
};

template <class T>
inline constexpr bool stateless_v = std::is_empty_v<T> && std::is_default_constructible_v<T>;

template <class T>
T restore_callable(std::string_view state) {
    if constexpr (stateless_v<T>)
        return T{};
    else
        return from_bytes<T>(state);
}

// A function object called with arguments of types P...: registered the first time a program
// mentions this combination, in every process, before main (an inline variable's initializer).
template <class T, class... P>
struct functor_entry {
    using R = std::invoke_result_t<T&, P&&...>;
    using arguments = std::tuple<P...>;

    static void call(std::string_view state, std::string_view argument_bytes, output_bytes& out) {
        T callable = restore_callable<T>(state);
        auto args = from_bytes<arguments>(argument_bytes);
        write_result<R>(out, [&]() -> decltype(auto) { return std::apply(callable, std::move(args)); });
    }
    static void call_chunk(std::string_view state, std::string_view items, output_bytes& out) {
        T callable = restore_callable<T>(state);
        run_chunk<R, T, arguments>(callable, items, out);
    }
    static const std::string& name() {
        static const std::string n = "functor:" + std::string(typeid(functor_entry).name());
        return n;
    }
    static inline const bool registered =
        registry::instance().add(entry{name(), &functor_entry::call, &functor_entry::call_chunk}, 0);
};

template <class E>
std::exception_ptr make_exception_from_message(const std::string& message) {
    return std::make_exception_ptr(E(message));
}

template <class... P>
constexpr bool all_serializable() {
    return (is_serializable_v<P> && ...);
}

}  // namespace detail

/// Registers a function under `name`; used by FRONTA_REMOTE.
template <auto Function>
bool register_function(const char* name) {
    static_assert(std::is_pointer_v<decltype(Function)> &&
                      std::is_function_v<std::remove_pointer_t<decltype(Function)>>,
                  "FRONTA_REMOTE(f): f must name a function (for an overload set, use "
                  "FRONTA_REMOTE_AS(\"name\", static_cast<R(*)(Args...)>(&f)))");
    using entry_type = detail::function_entry<Function>;
    static_assert(!holds_raw_pointer_v<typename entry_type::arguments> && !holds_raw_pointer_v<typename entry_type::R>,
                  "FRONTA_REMOTE(f): f takes or returns a raw pointer, whose address means nothing in another "
                  "process; take or return the value itself, a std::vector, a std::string or a fronta::shared_array");
    static_assert(
        holds_raw_pointer_v<typename entry_type::arguments> ||
            []<class... P>(std::tuple<P...>*) {
                return detail::all_serializable<P...>();
            }(static_cast<typename entry_type::arguments*>(nullptr)),
        "FRONTA_REMOTE(f): a parameter type of f cannot be serialized; give it a serialize(Archive&) "
        "member (cereal) or include the cereal header for that standard type");
    static_assert(holds_raw_pointer_v<typename entry_type::R> || remote::is_serializable_v<typename entry_type::R>,
                  "FRONTA_REMOTE(f): the result type of f cannot be serialized; give it a serialize(Archive&) "
                  "member (cereal)");
    return registry::instance().add(entry{name, &entry_type::call, &entry_type::call_chunk},
                                    reinterpret_cast<std::uintptr_t>(Function));
}

/// Registers exception type `E` (constructible from a message string) under `name`.
template <class E>
bool register_exception(const char* name) {
    static_assert(std::is_base_of_v<std::exception, E>,
                  "FRONTA_REMOTE_EXCEPTION(E): E must derive from std::exception");
    static_assert(std::is_constructible_v<E, const std::string&>,
                  "FRONTA_REMOTE_EXCEPTION(E): E must be constructible from its message (a std::string)");
    registry::instance().add_exception(name, typeid(E), &detail::make_exception_from_message<E>);
    return true;
}

}  // namespace fronta::remote

#define FRONTA_REMOTE_CONCAT_INNER(a, b) a##b
#define FRONTA_REMOTE_CONCAT(a, b) FRONTA_REMOTE_CONCAT_INNER(a, b)

/// Makes a function runnable by process and MPI pools: `FRONTA_REMOTE(do_some_math);` at namespace
/// scope, once per program (a header included in several files is fine).
#define FRONTA_REMOTE(function)                                                            \
    [[maybe_unused]] static const bool FRONTA_REMOTE_CONCAT(fronta_remote_, __COUNTER__) = \
        ::fronta::remote::register_function<&function>(#function)

/// As FRONTA_REMOTE, with an explicit name and function pointer (overloads, templates).
#define FRONTA_REMOTE_AS(name, pointer)                                                    \
    [[maybe_unused]] static const bool FRONTA_REMOTE_CONCAT(fronta_remote_, __COUNTER__) = \
        ::fronta::remote::register_function<pointer>(name)

/// Lets exceptions of type `type` come back from workers as the same type with the same message.
#define FRONTA_REMOTE_EXCEPTION(type)                                                      \
    [[maybe_unused]] static const bool FRONTA_REMOTE_CONCAT(fronta_remote_, __COUNTER__) = \
        ::fronta::remote::register_exception<type>(#type)
