#pragma once
// The remote engine: the dispatcher that process_pool and mpi_pool share. It knows futures,
// workers and policy; a transport (src/process/, src/mpi/) knows how to start workers, move bytes
// and notice deaths.
//
//   submitters ── enqueue_remote ──> inbox ─┐          (mutex; any thread)
//                                           v
//   dispatcher:  queue ── assign ──> transport.send_task(worker, id, task)
//                  ^                          │
//                  │ retries          transport.wait(): replies, hellos, deaths
//                  └──────────────── engine: take_reply / lost / hello / initialized
//
// One thread (the dispatcher) owns the queue and the worker records. Policy lives here once:
// a free worker takes the next task; tasks are sent ahead only while every worker is busy, more
// of them the shorter they are; the task-time average; retries; timeouts; the initializer;
// idle retirement and max_tasks_per_child. Futures complete on the dispatcher, and their user
// callbacks run on the pool's callback thread (threads/callback_runner.hpp).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fronta/detail/remote_sink.hpp"
#include "fronta/detail/trace_hooks.hpp"
#include "fronta/init.hpp"
#include "fronta/remote/call.hpp"
#include "threads/callback_runner.hpp"

namespace fronta::remote {

using clock = std::chrono::steady_clock;

/// A task sent to a worker. `task` is null once abandoned: it timed out on a worker that could
/// not be stopped (an MPI world rank), whose late reply is then dropped.
struct in_flight {
    remote_task* task;
    std::uint64_t id;
};

/// One worker as the engine sees it; each transport derives from it to add its own handles.
class worker {
public:
    virtual ~worker() = default;
    std::string name;             // "worker 1234", "worker rank 2 (pid 77 on node1)": for messages
    bool ready = false;           // answered the handshake
    bool initializing = false;    // runs the pool's initializer: takes no task until it answers
    bool gone = false;            // lost or retired: dropped from the records at the next sweep
    bool stoppable = true;        // a timeout can stop it (not so an MPI world rank)
    std::deque<in_flight> tasks;  // sent, in order; the first one is running
    clock::time_point head_started{};
    clock::time_point idle_since = clock::now();
    clock::time_point started = clock::now();
    std::size_t tasks_done = 0;
    double average_task_seconds = 1e-3;
    // Lent to a submitting thread (the lone-task path, see engine::enqueue_remote): the
    // dispatcher neither sends it tasks nor removes it until the flag drops. Written under the
    // engine's mutex.
    std::atomic<bool> claimed{false};
    std::size_t lone_done = 0;   // tasks submitters completed themselves (under the mutex)
    std::uint32_t trace_id = 0;  // its number in traces, given when it becomes ready

    /// Who it is, for traces: process id, MPI rank (-1 if none), host.
    struct identity {
        long pid = -1;
        int rank = -1;
        std::string host;
    };
    virtual identity who() const { return {}; }

    bool busy() const noexcept { return !tasks.empty(); }
};

class engine;

/// What a lone task sent straight to a lent worker came to (see transport::await_direct).
struct direct_outcome {
    bool done = false;    // the submitter completed it
    std::string corrupt;  // why its reply was refused, if it was
};

/// What differs between process_pool and mpi_pool. Every call comes from the dispatcher thread
/// (or from the constructor before it starts), except push_direct / await_direct.
class transport {
public:
    virtual ~transport() = default;

    /// The engine exists (its wake descriptor too); called before the first start_workers.
    virtual void attach(engine&) {}
    /// Starts `n` workers. They count as ready once they answered the hello (a transport that
    /// greets them at once returns them ready). Throws what stopped it.
    virtual std::vector<std::unique_ptr<worker>> start_workers(std::size_t n) = 0;
    /// False when a lost worker cannot be replaced (MPI world ranks).
    virtual bool replaces_workers() const noexcept { return true; }
    /// Room to queue one more task for `w` now.
    virtual bool has_room(const worker&) const noexcept { return true; }
    /// Queues task `id` for `w`; throws if it cannot go (only that task fails).
    virtual void send_task(worker& w, std::uint64_t id, remote_task& t) = 0;
    /// Queues the pool's initializer (a serialized request) for `w`.
    virtual void send_initializer(worker& w, const std::string& request) = 0;
    /// Pushes queued messages out as far as possible without blocking.
    virtual void flush() {}
    /// Waits until something happened or `until`, then reports it to `e` (replies, hellos,
    /// deaths). `busy`: tasks are running, so replies are expected soon.
    virtual void wait(engine& e, clock::time_point until, bool busy) = 0;
    /// Checks what no event reports (deaths without pidfds, workers that linger); may report
    /// losses. Returns the next time it wants to look.
    virtual clock::time_point check(engine&) { return clock::time_point::max(); }
    /// Stops `w` and accounts for it: `kill` now (a timeout, a corrupt reply, cancel), or asked to
    /// exit by itself (retirement). False if it cannot be stopped (then it goes on).
    virtual bool stop(engine& e, worker& w, bool kill) = 0;
    /// The dispatcher ends: every remaining worker was stopped; wait for their exits.
    virtual void finish() noexcept {}
    /// The transport failed (an exception out of it): forget the workers without talking to them.
    virtual void abandon() noexcept {}
    /// A failure of the transport, said better if a worker's death explains it.
    virtual std::string explain(const std::string& failure) const { return failure; }
    /// The records changed (workers added or removed); under no lock.
    virtual void workers_changed(const std::vector<std::unique_ptr<worker>>&) {}
    /// On shutdown(cancel_futures = true), stop tasks already running (a process can be stopped).
    virtual bool stops_running_tasks_on_cancel() const noexcept { return false; }
    /// The dispatcher thread starts / ends (signal masks, timer slack).
    virtual void dispatcher_started() {}

    /// The lone-task path, on a submitting thread (see engine::enqueue_remote). push_direct puts
    /// task `id` (`payload`: its serialized request) straight into the lent worker's channel;
    /// false if it cannot. await_direct polls briefly for its reply and completes the task if it
    /// came.
    virtual bool supports_direct() const noexcept { return false; }
    virtual bool push_direct(worker&, std::uint64_t, const std::string&) { return false; }
    virtual direct_outcome await_direct(worker&, remote_task&, std::uint64_t) { return {}; }
    /// Whether `t` may take the lone-task path at all (no descriptors, no large payload).
    virtual bool direct_allowed(const remote_task&) const noexcept { return false; }
    /// Whether a lent worker may be replied to by a submitter: reads only its fast channel.
    virtual bool reply_waiting(const worker&) const noexcept { return false; }
};

struct engine_options {
    const char* pool = "pool";  // "process_pool": the start of every message
    std::size_t workers = 1;
    int retries = 0;
    std::optional<std::chrono::milliseconds> task_timeout;
    std::optional<std::chrono::milliseconds> idle_timeout;
    std::size_t max_tasks_per_child = 0;
    std::optional<bound_call> initializer;
    std::chrono::seconds handshake_limit{30};
    const char* callback_thread_name = "fronta-cb";
};

class engine final : public fronta::detail::remote_sink {
public:
    /// Starts the workers (all of them, unless idle_timeout lets them come with work) and the
    /// dispatcher.
    engine(engine_options options, std::unique_ptr<transport> link);
    ~engine() override;

    void enqueue_remote(remote_task* t) override;
    void shutdown(bool wait, bool cancel_futures) override;
    std::size_t concurrency() const noexcept override { return options_.workers; }
    bool passes_descriptors() const noexcept override { return passes_descriptors_; }
    void set_passes_descriptors(bool yes) noexcept { passes_descriptors_ = yes; }
    void set_shutdown_at_destruction_cancels(bool yes) noexcept { destruction_cancels_ = yes; }
    bool cancels_at_destruction() const noexcept override { return destruction_cancels_; }

    transport& link() noexcept { return *link_; }
    const engine_options& options() const noexcept { return options_; }
    /// Whether the pool is broken (a failed initializer, workers that cannot start).
    std::string broken_message() const;

    // ---- events, reported by the transport on the dispatcher thread --------------------------
    /// A hello answer: "ok" or why the worker refuses.
    void hello(worker& w, std::string_view answer);
    /// The initializer's reply.
    void initialized(worker& w, std::string_view reply);
    /// The reply to task `id` arrived: the task to complete with it (null if abandoned), the
    /// records updated. Throws unexpected_reply if `id` is not the task `w` runs.
    remote_task* take_reply(worker& w, std::uint64_t id);
    /// `w` ended or was killed (reaped by the transport): its running task fails with
    /// worker_died (or runs again), its waiting ones go back to the queue. `running` says what
    /// happened to the running task (default: "<cause> while running <task>"); `from_outside`:
    /// killed by someone else (a start failure is not counted then).
    void lost(worker& w, const std::string& cause, bool from_outside = false,
              std::function<std::string(const std::string& task)> running = {});
    /// A worker's message that breaks the pool.
    void break_pool(const std::string& message);
    /// Wait helpers for transports: work arrived that the dispatcher should look at now.
    bool work_pending() const noexcept {
        return inbox_size_.load(std::memory_order_acquire) != 0 || handed_pending_.load(std::memory_order_acquire);
    }
    /// Before a sleep: true if nothing is pending (then a submit wakes the transport through
    /// `wake`); call `awake` after the sleep.
    bool may_sleep();
    void awake();
    /// When the last submit was taken or reply handled: transports spin for a while after it.
    clock::time_point last_activity() const noexcept { return last_activity_; }
    /// The worker lent to submitters (its replies are theirs to read), or null.
    const worker* lent() const noexcept { return lent_; }
    const std::vector<std::unique_ptr<worker>>& workers() const noexcept { return workers_; }
    /// Readable when a submit or shutdown wants the sleeping dispatcher: transports wait on it.
    int wake_fd() const noexcept { return wake_fd_; }
    /// Empties wake_fd after it was readable.
    void drain_wake() noexcept;
    /// Takes back the worker lent to submitters and adopts the tasks they handed back; a
    /// transport that lends calls it as soon as its wait ends, before reading any worker.
    void reclaim_lent_worker();
    /// `w` sent something that is not a valid reply: it is killed, its task fails or retries.
    void corrupt(worker& w, const std::string& what);

    class unexpected_reply : public std::runtime_error {
    public:
        using std::runtime_error::runtime_error;
    };

private:
    void run();
    void take_inbox(bool& stopping, bool& cancel);
    void add_workers(std::size_t n);
    void became_ready(worker& w);
    void sweep();
    void maintain(clock::time_point now);
    void top_up(bool stopping);
    void assign();
    remote_task* take_next();
    std::size_t depth(const worker& w) const;
    std::chrono::nanoseconds limit_for(const remote_task& t) const;
    clock::time_point head_deadline(const worker& w) const;
    clock::time_point next_deadline(clock::time_point transport_check) const;
    void timed_out(worker& w);
    void retire(worker& w);
    void died(worker& w, const std::string& cause);  // for traces
    std::string settings_json() const;
    void requeue_waiting(worker& w);
    void retry_or_fail(remote_task* t, std::exception_ptr error);
    void cancel_everything();
    void fail_everything(const std::string& message) noexcept;
    void fail_queue_if_broken();
    std::string prefix() const { return std::string(options_.pool) + ": "; }

    // The lone-task path (only with a transport that supports it).
    worker* lend_to(remote_task* t, std::uint64_t& id);
    void finish_lone_task(worker& w, remote_task* t, std::uint64_t id);
    void lend_idle_worker(bool stopping);
    void wake() noexcept;
    bool takes_tasks(const worker& w) const noexcept;

    const engine_options options_;
    std::unique_ptr<transport> link_;
    int wake_fd_ = -1;
    bool passes_descriptors_ = true;
    bool destruction_cancels_ = false;

    mutable std::mutex mutex_;  // guards the inbox, stopping_, cancel_requested_, broken_, sleeping_
    std::deque<remote_task*> inbox_;
    std::atomic<std::size_t> inbox_size_{0};
    bool stopping_ = false;
    bool cancel_requested_ = false;
    bool sleeping_ = false;
    std::string broken_;

    // Dispatcher thread only (and the constructor before it starts).
    std::deque<remote_task*> queue_;
    std::vector<std::unique_ptr<worker>> workers_;
    std::atomic<std::uint64_t> next_task_id_{0};
    int start_failures_ = 0;  // workers lost before their hello, in a row
    clock::time_point last_activity_{};

    struct handed_task {
        worker* to;
        in_flight task;
        clock::time_point sent;
        std::string corrupt;
    };
    // Guarded by mutex_: the worker lent to submitters, whether it is still lent, and what
    // submitters handed back.
    worker* idle_worker_ = nullptr;
    bool lend_open_ = false;
    worker* lent_ = nullptr;  // the dispatcher's own note of what it lent (dispatcher only)
    std::vector<handed_task> handed_;
    std::atomic<bool> handed_pending_{false};

    std::uint32_t trace_pool_ = 0;  // this pool's number in traces
    std::size_t deaths_ = 0;        // workers lost; those started after one replace it (traces)

    fronta::detail::callback_runner callbacks_;
    std::mutex join_mutex_;
    std::thread dispatcher_;
};

}  // namespace fronta::remote
