#pragma once
// Futures as task arguments (`ex.submit(f, a, fut_b)`): which arguments are inputs, what the task
// receives for each, and the join that queues the task once every input is done, without a thread
// waiting. Used by every executor's submit (executor_base, remote_executor_base, `executor`).
//
//   submit ── all inputs done? ── yes ──> settle: queue it, or fail / cancel it as its inputs did
//                 │ no
//                 v
//   input_join: registered with the sink (shutdown can cancel it or wait for it), one callback
//               node per pending input; the last arrival (or the submitter) settles it.

#include <array>
#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "fronta/detail/chunk_result.hpp"
#include "fronta/detail/task.hpp"
#include "fronta/future.hpp"
#include "fronta/map.hpp"
#include "fronta/promise.hpp"

namespace fronta::detail {

/// How an argument of (decayed) type A reaches the task: as itself (A&&), as the value of an
/// input future (T), or not at all (a `future<void>` is a dependency only).
template <class A>
struct argument_traits {
    static constexpr bool input = false;
    using passed = std::tuple<A&&>;
    using values = std::tuple<A>;
    static passed pass(A& a) noexcept { return passed(std::move(a)); }
};
template <class T>
struct argument_traits<future<T>> {
    static constexpr bool input = true;
    using passed = std::tuple<T>;
    using values = std::tuple<T>;
    // The input is done: the value is moved out when this is the last handle (or T is
    // move-only), or when the join saw that only this task could read it (see input_join), else
    // copied.
    static passed pass(future<T>& f) {
        if constexpr (copyable_value_v<T>)
            if (f.state()->sole_reader() && !f.state()->has_exception()) return passed(f.state()->take_value());
        return passed(std::move(f).get());
    }
};
template <>
struct argument_traits<future<void>> {
    static constexpr bool input = true;
    using passed = std::tuple<>;
    using values = std::tuple<>;
    static passed pass(future<void>&) noexcept { return {}; }
};

/// True when some argument is a future: submit waits for it.
template <class... Args>
inline constexpr bool has_inputs = (argument_traits<std::decay_t<Args>>::input || ...);
/// How many arguments are futures.
template <class... Args>
inline constexpr std::size_t input_count = (std::size_t{argument_traits<std::decay_t<Args>>::input} + ... + 0);

/// What the task passes to f: a tuple of A&& and T, as the arguments come.
template <class... Args>
using passed_t = decltype(std::tuple_cat(std::declval<typename argument_traits<std::decay_t<Args>>::passed>()...));
/// The same as values (what a remote pool serializes).
template <class... Args>
using argument_values_t =
    decltype(std::tuple_cat(std::declval<typename argument_traits<std::decay_t<Args>>::values>()...));

/// Passes the (done) arguments to f.
template <class F, class... A>
decltype(auto) call_with_inputs(F&& f, A&... args) {
    return std::apply(std::forward<F>(f), std::tuple_cat(argument_traits<A>::pass(args)...));
}

template <class F, class Tuple>
struct invocable_with;
template <class F, class... P>
struct invocable_with<F, std::tuple<P...>> : std::is_invocable<std::decay_t<F>, P...> {
    using result = std::invoke_result<std::decay_t<F>, P...>;
};

/// What `submit(f, args...)` with futures among args can run, and what it returns.
template <class F, class... Args>
concept submittable_with_inputs = invocable_with<F, passed_t<Args...>>::value;
template <class F, class... Args>
using input_result_t = typename invocable_with<F, passed_t<Args...>>::result::type;

/// The error for an empty future (default-constructed or moved from) given as an input.
[[noreturn]] inline void throw_empty_input(const char* caller) {
    throw invalid_state_error(std::string(caller) +
                              ": a future argument is empty (default-constructed or moved from), so there is no value "
                              "to wait for");
}

/// Adds the state of each future among `args` to `out`, in argument order. Throws
/// invalid_state_error for an empty future.
template <class Array, class... A>
void collect_inputs(Array& out, const A&... args) {
    std::size_t k = 0;
    (
        [&] {
            if constexpr (argument_traits<std::decay_t<A>>::input) {
                if (!args.valid()) throw_empty_input("submit");
                out[k++] = args.state();
            }
        }(),
        ...);
}

/// What a settled task does: `run` queues it (and may throw, for submitters: a refusing sink has
/// cancelled or failed the task already), `fail` and `cancel` dispose of it as its inputs did.
/// The first input, in argument order, that is cancelled or failed decides.
/// The count of inputs known only at run time (a chunk of `map` over futures).
inline constexpr std::size_t dynamic_inputs = 0;

/// The input states of a join: an array when their count is known at compile time, else a vector.
template <std::size_t N>
using input_states = std::conditional_t<N == dynamic_inputs, std::vector<state_base*>, std::array<state_base*, N>>;

template <class Inputs>
bool all_done(const Inputs& inputs) noexcept {
    for (state_base* s : inputs)
        if (!s->done()) return false;
    return true;
}

/// Waits for input states through callback nodes, then settles `Action` once. Lives until the
/// submitter, every node and the sink's registry have let go of it.
template <std::size_t N, class Action>
class input_join final : public waiting_entry {
public:
    /// Registers the task with `sink` and with each input; it is settled when they are done.
    /// Throws shutdown_error (the task cancelled) if the sink is closed.
    static void start(task_sink& sink, input_states<N> inputs, Action action) {
        auto* j = new input_join(sink, std::move(inputs), std::move(action));
        for (std::size_t i = 0; i < j->inputs_.size(); ++i) {
            node& n = j->nodes_[i];
            if (!j->inputs_[i]->add_callback(&n)) {  // done already
                j->release();
                j->arrive();  // (never the last: the submitter's arrival is still to come)
            }
        }
        // Registered only once every node is in place: a cancelling shutdown unlinks them.
        if (!sink.enter(j)) {
            j->claim();  // nobody else can: the submitter has not arrived
            j->cancel_claimed();
            j->release();  // the registry's reference, not taken
            j->arrive();
            j->release();
            task_sink::throw_closed();
        }
        j->arrive();  // the submitter's own arrival: no settling before it is registered
        j->release();
    }

    bool claim() noexcept override { return !claimed_.exchange(true, std::memory_order_acq_rel); }

    void cancel_claimed() noexcept override {
        for (std::size_t i = 0; i < inputs_.size(); ++i)
            if (inputs_[i]->remove_callback(&nodes_[i])) release();  // it will not fire now
        action_.cancel();
    }

    void release() noexcept override {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

private:
    struct node : callback_node {
        input_join* owner = nullptr;
    };
    using nodes = std::conditional_t<N == dynamic_inputs, std::unique_ptr<node[]>, std::array<node, N>>;

    input_join(task_sink& sink, input_states<N> inputs, Action action)
        : sink_(sink), inputs_(std::move(inputs)), action_(std::move(action)), remaining_(inputs_.size() + 1),
          refs_(inputs_.size() + 2) {
        if constexpr (N == dynamic_inputs) nodes_ = std::make_unique<node[]>(inputs_.size());
        for (std::size_t i = 0; i < inputs_.size(); ++i) {
            node& n = nodes_[i];
            n.owner = this;
            n.fire = [](callback_node* self, state_base* done) noexcept {
                input_join* j = static_cast<node*>(self)->owner;
                if (done != nullptr) {  // (null: dropped after a cancel claimed the task)
                    // The producer (or whoever fires this) holds one reference while the
                    // callbacks run, and the task's handle is the other: if that is all, and no
                    // callback comes after this one, only the task can read the value, so it may
                    // move it out even if the producer has not let go yet when the task runs.
                    if (self->next == nullptr && done->use_count() == 2) done->mark_sole_reader();
                    j->arrive();
                }
                j->release();
            };
        }
    }

    void arrive() noexcept {
        if (remaining_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
        if (!claim()) return;  // a cancelling shutdown took it
        try {
            action_.settle(inputs_);
        } catch (...) {  // the sink refused it, and cancelled or failed the task itself
        }
        // Out of the registry only now: a shutdown that waits for waiting tasks must find this
        // one queued.
        sink_.leave(this);
        release();  // the registry's reference
    }

    task_sink& sink_;         // kept alive by the action, which holds the sink
    input_states<N> inputs_;  // kept alive by the task, which holds the futures
    nodes nodes_;
    Action action_;
    std::atomic<std::size_t> remaining_;  // the inputs and the submitter
    std::atomic<std::size_t> refs_;       // the nodes, the submitter and the registry
    std::atomic<bool> claimed_{false};
};

/// For a task: queued once its inputs are done, or failed / cancelled as they are (see settle).
template <class Derived>
struct settle_as_task {
    template <class Inputs>
    void settle(const Inputs& inputs) {
        auto& self = static_cast<Derived&>(*this);
        for (state_base* s : inputs) {
            if (s->current_status() == status::cancelled) return self.cancel();
            if (s->has_exception()) return self.fail(s->exception_after_done());
        }
        self.run();
    }
};

/// Settles an in-process task on its sink.
struct local_settle : settle_as_task<local_settle> {
    std::shared_ptr<task_sink> sink;
    task* t;
    void run() { sink->enqueue(t); }
    void fail(std::exception_ptr e) noexcept { t->fail(std::move(e)); }
    void cancel() noexcept { t->cancel(); }
};

/// Settles `action` once the `inputs` are done: at once if they are (throwing what it throws),
/// else from the callback of the last one.
template <std::size_t N, class Action>
void when_inputs_done(task_sink& sink, input_states<N> inputs, Action action) {
    if (all_done(inputs)) {
        action.settle(inputs);
        return;
    }
    input_join<N, Action>::start(sink, std::move(inputs), std::move(action));
}

/// `submit(f, args...)` with futures among args, on an in-process sink.
template <class F, class... Args>
auto submit_with_inputs(const std::shared_ptr<task_sink>& target, F&& f, Args&&... args) {
    using R = input_result_t<F, Args...>;
    target->refuse_if_closed();
    std::array<state_base*, input_count<Args...>> inputs{};
    collect_inputs(inputs, args...);
    const trace_name name = trace_name_of(f);
    auto bound = [fn = std::forward<F>(f), ... bound_args = std::forward<Args>(args)]() mutable -> R {
        return call_with_inputs(std::move(fn), bound_args...);
    };
    auto [fut, t] = make_named_task(name, std::move(bound));
    when_inputs_done<input_count<Args...>>(*target, inputs, local_settle{{}, target, t});
    return fut;
}

/// What `map` passes to f for an input element: the value of a future, else the element.
template <class Input>
struct element_value {
    using type = Input;
};
template <class T>
struct element_value<future<T>> {
    using type = T;
};
template <class Input>
using element_value_t = typename element_value<Input>::type;

/// Settles a chunk of `map` over futures: once its inputs are done, their values go to `inner`
/// (the executor's chunk submitter) as a chunk; the first failed or cancelled input ends the chunk
/// there with its exception, as if f had thrown it (map raises it at that element).
template <class T, class Result>
struct chunk_of_inputs {
    chunk_submitter<T, Result> inner;
    std::vector<future<T>> items;
    promise<chunk_result<Result>> out;
    future<chunk_result<Result>> out_future;  // to see whether the map gave up on it

    template <class Inputs>
    void settle(const Inputs&) {
        if (out_future.cancelled()) return;
        std::vector<T> values;
        values.reserve(items.size());
        std::exception_ptr error;
        for (auto& item : items) {
            if (item.state()->has_exception()) {
                error = item.exception();
                break;
            }
            values.push_back(std::get<0>(argument_traits<future<T>>::pass(item)));
        }
        items.clear();
        if (values.empty()) {
            finish(chunk_result<Result>{{}, error, 0});
            return;
        }
        std::size_t wire_bytes = 0;
        future<chunk_result<Result>> chunk;
        try {
            chunk = inner(std::move(values), wire_bytes);
        } catch (...) {
            try {
                out.set_exception(std::current_exception());
            } catch (const invalid_state_error&) {  // the map cancelled it meanwhile
            }
            return;
        }
        chunk.add_done_callback([out = std::move(out), error](const future<chunk_result<Result>>& done) mutable {
            future<chunk_result<Result>> handle = done;
            try {
                chunk_result<Result> r = handle.take();
                if (!r.error) r.error = error;  // an earlier failure of f comes first
                out.set_value(std::move(r));
            } catch (const invalid_state_error&) {  // the map cancelled it meanwhile
            } catch (...) {
                try {
                    out.set_exception(std::current_exception());
                } catch (const invalid_state_error&) {
                }
            }
        });
    }
    void cancel() noexcept { out_future.cancel(); }  // (a closed sink refused it)
    void finish(chunk_result<Result>&& r) {
        try {
            out.set_value(std::move(r));
        } catch (const invalid_state_error&) {  // the map cancelled it meanwhile
        }
    }
};

/// A chunk submitter for inputs that are futures: each chunk waits (on `sink`'s registry, without a
/// thread) for its futures, then goes to `inner` with their values.
template <class T, class Result>
chunk_submitter<future<T>, Result> unwrap_chunk_inputs(chunk_submitter<T, Result> inner,
                                                       std::shared_ptr<task_sink> sink) {
    return [inner = std::move(inner), sink = std::move(sink)](std::vector<future<T>>&& items,
                                                              std::size_t&) -> future<chunk_result<Result>> {
        sink->refuse_if_closed();
        input_states<dynamic_inputs> states;
        states.reserve(items.size());
        for (const auto& item : items) {
            if (!item.valid()) throw_empty_input("map");
            states.push_back(item.state());
        }
        chunk_of_inputs<T, Result> action{inner, std::move(items), {}, {}};
        action.out_future = action.out.get_future();
        auto out = action.out_future;
        when_inputs_done<dynamic_inputs>(*sink, std::move(states), std::move(action));
        return out;
    };
}

}  // namespace fronta::detail
