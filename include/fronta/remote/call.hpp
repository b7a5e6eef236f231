#pragma once
/// @file remote/call.hpp
/// @brief The client's side of a remote call, shared by the process and MPI pools: which callables
/// and arguments can be shipped (checked at compile time), the request they become, and the task
/// whose future a reply completes. Nothing here knows how bytes travel.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "fronta/detail/chunk_result.hpp"
#include "fronta/detail/remote_sink.hpp"
#include "fronta/detail/shared_state.hpp"
#include "fronta/detail/trace_hooks.hpp"
#include "fronta/future.hpp"
#include "fronta/remote/registry.hpp"

namespace fronta {
namespace remote {

/// One argument of a task whose request is put together once its inputs are done (dataflow on a
/// remote pool): literal bytes serialized at submit, or an input, filled when its future is done.
struct argument_piece {
    std::string bytes;         // the argument's serialization (cereal binary), as in `arguments`
    std::exception_ptr error;  // the input failed
    bool input = false;        // filled by an input (a future), not at submit
    bool cancelled = false;    // the input was cancelled
    /// For an input of the same pool whose reply carries descriptors: decodes the reply's result
    /// and serializes it again by value (so it travels without them).
    void (*reencode)(std::string_view result, std::string& out) = nullptr;
};

/// A task that runs elsewhere. The pool calls exactly one of complete/fail/cancel, once; each
/// gives up the pool's reference. Between attempts (retries) the pool keeps it.
///
/// Dataflow: a task may consume the results of other tasks of the same pool (see
/// remote/dataflow.hpp). A consumer waits with its arguments in `pieces` until every input is
/// done; a producer keeps a list of the consumers waiting for it and, when its reply arrives,
/// copies its result's bytes into their pieces before (and instead of, when no handle to its
/// future remains) decoding them: the bytes go from one reply into the next request without being
/// deserialized in the client.
class remote_task {
public:
    request call;
    std::string description;  // "do_some_math", for error messages
    int retries_left = -1;    // runs again on another worker after a crash or timeout; -1: the pool's default
    std::chrono::nanoseconds timeout{0};       // 0: the pool's default
    bool started = false;                      // marked running; stays so across retries
    fronta::detail::remote_task_trace traced;  // while a trace records (detail/trace_hooks.hpp)

    /// Marks the future running; false if it was cancelled (then call cancel()).
    virtual bool start() noexcept = 0;
    /// `attached`: descriptors that came with the reply (shared memory in the result). `reply` is
    /// valid only during the call: it may lie in shared memory the worker reuses afterwards.
    virtual void complete(std::string_view reply, attachments& attached) noexcept = 0;
    virtual void fail(std::exception_ptr error) noexcept = 0;
    virtual void cancel() noexcept = 0;

    // ---- dataflow ------------------------------------------------------------------------------
    /// The pool the task was given to (set by the pool): a consumer links to its inputs only when
    /// they belong to the same one.
    fronta::detail::remote_sink* pool = nullptr;
    /// A consumer's arguments, literal and inputs; put together into `call` once all are done.
    std::vector<argument_piece> pieces;

    /// References held by the links between tasks (a producer's list of its consumers).
    virtual void retain() noexcept = 0;
    virtual void drop() noexcept = 0;

    /// Producer side: adds `consumer`, whose piece `piece` waits for this task's result. False
    /// when the outcome is already known (then read the future instead).
    bool link_consumer(remote_task& consumer, std::uint32_t piece);
    /// Consumer side: the number of inputs to wait for, plus one that `inputs_linked` gives back
    /// once every input is linked.
    void expect_inputs(std::uint32_t n) noexcept { inputs_left_.store(n + 1, std::memory_order_relaxed); }
    void inputs_linked() noexcept { input_arrived(); }
    /// An input's piece was filled (or marked failed or cancelled): the last one settles the task.
    void input_arrived() noexcept;
    /// True once for the one who decides what becomes of a waiting task (its last input, or a
    /// shutdown that cancels it).
    bool claim_settlement() noexcept { return !settled_.exchange(true, std::memory_order_acq_rel); }
    /// Its entry in the pool's registry of tasks waiting for inputs (task_sink::enter), which
    /// holds one reference: a cancelling shutdown claims the task there and cancels it.
    struct waiting_link final : fronta::detail::waiting_entry {
        remote_task* owner = nullptr;
        bool claim() noexcept override { return owner->claim_settlement(); }
        void cancel_claimed() noexcept override { owner->cancel(); }
        void release() noexcept override { owner->drop(); }
    } waiting;
    /// Once all inputs are done: the first failed or cancelled input in argument order (as
    /// `error`, or `cancelled`), else puts the pieces together into `call` (`descriptors`: large
    /// arguments go to shared memory).
    bool assemble(bool descriptors, std::exception_ptr& error, bool& cancelled) noexcept;

protected:
    ~remote_task() = default;

    /// Producer side: the outcome goes to the consumers waiting for it. `forward_reply` returns the
    /// exception an exception reply carries (rebuilt once, for them and for the future alike).
    std::exception_ptr forward_reply(std::string_view reply) noexcept;
    void forward_error(const std::exception_ptr& error) noexcept;
    void forward_cancel() noexcept;

private:
    struct consumer_link {
        remote_task* consumer;
        std::uint32_t piece;
    };
    std::vector<consumer_link> close_links() noexcept;
    void settle() noexcept;

    std::mutex links_mutex_;
    bool outcome_known_ = false;
    std::vector<consumer_link> consumers_;
    std::atomic<std::uint32_t> inputs_left_{0};
    std::atomic<bool> settled_{false};
};

namespace detail {

template <class R>
struct reply_decoder {
    static R decode(std::string_view bytes) { return from_bytes<R>(bytes); }
};

template <class Value>
struct reply_decoder<fronta::detail::chunk_result<Value>> {
    static fronta::detail::chunk_result<Value> decode(std::string_view bytes) {
        auto reply = from_bytes<chunk_reply<Value>>(bytes);
        fronta::detail::chunk_result<Value> out;
        out.values = std::move(reply.values);
        if (reply.failed) out.error = registry::instance().rebuild(reply.error);
        out.bytes = bytes.size();
        return out;
    }
};

template <class R>
class remote_task_state final : public fronta::detail::state<R>, public remote_task {
public:
    bool start() noexcept override {
        try {
            return this->set_running_or_notify_cancel();
        } catch (const invalid_state_error&) {
            return false;
        }
    }
    void retain() noexcept override { this->add_ref(); }
    void drop() noexcept override { this->release(); }

    void complete(std::string_view reply, attachments& attached) noexcept override {
        fronta::detail::state_ref<fronta::detail::state<R>> pool_reference(this);
        if (traced.submitted != 0) note_reply(reply);
        call = request();  // the arguments and their descriptors are not needed any more
        attachment_scope scope(&attached);
        // Consumers waiting in the pool get the result's bytes (or the exception) first.
        const std::exception_ptr carried = forward_reply(reply);
        if (traced.submitted != 0) {
            complete_traced(reply);
            return;
        }
        if (carried) {
            set_exception_quietly(carried);
            return;
        }
        // Nobody can read the result (no handle to the future, no callback on it): it is not
        // decoded, and the state dies unfinished with the pool's reference.
        if (unreadable()) return;
        try {
            const std::string_view bytes = result_or_throw(reply);
            if constexpr (std::is_void_v<R>) {
                if (!bytes.empty()) throw deserialization_error("a void task replied with a value");
                this->set_value();
            } else {
                this->set_value(reply_decoder<R>::decode(bytes));
            }
        } catch (...) {
            set_exception_quietly(std::current_exception());
        }
    }
    void fail(std::exception_ptr error) noexcept override {
        fronta::detail::state_ref<fronta::detail::state<R>> pool_reference(this);
        if (traced.submitted != 0)
            fronta::detail::trace_remote_task(traced, fronta::detail::trace_clock(),
                                              fronta::detail::trace_outcome_of(error), error);
        call = request();
        forward_error(error);
        set_exception_quietly(std::move(error));
    }
    void cancel() noexcept override {
        fronta::detail::state_ref<fronta::detail::state<R>> pool_reference(this);
        if (traced.submitted != 0)
            fronta::detail::trace_remote_task(traced, fronta::detail::trace_clock(),
                                              fronta::detail::trace_outcome::cancelled, nullptr);
        call = request();
        forward_cancel();
        if (!fronta::detail::state_base::cancel()) set_exception_quietly(std::make_exception_ptr(cancelled_error()));
    }

private:
    // Only the pool's reference is left and no callback waits: no one can ever read the result.
    // (Nobody can take a new handle then, so the answer cannot change.)
    bool unreadable() noexcept {
        if (this->use_count() != 1) return false;
        fronta::detail::callback_node probe;
        probe.fire = [](fronta::detail::callback_node*, fronta::detail::state_base*) noexcept {};
        if (!this->add_callback(&probe)) return false;
        const bool others = probe.prev != nullptr;  // appended after a callback already there
        this->remove_callback(&probe);
        return !others;
    }

    // As complete, recording the task before its future completes (see task_state::run_traced).
    void complete_traced(std::string_view reply) noexcept {
        bool recorded = false;
        const auto record = [&](fronta::detail::trace_outcome outcome, const std::exception_ptr& error) {
            recorded = true;
            fronta::detail::trace_remote_task(traced, fronta::detail::trace_clock(), outcome, error);
        };
        try {
            const std::string_view bytes = result_or_throw(reply);
            if constexpr (std::is_void_v<R>) {
                if (!bytes.empty()) throw deserialization_error("a void task replied with a value");
                record(fronta::detail::trace_outcome::ok, nullptr);
                this->set_value();
            } else {
                R value = reply_decoder<R>::decode(bytes);
                record(fronta::detail::trace_outcome::ok, nullptr);
                this->set_value(std::move(value));
            }
        } catch (...) {
            const auto error = std::current_exception();
            if (!recorded) record(fronta::detail::trace_outcome::failed, error);
            set_exception_quietly(error);
        }
    }
    // The reply arrived: its size and the worker's run times (from its header).
    void note_reply(std::string_view reply) noexcept {
        traced.received = fronta::detail::trace_clock();
        traced.bytes_in = reply.size();
        if (reply.size() >= reply_header_size) {
            std::uint64_t times[2];
            std::memcpy(times, reply.data() + reply_times_offset, sizeof times);
            traced.run_start = times[0];
            traced.run_end = times[1];
        }
    }
    void set_exception_quietly(std::exception_ptr error) noexcept {
        try {
            this->set_exception(std::move(error));
        } catch (const invalid_state_error&) {  // already cancelled: nothing to report to
        }
    }
};

}  // namespace detail

/// What a callable F called with arguments Args becomes on the wire, and whether it can.
template <class F, class... Args>
struct shipping {
    using callable = std::decay_t<F>;
    static constexpr bool is_function =
        std::is_pointer_v<callable> && std::is_function_v<std::remove_pointer_t<callable>>;

    template <class C, bool Function = is_function>
    struct shape;
    template <class C>
    struct shape<C, true> {
        using result = typename detail::function_traits<C>::result;
        using arguments = typename detail::function_traits<C>::parameters;
        static constexpr bool callable_ok = true;
        static constexpr bool arguments_convert = std::is_constructible_v<arguments, std::decay_t<Args>...>;
    };
    template <class C>
    struct shape<C, false> {
        using result = std::invoke_result_t<C&, std::decay_t<Args>&&...>;
        using arguments = std::tuple<std::decay_t<Args>...>;
        static constexpr bool callable_ok = std::is_class_v<C> && (detail::stateless_v<C> || is_serializable_v<C>);
        static constexpr bool arguments_convert = true;
    };

    using result = typename shape<callable>::result;
    using arguments = typename shape<callable>::arguments;

    template <class Tuple>
    struct tuple_serializable;
    template <class... P>
    struct tuple_serializable<std::tuple<P...>> : std::bool_constant<detail::all_serializable<P...>()> {};

    static constexpr bool callable_ok = shape<callable>::callable_ok;
    static constexpr bool arguments_ok = shape<callable>::arguments_convert && tuple_serializable<arguments>::value;
    static constexpr bool result_ok = is_serializable_v<result>;
    static constexpr bool value = callable_ok && arguments_ok && result_ok;
    /// Why an argument or result cannot go: it is (or holds) a raw pointer.
    static constexpr bool arguments_hold_pointer = holds_raw_pointer_v<arguments>;
    static constexpr bool result_holds_pointer = holds_raw_pointer_v<result>;

    /// The entry name and callable state; throws std::invalid_argument for an unregistered function.
    static std::pair<std::string, std::string> identify(const callable& f) {
        if constexpr (is_function) {
            const auto address = reinterpret_cast<std::uintptr_t>(f);
            const entry* e = registry::instance().find_function(address);
            if (e == nullptr) throw_unregistered(reinterpret_cast<const void*>(f), typeid(callable));
            return {e->name, std::string()};
        } else {
            using entry_type = detail::functor_entry<callable, std::decay_t<Args>...>;
            (void)entry_type::registered;  // instantiates the registration in every process
            if constexpr (detail::stateless_v<callable>)
                return {entry_type::name(), std::string()};
            else
                return {entry_type::name(), to_bytes(f)};
        }
    }

    /// `descriptors`: the transport can pass file descriptors (a local socket), so shared buffers
    /// travel as descriptors and large arguments are serialized straight into shared memory;
    /// otherwise (MPI) they travel by value.
    static request single(bool descriptors, const callable& f, Args&&... args) {
        request r = named(descriptors, f);
        fill(r, descriptors, std::forward<Args>(args)...);
        return r;
    }
    /// A request naming f, without arguments yet (futures as arguments: they come when done).
    static request named(bool descriptors, const callable& f) {
        request r;
        attachment_scope scope(descriptors ? &r.attached : nullptr);
        std::tie(r.function, r.state) = identify(f);
        return r;
    }
    /// Serializes the arguments into `r` (named already).
    static void fill(request& r, bool descriptors, Args&&... args) {
        attachment_scope scope(descriptors ? &r.attached : nullptr);
        if constexpr (std::is_same_v<arguments, std::tuple<std::decay_t<Args>...>>)
            r.set_arguments(descriptors, std::as_const(args)...);  // no copy of a large argument first
        else
            r.set_arguments(descriptors, arguments(std::forward<Args>(args)...));
    }
};

/// Shipping for `map`: the callable with one element of the input as its argument.
template <class F, class Input>
struct chunk_shipping : shipping<F, Input> {
    using base = shipping<F, Input>;
    static request chunk(bool descriptors, const typename base::callable& f, std::vector<Input>&& items) {
        request r;
        attachment_scope scope(descriptors ? &r.attached : nullptr);
        std::tie(r.function, r.state) = base::identify(f);
        detail::chunk_items_t<typename base::arguments> converted;
        converted.reserve(items.size());
        for (auto& item : items) converted.emplace_back(std::move(item));
        r.set_arguments(descriptors, converted);
        r.chunk = true;
        return r;
    }
};

/// Compile-time check that `f(args...)` can run in another process, with messages naming the fix.
template <class F, class... Args>
constexpr void check_shippable() {
    using shipping = remote::shipping<F, Args...>;
    static_assert(shipping::callable_ok,
                  "this callable cannot be sent to another process. A lambda with captures, or a function object "
                  "without serialize(), cannot be shipped. Use a function registered with FRONTA_REMOTE(name), a "
                  "captureless lambda, or a struct that holds the captured values and has a serialize(Archive&) "
                  "member");
    static_assert(!shipping::arguments_hold_pointer,
                  "an argument is a raw pointer, whose address means nothing in another process: pass the value "
                  "itself (or a std::unique_ptr or std::shared_ptr to it), a std::string for text, a std::vector "
                  "for an array, or a fronta::shared_array for memory the workers should share");
    static_assert(shipping::arguments_hold_pointer || shipping::arguments_ok,
                  "an argument cannot be sent to another process: its type has no cereal serialization (add a "
                  "serialize(Archive&) member) or does not convert to the parameter type");
    static_assert(!shipping::result_holds_pointer,
                  "the result is a raw pointer, whose address means nothing in this process: return the value "
                  "itself, a std::unique_ptr or std::shared_ptr, a std::string or a std::vector");
    static_assert(shipping::result_holds_pointer || shipping::result_ok,
                  "the result cannot be sent back: its type has no cereal serialization (add a "
                  "serialize(Archive&) member)");
}

/// Why `f(args...)` cannot be shipped, for the error that the type-erased `executor` throws at
/// run time (remote pools say it at compile time, in check_shippable).
template <class Shipping>
std::string not_shippable_message(const char* function) {
    const std::string prefix = std::string(function) + ": ";
    if (!Shipping::callable_ok)
        return prefix +
               "this callable cannot be sent to another process: a lambda with captures or a function object "
               "without serialize() cannot be shipped; use a function registered with FRONTA_REMOTE(name), a "
               "captureless lambda, or a struct holding the captured values with a serialize() member";
    if (Shipping::arguments_hold_pointer)
        return prefix +
               "an argument is a raw pointer, whose address means nothing in another process: pass the value itself "
               "(or a std::unique_ptr or std::shared_ptr to it), a std::string for text, a std::vector for an array, "
               "or a fronta::shared_array for memory the workers should share";
    if (!Shipping::arguments_ok)
        return prefix +
               "an argument type cannot be serialized for another process; give it a serialize(Archive&) member "
               "(cereal)";
    if (Shipping::result_holds_pointer)
        return prefix +
               "the result is a raw pointer, whose address means nothing in this process: return the value itself, "
               "a std::unique_ptr or std::shared_ptr, a std::string or a std::vector";
    return prefix + "the result type cannot be serialized for another process; give it a serialize(Archive&) member";
}

/// A future and the task that completes it; the task holds one reference for the pool.
template <class R>
std::pair<future<R>, remote_task*> make_remote_task(request call, std::string description,
                                                    std::uint64_t submitted = 0) {
    auto* t = new detail::remote_task_state<R>();
    t->add_ref();
    t->call = std::move(call);
    t->description = std::move(description);
    if (submitted != 0) {
        t->traced.submitted = submitted;
        t->traced.queued = fronta::detail::trace_clock();
        t->traced.submitter = fronta::detail::trace_thread_id();
        t->traced.bytes_out = t->call.wire_size();
        t->traced.name = fronta::detail::trace_intern(t->description);
    }
    return {future<R>(fronta::detail::adopt_state_t{}, fronta::detail::state_ref<fronta::detail::state<R>>(t)), t};
}

}  // namespace remote

/// A call bound to its arguments, to run in a worker process: what `remote_call` makes. It is
/// checked and serialized when made, so it can be sent to every worker a pool starts.
class bound_call {
public:
    /// The function's name, for messages ("load_model").
    const std::string& description() const noexcept { return description_; }
    /// The serialized request, as it travels (shared buffers by value).
    const std::string& bytes() const noexcept { return bytes_; }

private:
    template <class F, class... Args>
    friend bound_call remote_call(F&& f, Args&&... args);
    std::string bytes_;
    std::string description_;
};

/// Binds `f` to `args` for a worker process, with the compile-time checks of `submit` (what can
/// be shipped); an unregistered function throws std::invalid_argument here. Its result is
/// discarded. Used as a pool's initializer, like Python's `initializer=f, initargs=(...)`:
/// @code
/// void load_model(const std::string& path);
/// FRONTA_REMOTE(load_model);
/// fronta::process_pool pool({.workers = 4, .initializer = fronta::remote_call(load_model, "model.bin")});
/// @endcode
template <class F, class... Args>
bound_call remote_call(F&& f, Args&&... args) {
    remote::check_shippable<F, Args...>();
    const remote::request request = remote::shipping<F, Args...>::single(false, f, std::forward<Args>(args)...);
    bound_call call;
    call.bytes_ = remote::to_bytes(request);
    call.description_ = request.function;
    return call;
}

}  // namespace fronta
