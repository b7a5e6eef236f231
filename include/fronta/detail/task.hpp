#pragma once
// A task is one unit of work queued in an executor. `task_state` puts the task and its future's
// state in one allocation: submitting costs one `new`.

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

#include "fronta/detail/trace_hooks.hpp"
#include "fronta/future.hpp"

namespace fronta::detail {

// Exactly one of execute/cancel/fail is called, once; each gives up the queue's reference.
struct task {
    std::atomic<task*> next{nullptr};  // intrusive queue link, owned by the executor's queue
    local_task_trace traced;           // set at submit while a trace records (trace_hooks.hpp)
    virtual void execute() noexcept = 0;
    virtual void cancel() noexcept = 0;
    virtual void fail(std::exception_ptr error) noexcept = 0;

protected:
    ~task() = default;
};

template <class R, class Fn>
class task_state final : public state<R>, public task {
public:
    explicit task_state(Fn&& fn) : fn_(std::move(fn)) {}

    void execute() noexcept override {
        state_ref<state<R>> queue_reference(this);
        bool start = false;
        try {
            start = this->set_running_or_notify_cancel();
        } catch (const invalid_state_error&) {  // completed by someone else: nothing to run
        }
        if (traced.submitted == 0) {
            if (start) fulfil(*this, std::move(fn_));
            return;
        }
        if (!start) {
            trace_local_task(traced, 0, 0, trace_outcome::cancelled, nullptr);
            return;
        }
        run_traced();
    }
    void cancel() noexcept override {
        state_ref<state<R>> queue_reference(this);
        if (traced.submitted != 0) trace_local_task(traced, 0, 0, trace_outcome::cancelled, nullptr);
        state_base::cancel();
    }
    void fail(std::exception_ptr error) noexcept override {
        state_ref<state<R>> queue_reference(this);
        if (traced.submitted != 0) trace_local_task(traced, 0, 0, trace_outcome_of(error), error);
        try {
            this->set_exception(std::move(error));
        } catch (const invalid_state_error&) {  // already cancelled
        }
    }

private:
    // As fulfil, recording the task before its future completes: whoever sees it done and then
    // closes the trace finds it there.
    void run_traced() noexcept {
        const std::uint64_t began = trace_clock();
        bool recorded = false;
        try {
            if constexpr (std::is_void_v<R>) {
                std::move(fn_)();
                recorded = true;
                trace_local_task(traced, began, trace_clock(), trace_outcome::ok, nullptr);
                this->set_value();
            } else {
                R value = std::move(fn_)();
                recorded = true;
                trace_local_task(traced, began, trace_clock(), trace_outcome::ok, nullptr);
                this->set_value(std::move(value));
            }
        } catch (...) {
            const auto error = std::current_exception();
            if (!recorded) trace_local_task(traced, began, trace_clock(), trace_outcome::failed, error);
            this->set_exception(error);
        }
    }

    Fn fn_;
};

template <class F, class... Args>
using call_result_t = std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>;

/// As make_task, naming the task `name` in traces (map's chunks are named after their function).
template <class F, class... Args>
auto make_named_task(trace_name name, F&& f, Args&&... args) {
    using R = call_result_t<F, Args...>;
    auto bound = [fn = std::forward<F>(f), ... bound_args = std::forward<Args>(args)]() mutable -> R {
        return std::invoke(std::move(fn), std::move(bound_args)...);
    };
    auto* t = new task_state<R, decltype(bound)>(std::move(bound));
    t->add_ref();
    if (tracing_on()) {
        t->traced.submitted = trace_clock();
        t->traced.submitter = trace_thread_id();
        t->traced.name = name;
    }
    return std::pair<future<R>, task*>(future<R>(adopt_state_t{}, state_ref<state<R>>(t)), t);
}

/// Binds `f(args...)` (decay-copied, like std::thread) into a task; returns its future and the
/// task, which owns one reference until it is executed, cancelled or failed.
template <class F, class... Args>
auto make_task(F&& f, Args&&... args) {
    return make_named_task(trace_name_of(f), std::forward<F>(f), std::forward<Args>(args)...);
}

/// What every executor is underneath: a place to put tasks. The type-erased `executor`, `map` and
/// the concrete executors all talk to this. Executors that ship tasks to other processes extend it
/// (remote_sink.hpp); nothing here knows about shipping.
class task_sink {
public:
    virtual ~task_sink() = default;
    /// Takes ownership of `t`. On failure (shut down, broken) it cancels or fails `t`, then throws.
    virtual void enqueue(task* t) = 0;
    virtual void shutdown(bool wait, bool cancel_futures) = 0;
    /// What the owner's destructor does: wait for everything (threads), or stop what runs
    /// (processes, which can be stopped; see process_pool).
    virtual void shutdown_at_destruction() { shutdown(true, false); }
    /// How many tasks run at once; `map` sizes its window from it.
    virtual std::size_t concurrency() const noexcept = 0;
};

}  // namespace fronta::detail
