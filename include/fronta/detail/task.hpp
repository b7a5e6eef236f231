#pragma once
// A task is one unit of work queued in an executor. `task_state` puts the task and its future's
// state in one allocation: submitting costs one `new`.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
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

/// A task that waits for its input futures before it is queued (futures as arguments, see
/// dataflow.hpp), as its sink's registry sees it: so shutdown can cancel it, or wait for it.
class waiting_entry {
public:
    /// True once, for whoever disposes of the task: the last input's arrival or a cancelling
    /// shutdown. The loser leaves the task alone.
    virtual bool claim() noexcept = 0;
    /// After a successful claim by shutdown: cancels the task and lets go of the inputs.
    virtual void cancel_claimed() noexcept = 0;
    /// Gives back the registry's reference.
    virtual void release() noexcept = 0;

protected:
    ~waiting_entry() = default;

private:
    friend class task_sink;
    waiting_entry* prev_ = nullptr;
    waiting_entry* next_ = nullptr;
};

/// What every executor is underneath: a place to put tasks. The type-erased `executor`, `map` and
/// the concrete executors all talk to this. Executors that ship tasks to other processes extend it
/// (remote_sink.hpp); nothing here knows about shipping.
///
/// Besides the queue of each executor, the sink keeps the tasks still waiting for input futures
/// (`enter`/`leave`), so that `shutdown_all` (what `shutdown` calls) treats them as pending tasks: with
/// `cancel_futures` they are cancelled, otherwise they run when their inputs are done and the
/// executor stops after them (waiting for them with `wait`).
class task_sink {
public:
    virtual ~task_sink() = default;
    /// Takes ownership of `t`. On failure (shut down, broken) it cancels or fails `t`, then throws.
    virtual void enqueue(task* t) = 0;
    /// How many tasks run at once; `map` sizes its window from it.
    virtual std::size_t concurrency() const noexcept = 0;

    /// Python's `Executor.shutdown`, tasks waiting for inputs included (see above); then `shutdown`.
    void shutdown_all(bool wait, bool cancel_futures);
    /// What the owner's destructor does: wait for everything (threads), or stop what runs
    /// (processes, which can be stopped; see process_pool).
    void shutdown_all_at_destruction() { shutdown_all(true, cancels_at_destruction()); }
    /// True once `shutdown_all` was called: no new task is taken.
    bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }
    /// Throws shutdown_error once closed (a sink stops taking tasks only after the ones waiting
    /// for inputs are queued, so submit asks here first).
    void refuse_if_closed() const {
        if (closed()) throw_closed();
    }
    /// The shutdown_error a closed sink gives a submitter.
    [[noreturn]] static void throw_closed();

    /// Registers a task waiting for inputs; false (nothing registered) once closed.
    bool enter(waiting_entry* e);
    /// Unregisters it, after its task was queued, failed or cancelled; the last one out after a
    /// `shutdown_all(false, ...)` stops the sink.
    void leave(waiting_entry* e) noexcept;
    /// How many tasks wait for inputs now.
    std::size_t waiting() const;

protected:
    /// Stops the executor itself (tasks waiting for inputs are dealt with already).
    virtual void shutdown(bool wait, bool cancel_futures) = 0;
    virtual bool cancels_at_destruction() const noexcept { return false; }

private:
    std::atomic<bool> closed_{false};
    mutable std::mutex waiting_mutex_;
    std::condition_variable drained_;
    waiting_entry* waiting_head_ = nullptr;
    std::size_t waiting_count_ = 0;
    bool stop_when_drained_ = false;  // shutdown_all(wait = false) found tasks waiting: the last one out stops
    bool cancel_when_drained_ = false;
};

}  // namespace fronta::detail
