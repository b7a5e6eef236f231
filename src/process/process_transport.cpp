// process_pool's transport: what the engine's dispatcher does through sockets, mailboxes and
// pidfds (see process_transport.hpp).
#include "process/process_transport.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "process/wire.hpp"

namespace fronta::process {
namespace {

// How long a worker may live on after closing its channel before it is killed.
constexpr auto linger_limit = std::chrono::seconds(1);
// How long a submitter polls for the reply of a task it gave a lent worker.
constexpr auto lone_task_wait = std::chrono::microseconds(20);

worker_process& as_process(remote::worker& w) { return static_cast<worker_process&>(w); }
const worker_process& as_process(const remote::worker& w) { return static_cast<const worker_process&>(w); }

}  // namespace

process_transport::process_transport(const process_pool_options& options) {
    settings_.secret = new_secret();
    settings_.memory_limit = options.memory_limit;
    settings_.shared_memory_threshold = options.shared_memory_threshold;
}

// The engine's wake descriptor is the workers' doorbell to the dispatcher when it sleeps.
void process_transport::attach(remote::engine& e) { settings_.client_doorbell = e.wake_fd(); }

std::vector<int> process_transport::worker_pids() const {
    std::lock_guard lock(pids_mutex_);
    return pids_;
}

void process_transport::workers_changed(const std::vector<std::unique_ptr<remote::worker>>& workers) {
    std::vector<int> pids;
    live_.clear();
    for (auto& w : workers) {
        live_.push_back(&as_process(*w));
        if (!w->gone) pids.push_back(as_process(*w).pid);
    }
    std::lock_guard lock(pids_mutex_);
    pids_ = std::move(pids);
}

std::vector<std::unique_ptr<remote::worker>> process_transport::start_workers(std::size_t n) {
    std::vector<std::unique_ptr<remote::worker>> out;
    try {
        for (std::size_t i = 0; i < n; ++i) out.push_back(launch_worker(settings_));
    } catch (const std::system_error& e) {
        for (auto& w : out) reap(as_process(*w), true);
        throw std::system_error(e.code(), std::string("process_pool: cannot start a worker: ") +
                                              e.what());  // what() ends with strerror
    } catch (...) {
        for (auto& w : out) reap(as_process(*w), true);
        throw;
    }
    return out;
}

bool process_transport::has_room(const remote::worker& w) const noexcept {
    const auto& p = as_process(w);
    return p.channel_open() && p.link->can_queue();
}

void process_transport::send_task(remote::worker& w, std::uint64_t id, remote::remote_task& t) {
    as_process(w).link->queue_task(id, t.call);
}

void process_transport::send_initializer(remote::worker& w, const std::string& request) {
    auto& p = as_process(w);
    p.link->queue(wire::kind::initialize, 0, request);
    p.link->flush(false);  // if it died, the read side notices
}

void process_transport::flush() {
    // Flushing also rings the doorbell of a worker that sleeps on its ring. A dead one is noticed
    // on read.
    for (auto* w : live_)
        if (!w->gone && w->link && !w->claimed.load(std::memory_order_acquire)) w->link->flush(false);
}

// ---- stopping and losing workers --------------------------------------------------------------

// A graceful stop (max_tasks_per_child, idle, shutdown): the worker is told to go, and closing its
// channel says the same; it then has a grace to exit by itself. A kill reaps it at once.
bool process_transport::stop(remote::engine&, remote::worker& w, bool kill) {
    auto& p = as_process(w);
    if (kill) {
        reap(p, true);
        return true;
    }
    if (p.link) {
        p.link->queue(wire::kind::shutdown, 0, {});
        p.link->flush(false);
        p.link.reset();
    }
    exiting_.add(p);
    return true;
}

void process_transport::lost(remote::engine& e, worker_process& w, const std::string& cause_prefix, bool kill_first) {
    int status = 0;
    const std::string how = reap(w, kill_first, &status);
    // A worker that dies before the handshake on its own (not killed from outside) points at a
    // program that does not call fronta::init first, or cannot start at all.
    const bool killed_from_outside = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    e.lost(w, cause_prefix + how, killed_from_outside);
}

void process_transport::finish() noexcept {
    polled_.clear();
    live_.clear();
    exiting_.wait_all();
}

clock::time_point process_transport::check(remote::engine& e) {
    if (!exiting_.empty()) exiting_.reap_ended();
    const auto now = clock::now();
    auto next = exiting_.next_deadline();
    bool pidless = exiting_.any_without_pidfd();
    for (auto& p : e.workers()) {
        auto& w = as_process(*p);
        if (w.gone || w.claimed.load(std::memory_order_acquire)) continue;
        if (w.pidfd < 0) {
            pidless = true;
            if (has_ended(w.pid)) {
                ended(e, w);  // what a pidfd would have said
                continue;
            }
        }
        if (w.channel_closed()) {
            if (now - w.closed_at >= linger_limit) {
                lost(e, w, "closed its channel but lived on, and was ", true);
                continue;
            }
            next = std::min(next, w.closed_at + linger_limit);
        }
    }
    if (pidless) next = std::min(next, now + pidless_check_interval);
    return next;
}

// ---- waiting and reading ---------------------------------------------------------------------

void process_transport::wait(remote::engine& e, clock::time_point until, bool busy) {
    // Per worker: its channel (unless it closed) and its pidfd (it ended); then the pidfds of the
    // workers on their way out.
    fds_.clear();
    polled_.clear();
    fds_.push_back({e.wake_fd(), POLLIN, 0});
    for (auto& p : e.workers()) {
        auto& w = as_process(*p);
        if (w.gone) continue;
        const bool open = w.channel_open();
        const short events = static_cast<short>(POLLIN | (open && w.link->has_queued() ? POLLOUT : 0));
        fds_.push_back({open ? w.fd() : -1, events, 0});
        fds_.push_back({w.pidfd, POLLIN, 0});
        polled_.push_back(&w);
    }
    exiting_.add_pollfds(fds_);
    const bool ok = spin_for_events(e, fds_, busy) || [&]() -> bool {
        // Not the lent worker: its replies go to the submitter that claims it, who wakes us if it
        // hands a task back.
        for (auto* w : polled_)
            if (w->link && w != e.lent()) w->link->set_sleeping(true);
        int rc = 0;
        if (!any_ring_ready(e) && e.may_sleep()) {
            rc = poll(fds_.data(), fds_.size(), milliseconds_until(until));
            e.awake();
        }
        for (auto* w : polled_)
            if (w->link) w->link->set_sleeping(false);
        return rc >= 0 || errno == EINTR;
    }();
    e.reclaim_lent_worker();  // before reading any worker: the lent one may be back
    if (!ok) throw std::system_error(errno, std::generic_category(), "process_pool: poll");
    if (fds_[0].revents & POLLIN) e.drain_wake();
    for (std::size_t i = 0; i < polled_.size(); ++i) {
        worker_process& w = *polled_[i];
        if (w.gone || w.claimed.load(std::memory_order_acquire)) continue;  // a submitter has it
        const pollfd& channel = fds_[1 + 2 * i];
        if ((channel.revents & POLLOUT) && w.link) w.link->flush(false);
        if (fds_[2 + 2 * i].revents & POLLIN) {
            ended(e, w);
            continue;
        }
        if ((channel.revents & ~POLLOUT) || (w.link && w.link->ring_ready())) read_from(e, w);
    }
}

// Polls the inbox and the workers' rings without sleeping while tasks run and for a short while
// after the last submit or reply (the next one often comes within microseconds), with a look at
// the sockets now and then. True if something came (fds' revents are then set, or zero).
bool process_transport::spin_for_events(remote::engine& e, std::vector<pollfd>& fds, bool busy) {
    for (auto& f : fds) f.revents = 0;
    const auto now = clock::now();
    const auto spin_until = busy ? now + mailbox_spin_time : e.last_activity() + mailbox_spin_time;
    if (now >= spin_until) return false;
    for (unsigned i = 0;; ++i) {
        if (e.work_pending() || any_ring_ready(e)) return true;
        if (i % socket_check_interval == 0) {
            const int ready = poll(fds.data(), fds.size(), 0);
            if (ready > 0) return true;
            if (ready < 0 && errno != EINTR) return false;
            if (clock::now() >= spin_until) return false;
        }
        relax(i);
    }
}

bool process_transport::any_ring_ready(const remote::engine& e) const {
    for (auto& p : e.workers()) {
        const auto& w = as_process(*p);
        if (!w.gone && w.link && !w.claimed.load(std::memory_order_acquire) && w.link->ring_ready()) return true;
    }
    return false;
}

void process_transport::read_from(remote::engine& e, worker_process& w) {
    for (;;) {
        const auto got = w.link->receive();
        if (got == connection::status::nothing) break;
        if (got == connection::status::closed) {
            if (!drain_frames(e, w)) return;
            // Normally it is exiting: its pidfd tells when it is gone (ended). One that closed its
            // channel and lives on is killed after linger_limit (check).
            w.closed_at = clock::now();
            return;
        }
    }
    drain_frames(e, w);
}

// Its pidfd says the process has ended: take what it sent before it went, then account for it.
void process_transport::ended(remote::engine& e, worker_process& w) {
    if (w.channel_open()) {
        for (auto got = w.link->receive(); got == connection::status::data; got = w.link->receive()) {
        }
    }
    if (w.link && !drain_frames(e, w)) return;
    lost(e, w, "", false);
}

// Handles the complete frames received; false if `w` is gone.
bool process_transport::drain_frames(remote::engine& e, worker_process& w) {
    try {
        while (auto got = w.link->next())
            if (!handle_frame(e, w, *got)) return false;
    } catch (const wire::protocol_error& error) {
        e.corrupt(w, error.what());
        return false;
    } catch (const remote::engine::unexpected_reply& error) {
        e.corrupt(w, error.what());
        return false;
    }
    return !w.gone;
}

bool process_transport::handle_frame(remote::engine& e, worker_process& w, received_frame& got) {
    auto& frame = got.frame;
    switch (frame.type) {
        case wire::kind::hello: e.hello(w, frame.payload); return !w.gone;
        case wire::kind::initialize: e.initialized(w, frame.payload); return !w.gone;
        case wire::kind::reply: {
            remote::remote_task* t = e.take_reply(w, frame.id);
            if (t != nullptr) {
                if (got.unreadable.empty())
                    t->complete(got.payload(), got.attached);
                else
                    t->fail(std::make_exception_ptr(std::runtime_error("process_pool: cannot map the result of " +
                                                                       t->description + ": " + got.unreadable)));
            }
            got.shared.release();  // read: the worker may reuse its buffer
            return true;
        }
        default: throw wire::protocol_error("a worker sent a frame of a kind only clients send");
    }
}

// ---- the lone-task path (engine::enqueue_remote) ----------------------------------------------

bool process_transport::direct_allowed(const remote::remote_task& t) const noexcept {
    return t.call.attached.empty() && t.call.shared_arguments.empty();
}

bool process_transport::push_direct(remote::worker& w, std::uint64_t id, const std::string& payload) {
    return as_process(w).link->push_task_from_another_thread(id, payload);
}

remote::direct_outcome process_transport::await_direct(remote::worker& worker, remote::remote_task& t,
                                                       std::uint64_t id) {
    auto& w = as_process(worker);
    const auto give_up = clock::now() + lone_task_wait;
    for (unsigned i = 1; !w.link->ring_ready(); ++i) {
        if (i % 32 == 0 && clock::now() >= give_up) break;
        relax(i);  // yields now and then, in case the worker waits for this CPU
    }
    remote::direct_outcome outcome;
    pollfd socket{w.fd(), POLLIN, 0};
    // Anything on the socket (a frame, garbage, EOF) comes before the ring: the dispatcher's job.
    if (w.link->ring_ready() && poll(&socket, 1, 0) == 0) {
        try {
            if (auto got = w.link->next_inline_frame()) {
                if (got->frame.type != wire::kind::reply || got->frame.id != id)
                    throw wire::protocol_error("a reply to task " + std::to_string(got->frame.id) +
                                               " when it ran task " + std::to_string(id));
                t.complete(got->frame.payload, got->attached);
                outcome.done = true;
            }
        } catch (const wire::protocol_error& e) {
            outcome.corrupt = e.what();
        }
    }
    return outcome;
}

}  // namespace fronta::process
