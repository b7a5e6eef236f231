// The remote engine's dispatcher (see engine.hpp for the picture).
#include "remote/engine.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "fronta/detail/describe.hpp"
#include "fronta/errors.hpp"

namespace fronta::remote {
namespace {

// Workers that die before their hello, in a row, after which the pool gives up: the program
// cannot start workers at all.
constexpr int start_failure_limit = 3;

// How many tasks a busy worker holds, by its average task time. Short tasks (under 100 µs) go up
// to 32 at a time: the worker never waits for the dispatcher, and messages travel in batches.
// Medium ones (under 1 ms) two: one runs while the next is already there, so the dispatcher's
// round trip (3 µs for processes, 10 µs for MPI) is hidden, and no more, because every task sent
// ahead holds its message buffers (shared memory for large ones) and may wait behind a running
// one. Longer ones one at a time.
constexpr double short_task_seconds = 100e-6;
constexpr double medium_task_seconds = 1e-3;
constexpr std::size_t short_tasks_ahead = 32;
constexpr std::size_t medium_tasks_ahead = 2;

}  // namespace

engine::engine(engine_options options, std::unique_ptr<transport> link)
    : options_(std::move(options)), link_(std::move(link)), callbacks_(options_.callback_thread_name) {
    trace_pool_ = fronta::detail::trace_register_pool(options_.pool, options_.workers, settings_json());
    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), prefix() + "eventfd");
    try {
        link_->attach(*this);
        add_workers(options_.workers);
    } catch (...) {
        for (auto& w : workers_)
            if (!w->gone) link_->stop(*this, *w, true);
        workers_.clear();
        link_->finish();
        close(wake_fd_);
        throw;
    }
    dispatcher_ = std::thread([this] { run(); });
}

engine::~engine() {
    shutdown(true, destruction_cancels_);
    if (wake_fd_ >= 0) close(wake_fd_);
}

// ---- submitters ------------------------------------------------------------------------------

void engine::enqueue_remote(remote_task* t) {
    bool sleeping = false;
    worker* lone = nullptr;
    std::uint64_t lone_id = 0;
    {
        std::lock_guard lock(mutex_);
        if (!broken_.empty()) {
            const std::string message = broken_;
            t->fail(std::make_exception_ptr(broken_executor(message)));
            throw broken_executor(message);
        }
        if (stopping_) {
            t->cancel();
            throw shutdown_error(prefix() +
                                 "submit after shutdown(); create a new pool or submit before shutting down");
        }
        if (t->retries_left < 0) t->retries_left = options_.retries;
        if (t->traced.submitted != 0) t->traced.pool = trace_pool_;
        t->pool = this;
        if (inbox_.empty()) lone = lend_to(t, lone_id);
        if (lone == nullptr) {
            inbox_.push_back(t);
            inbox_size_.store(inbox_.size(), std::memory_order_release);
            sleeping = sleeping_;
            sleeping_ = false;  // one wake-up is enough
        }
    }
    if (lone != nullptr) {
        finish_lone_task(*lone, t, lone_id);
        return;
    }
    if (sleeping) wake();
}

// ---- dataflow: tasks waiting for their inputs -------------------------------------------------

void engine::hold_waiting(remote_task* t) {
    {
        std::lock_guard lock(mutex_);
        if (!broken_.empty()) {
            const std::string message = broken_;
            t->fail(std::make_exception_ptr(broken_executor(message)));
            throw broken_executor(message);
        }
        if (t->retries_left < 0) t->retries_left = options_.retries;
        if (t->traced.submitted != 0) t->traced.pool = trace_pool_;
        t->pool = this;
    }
    remote_sink::hold_waiting(t);
}

void engine::inputs_done(remote_task* t) noexcept {
    std::exception_ptr error;
    bool cancelled = false;
    const bool ready = t->assemble(passes_descriptors_, error, cancelled);
    bool sleeping = false;
    if (ready) {
        std::lock_guard lock(mutex_);
        if (cancel_requested_ || stopping_) {
            // (The registry stops the pool only once no task waits; this is a pool stopped
            // anyway, at its destruction.)
            cancelled = true;
        } else if (!broken_.empty()) {
            error = std::make_exception_ptr(broken_executor(broken_));
        } else {
            // Never the lone-task path: this may be the dispatcher, or a thread completing a reply.
            if (t->traced.submitted != 0) t->traced.bytes_out = t->call.wire_size();
            inbox_.push_back(t);
            inbox_size_.store(inbox_.size(), std::memory_order_release);
            sleeping = sleeping_;
            sleeping_ = false;
        }
    }
    if (cancelled) {
        t->cancel();
    } else if (error) {
        t->fail(std::move(error));
    }
    if (sleeping) wake();
    leave(&t->waiting);  // out of the registry once queued: a shutdown that waits finds it there
    t->drop();           // the registry's reference
}

void engine::shutdown(bool wait, bool cancel_futures) {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        if (cancel_futures) cancel_requested_ = true;
    }
    wake();
    if (wait) {
        {
            std::lock_guard join_lock(join_mutex_);
            // (The dispatcher runs no user code, so this is never the dispatcher itself.)
            if (dispatcher_.joinable() && dispatcher_.get_id() != std::this_thread::get_id()) dispatcher_.join();
        }
        // Every future is done now; their callbacks may still be running. From a callback (even
        // one that destroys the pool) this waits for the others, not for itself.
        callbacks_.stop();
    }
}

std::string engine::broken_message() const {
    std::lock_guard lock(mutex_);
    return broken_;
}

void engine::wake() noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto ignored = write(wake_fd_, &one, sizeof one);
}

void engine::drain_wake() noexcept {
    std::uint64_t count;
    [[maybe_unused]] auto ignored = read(wake_fd_, &count, sizeof count);
}

bool engine::may_sleep() {
    std::lock_guard lock(mutex_);
    if (!inbox_.empty() || handed_pending_.load(std::memory_order_relaxed)) return false;
    sleeping_ = true;
    return true;
}

void engine::awake() {
    std::lock_guard lock(mutex_);
    sleeping_ = false;
}

// ---- events from the transport ---------------------------------------------------------------

void engine::hello(worker& w, std::string_view answer) {
    if (answer != "ok") {
        break_pool(prefix() + std::string(answer));
        link_->stop(*this, w, true);
        w.gone = true;
        return;
    }
    became_ready(w);
}

void engine::became_ready(worker& w) {
    if (w.trace_id == 0) {
        auto id = w.who();
        w.trace_id = fronta::detail::trace_register_worker(trace_pool_, w.name, id.pid, id.rank, std::move(id.host));
        fronta::detail::trace_pool_event(trace_pool_, w.trace_id, deaths_ > 0 ? "worker_replaced" : "worker_started",
                                         w.name);
        if (deaths_ > 0) --deaths_;
    }
    w.ready = true;
    w.idle_since = clock::now();
    start_failures_ = 0;
    if (options_.initializer) {
        w.initializing = true;
        link_->send_initializer(w, options_.initializer->bytes());
    }
}

void engine::initialized(worker& w, std::string_view reply) {
    if (!w.initializing) throw unexpected_reply("an initializer reply nobody asked for");
    w.initializing = false;
    try {
        result_or_throw(reply);
    } catch (const std::exception& e) {
        // Tasks already running on other workers finish; nothing else starts.
        break_pool(prefix() + "the initializer " + options_.initializer->description() + " failed: " + e.what());
    }
}

remote_task* engine::take_reply(worker& w, std::uint64_t id) {
    if (w.tasks.empty() || w.tasks.front().id != id)
        throw unexpected_reply("a reply to task " + std::to_string(id) + ", not to " +
                               (w.tasks.empty() ? std::string("none") : std::to_string(w.tasks.front().id)));
    remote_task* t = w.tasks.front().task;
    w.tasks.pop_front();
    const auto now = clock::now();
    if (t != nullptr) {
        const double took = std::chrono::duration<double>(now - w.head_started).count();
        w.average_task_seconds = 0.8 * w.average_task_seconds + 0.2 * took;
    }
    w.head_started = now;
    last_activity_ = now;
    ++w.tasks_done;
    if (w.tasks.empty()) w.idle_since = now;
    return t;
}

void engine::lost(worker& w, const std::string& cause, bool from_outside,
                  std::function<std::string(const std::string&)> running) {
    if (w.gone) return;
    w.gone = true;
    died(w, cause);
    if (w.initializing && !from_outside && options_.initializer)
        break_pool(prefix() + "the initializer " + options_.initializer->description() + " killed " + w.name + " (" +
                   cause + ")");
    if (!w.ready && !from_outside && ++start_failures_ >= start_failure_limit)
        break_pool(prefix() + "workers die before they start (" + cause +
                   "); does main call fronta::init(argc, argv) on its first line?");
    requeue_waiting(w);
    if (w.tasks.empty()) return;
    remote_task* t = w.tasks.front().task;
    w.tasks.clear();
    if (t == nullptr) return;  // abandoned after its timeout: already failed
    const std::string what = running ? running(t->description) : cause + " while running " + t->description;
    retry_or_fail(t, std::make_exception_ptr(worker_died(prefix() + w.name + " " + what)));
}

void engine::corrupt(worker& w, const std::string& what) {
    link_->stop(*this, w, true);
    lost(w, "sent a corrupt reply", true,
         [&](const std::string& task) { return "sent a corrupt reply to " + task + " (" + what + "); it was killed"; });
}

void engine::break_pool(const std::string& message) {
    std::lock_guard lock(mutex_);
    if (broken_.empty()) broken_ = message;
}

// ---- the dispatcher --------------------------------------------------------------------------

void engine::run() {
    fronta::detail::callback_runner::installed_here callbacks_elsewhere(callbacks_);
    try {
        link_->dispatcher_started();
        for (;;) {
            bool stopping = false;
            bool cancel = false;
            take_inbox(stopping, cancel);
            if (cancel) cancel_everything();
            fail_queue_if_broken();
            maintain(clock::now());
            const auto next_check = link_->check(*this);
            sweep();
            top_up(stopping);
            assign();

            bool busy = false, initializing = false, lent = false;
            for (auto& w : workers_) {
                busy = busy || w->busy();
                initializing = initializing || w->initializing;
                lent = lent || w->claimed.load(std::memory_order_acquire);
            }
            // An initializer's reply is awaited like a task's (unless cancelled), so that no
            // worker is stopped in the middle of it.
            if (stopping && queue_.empty() && !busy && !lent && (!initializing || cancel)) break;
            lend_idle_worker(stopping);
            link_->wait(*this, next_deadline(next_check), busy);
            reclaim_lent_worker();
            sweep();
        }
        for (auto& w : workers_)
            if (!w->gone) {
                link_->stop(*this, *w, false);
                w->gone = true;
            }
        sweep();
        link_->finish();
    } catch (const std::exception& e) {
        fail_everything(link_->explain(e.what()));
        link_->abandon();
    }
}

void engine::take_inbox(bool& stopping, bool& cancel) {
    std::lock_guard lock(mutex_);
    if (!inbox_.empty()) last_activity_ = clock::now();
    for (remote_task* t : inbox_) queue_.push_back(t);
    inbox_.clear();
    inbox_size_.store(0, std::memory_order_relaxed);
    stopping = stopping_;
    cancel = cancel_requested_;
}

void engine::add_workers(std::size_t n) {
    auto fresh = link_->start_workers(n);
    for (auto& w : fresh) {
        workers_.push_back(std::move(w));
        if (workers_.back()->ready) became_ready(*workers_.back());
    }
    link_->workers_changed(workers_);
}

void engine::sweep() {
    const auto before = workers_.size();
    std::erase_if(workers_, [](const std::unique_ptr<worker>& w) {
        return w->gone && !w->claimed.load(std::memory_order_acquire);
    });
    if (workers_.size() != before) link_->workers_changed(workers_);
}

bool engine::takes_tasks(const worker& w) const noexcept {
    return !w.gone && w.ready && !w.initializing && !w.claimed.load(std::memory_order_acquire) &&
           (w.tasks.empty() || w.tasks.front().task != nullptr) && link_->has_room(w);
}

void engine::maintain(clock::time_point now) {
    for (auto& p : workers_) {
        worker& w = *p;
        if (w.gone || w.claimed.load(std::memory_order_acquire)) continue;
        if (w.busy() && now >= head_deadline(w)) {
            timed_out(w);
        } else if (!w.ready && now - w.started > options_.handshake_limit) {
            link_->stop(*this, w, true);
            lost(w, "did not answer the handshake within " + fronta::detail::describe(options_.handshake_limit) +
                        " and was killed");
        } else if (w.ready && !w.initializing && !w.busy() && options_.idle_timeout && queue_.empty() &&
                   now - w.idle_since >= *options_.idle_timeout) {
            retire(w);
        } else if (options_.max_tasks_per_child != 0 && !w.busy() && w.tasks_done >= options_.max_tasks_per_child) {
            retire(w);
        }
    }
}

void engine::timed_out(worker& w) {
    remote_task* t = w.tasks.front().task;
    const auto limit = limit_for(*t);
    if (!w.stoppable) {
        // It cannot be stopped: its late reply is dropped, and it takes no task until it comes.
        w.tasks.front().task = nullptr;
        retry_or_fail(t,
                      std::make_exception_ptr(timeout_error(
                          prefix() + t->description + " ran past its timeout of " + fronta::detail::describe(limit) +
                          "; " + w.name +
                          " cannot be stopped, so its result will be dropped, and it takes no new task until then")));
        return;
    }
    requeue_waiting(w);
    w.tasks.clear();
    link_->stop(*this, w, true);
    w.gone = true;
    died(w, "killed: " + t->description + " ran past its timeout of " + fronta::detail::describe(limit));
    retry_or_fail(t, std::make_exception_ptr(timeout_error(prefix() + t->description + " ran past its timeout of " +
                                                           fronta::detail::describe(limit) + "; " + w.name +
                                                           " was killed")));
}

void engine::retire(worker& w) {
    link_->stop(*this, w, false);
    w.gone = true;
    fronta::detail::trace_pool_event(trace_pool_, w.trace_id, "worker_retired",
                                     w.name + (options_.max_tasks_per_child != 0 &&
                                                       w.tasks_done >= options_.max_tasks_per_child
                                                   ? " (max_tasks_per_child reached)"
                                                   : " (idle)"));
}

void engine::died(worker& w, const std::string& cause) {
    ++deaths_;
    fronta::detail::trace_pool_event(trace_pool_, w.trace_id, "worker_died", w.name + " " + cause);
}

std::string engine::settings_json() const {
    const auto ms = [](const auto& limit) {
        return limit ? std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(*limit).count())
                     : std::string("null");
    };
    return "{\"workers\":" + std::to_string(options_.workers) + ",\"retries\":" + std::to_string(options_.retries) +
           ",\"task_timeout_ms\":" + ms(options_.task_timeout) + ",\"idle_timeout_ms\":" + ms(options_.idle_timeout) +
           ",\"max_tasks_per_child\":" + std::to_string(options_.max_tasks_per_child) + ",\"initializer\":" +
           (options_.initializer ? "\"" + fronta::detail::json_escape(options_.initializer->description()) + "\""
                                 : std::string("null")) +
           "}";
}

void engine::top_up(bool stopping) {
    if (!broken_message().empty()) return;
    std::size_t live = 0, busy = 0;
    for (auto& w : workers_)
        if (!w->gone) {
            ++live;
            busy += w->busy() ? 1 : 0;
        }
    if (!link_->replaces_workers()) {
        if (live == 0) fail_everything(prefix() + "every worker died");
        return;
    }
    // With an idle timeout, start workers only for work that waits; otherwise keep all of them.
    std::size_t wanted = options_.workers;
    if (options_.idle_timeout || stopping) wanted = std::min(options_.workers, busy + queue_.size());
    if (live >= wanted) return;
    try {
        add_workers(wanted - live);
    } catch (const std::exception& e) {
        break_pool(e.what());  // the transport's message names the pool and the cause
    }
}

std::size_t engine::depth(const worker& w) const {
    const double per_task = w.average_task_seconds;
    std::size_t ahead = per_task < short_task_seconds    ? short_tasks_ahead
                        : per_task < medium_task_seconds ? medium_tasks_ahead
                                                         : 1;
    if (options_.max_tasks_per_child != 0) {
        const std::size_t done = std::min(options_.max_tasks_per_child, w.tasks_done);
        ahead = std::min(ahead, options_.max_tasks_per_child - done);
    }
    return ahead;
}

void engine::assign() {
    // Each task goes to the least loaded worker that can take one: a free worker takes the next
    // task, and tasks are sent ahead only while every worker is busy. A worker that is starting
    // (or running the initializer) will be free soon: while there is one, nothing is sent ahead,
    // or a quick task could wait behind a long one on a busy worker.
    const bool one_coming = std::any_of(workers_.begin(), workers_.end(), [](const std::unique_ptr<worker>& w) {
        return !w->gone && (!w->ready || w->initializing) && w->tasks.empty();
    });
    while (!queue_.empty()) {
        worker* best = nullptr;
        for (auto& w : workers_) {
            if (!takes_tasks(*w) || w->tasks.size() >= depth(*w)) continue;
            if (best == nullptr || w->tasks.size() < best->tasks.size()) best = w.get();
            if (best->tasks.empty()) break;  // none is less loaded
        }
        if (best == nullptr || (best->busy() && one_coming)) break;
        remote_task* t = take_next();
        if (t == nullptr) break;
        const std::uint64_t id = next_task_id_.fetch_add(1, std::memory_order_relaxed) + 1;
        // A task that cannot go (no descriptor left for its shared memory, say) fails alone, with
        // the cause: not the worker's fault, so no retry.
        if (t->traced.submitted != 0) {
            t->traced.sent = fronta::detail::trace_clock();
            t->traced.worker = best->trace_id;
        }
        try {
            link_->send_task(*best, id, *t);
        } catch (const std::system_error& e) {
            t->fail(std::make_exception_ptr(
                std::system_error(e.code(), prefix() + "cannot send " + t->description + " to a worker")));
            continue;
        } catch (...) {
            t->fail(std::current_exception());
            continue;
        }
        if (best->tasks.empty()) best->head_started = clock::now();
        best->tasks.push_back({t, id});
    }
    // Never wait for a worker to read: one stuck in a long task must not stall the dispatcher.
    link_->flush();
}

remote_task* engine::take_next() {
    while (!queue_.empty()) {
        remote_task* t = queue_.front();
        queue_.pop_front();
        if (t->started || t->start()) {
            t->started = true;
            return t;
        }
        t->cancel();  // cancelled while queued
    }
    return nullptr;
}

std::chrono::nanoseconds engine::limit_for(const remote_task& t) const {
    if (t.timeout.count() != 0) return t.timeout;
    if (options_.task_timeout) return *options_.task_timeout;
    return std::chrono::nanoseconds(0);
}

clock::time_point engine::head_deadline(const worker& w) const {
    if (w.tasks.empty() || w.tasks.front().task == nullptr) return clock::time_point::max();
    const auto limit = limit_for(*w.tasks.front().task);
    return limit.count() == 0 ? clock::time_point::max() : w.head_started + limit;
}

clock::time_point engine::next_deadline(clock::time_point transport_check) const {
    auto next = transport_check;
    for (auto& w : workers_) {
        if (w->gone) continue;
        next = std::min(next, head_deadline(*w));
        if (!w->ready) next = std::min(next, w->started + options_.handshake_limit);
        if (w->ready && !w->busy() && options_.idle_timeout)
            next = std::min(next, w->idle_since + *options_.idle_timeout);
    }
    return next;
}

// Tasks sent ahead to a worker that is gone had not started: they go back to the queue front.
void engine::requeue_waiting(worker& w) {
    while (w.tasks.size() > 1) {
        if (w.tasks.back().task != nullptr) queue_.push_front(w.tasks.back().task);
        w.tasks.pop_back();
    }
}

void engine::retry_or_fail(remote_task* t, std::exception_ptr error) {
    if (t->retries_left > 0) {
        --t->retries_left;
        if (t->traced.retries < 255) ++t->traced.retries;
        queue_.push_front(t);  // runs next, on another worker
    } else {
        t->fail(std::move(error));
    }
}

void engine::cancel_everything() {
    for (remote_task* t : queue_) {
        if (t->started)
            t->fail(std::make_exception_ptr(cancelled_error(prefix() + "cancelled by shutdown(cancel_futures=true)")));
        else
            t->cancel();
    }
    queue_.clear();
    if (!link_->stops_running_tasks_on_cancel()) return;
    for (auto& p : workers_) {
        worker& w = *p;
        if (w.gone || w.claimed.load(std::memory_order_acquire) || (!w.busy() && !w.initializing)) continue;
        auto tasks = std::move(w.tasks);
        w.tasks.clear();
        link_->stop(*this, w, true);
        w.gone = true;
        for (auto& entry : tasks)
            if (entry.task != nullptr)
                entry.task->fail(std::make_exception_ptr(cancelled_error(
                    prefix() + entry.task->description + " was stopped by shutdown(cancel_futures=true)")));
    }
}

void engine::fail_queue_if_broken() {
    const std::string message = broken_message();
    if (message.empty()) return;
    for (remote_task* t : queue_) t->fail(std::make_exception_ptr(broken_executor(message)));
    queue_.clear();
}

void engine::fail_everything(const std::string& message) noexcept {
    std::deque<remote_task*> queued;
    {
        std::lock_guard lock(mutex_);
        if (broken_.empty()) broken_ = message;
        for (remote_task* t : inbox_) queue_.push_back(t);
        inbox_.clear();
        inbox_size_.store(0, std::memory_order_relaxed);
        queued.swap(queue_);
    }
    const auto error = std::make_exception_ptr(broken_executor(message));
    for (remote_task* t : queued) t->fail(error);
    for (auto& w : workers_) {
        for (auto& entry : w->tasks)
            if (entry.task != nullptr) entry.task->fail(error);
        w->tasks.clear();
    }
}

}  // namespace fronta::remote
