#pragma once
// What an executor that runs tasks in other processes (process_pool, mpi_pool) is underneath: a
// task_sink that takes shipped tasks. Kept apart from task_sink so that the futures core and the
// in-process executors know nothing about shipping; only remote_executor_base and the type-erased
// `executor` talk to it.

#include <exception>
#include <stdexcept>

#include "fronta/detail/task.hpp"

namespace fronta::remote {
class remote_task;  // remote/call.hpp; this header only passes pointers to it along
}

namespace fronta::detail {

class remote_sink : public task_sink {
public:
    /// Takes ownership of `t`, as `enqueue` does: on failure (shut down, broken) it cancels or
    /// fails `t`, then throws.
    virtual void enqueue_remote(remote::remote_task* t) = 0;

    /// Dataflow (see remote/dataflow.hpp): takes `t`, a task whose arguments wait for inputs, into
    /// the registry of waiting tasks (task_sink::enter), so that shutdown cancels it or waits for
    /// it; on failure (closed, broken) it cancels or fails `t`, then throws.
    virtual void hold_waiting(remote::remote_task* t);
    /// Whether this sink takes tasks through hold_waiting (else submit takes the generic path).
    virtual bool forwards_inputs() const noexcept { return false; }
    /// A task given to hold_waiting whose inputs are all done, and whose settlement its last input
    /// claimed: queued, or failed or cancelled as its inputs say; then out of the registry. Any
    /// thread; never throws. (By default a sink cancels it: only the pools' engine queues them.)
    virtual void inputs_done(remote::remote_task* t) noexcept;

    /// True where the transport passes file descriptors (shared memory handed over by descriptor);
    /// false where everything travels as bytes (MPI).
    virtual bool passes_descriptors() const noexcept { return true; }

    /// An in-process task cannot be shipped (its callable is compiled code with captures, not a
    /// registered name): fails `t` and throws std::logic_error. remote_executor_base and
    /// `executor` never send one here.
    void enqueue(task* t) override {
        t->fail(std::make_exception_ptr(std::logic_error(local_task_message)));
        throw std::logic_error(local_task_message);
    }

private:
    static constexpr const char* local_task_message =
        "this executor runs tasks in other processes: it takes shipped tasks only (enqueue_remote)";
};

}  // namespace fronta::detail
