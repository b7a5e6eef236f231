// process_pool: worker processes started with posix_spawn from this executable, one socket each,
// and one dispatcher thread that hands tasks to idle workers, completes futures from replies, and
// notices deaths, timeouts and idleness. Submitters only touch a mutex-protected inbox.
#include "fronta/process_pool.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "fronta/remote/wire.hpp"
#include "process_worker.hpp"

extern char** environ;

namespace fronta {
namespace {

using detail::clock;
namespace wire = remote::wire;

// How long a new worker may take to answer the handshake before it is considered broken.
constexpr auto handshake_limit = std::chrono::seconds(30);
// Spawn failures in a row (deaths before the handshake) after which the pool gives up.
constexpr int spawn_failure_limit = 3;

std::string describe_status(int status) {
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        const char* name = strsignal(sig);
        return "killed by signal " + std::to_string(sig) + " (" + (name ? name : "unknown") + ")";
    }
    if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
    return "stopped (status " + std::to_string(status) + ")";
}

struct worker_process {
    pid_t pid = -1;
    int fd = -1;
    wire::decoder decoder;
    bool ready = false;  // answered the handshake
    remote::remote_task* task = nullptr;
    std::uint64_t task_id = 0;
    detail::deadline task_deadline = detail::no_deadline;
    clock::time_point idle_since = clock::now();
    clock::time_point started = clock::now();
    std::size_t tasks_done = 0;
};

class process_pool_impl final : public detail::task_sink {
public:
    explicit process_pool_impl(process_pool_options options)
        : options_(std::move(options)),
          target_(options_.workers != 0 ? options_.workers : std::max(1u, std::thread::hardware_concurrency())) {
        if (!detail::initialized())
            throw invalid_state_error(
                "process_pool: call fronta::init(argc, argv) at the top of main before creating a process_pool: "
                "workers are copies of this program and become workers inside fronta::init");
        wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "process_pool: eventfd");
        for (std::size_t i = 0; i < target_; ++i) spawn_worker();
        dispatcher_ = std::thread([this] { run(); });
    }

    ~process_pool_impl() override {
        shutdown(true, true);
        if (wake_fd_ >= 0) close(wake_fd_);
    }

    bool is_remote() const noexcept override { return true; }

    void enqueue(detail::task* t) override {
        t->fail(std::make_exception_ptr(std::logic_error("process_pool runs remote tasks only")));
        throw std::logic_error("process_pool runs remote tasks only");
    }

    void enqueue_remote(remote::remote_task* t) override {
        {
            std::lock_guard lock(mutex_);
            if (!broken_.empty()) {
                const std::string message = broken_;
                t->fail(std::make_exception_ptr(broken_executor(message)));
                throw broken_executor(message);
            }
            if (stopping_) {
                t->cancel();
                throw shutdown_error("process_pool: submit after shutdown(); create a new pool or submit before shutting down");
            }
            if (t->retries_left < 0) t->retries_left = options_.retries;
            inbox_.push_back(t);
        }
        wake();
    }

    void shutdown(bool wait, bool cancel_futures) override {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            if (cancel_futures) cancel_requested_ = true;
        }
        wake();
        if (wait) {
            std::lock_guard join_lock(join_mutex_);
            if (dispatcher_.joinable() && dispatcher_.get_id() != std::this_thread::get_id()) dispatcher_.join();
        }
    }

    std::size_t concurrency() const noexcept override { return target_; }

    std::vector<int> worker_pids() const {
        std::lock_guard lock(mutex_);
        return pids_;
    }

private:
    void wake() noexcept {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto ignored = write(wake_fd_, &one, sizeof one);
    }

    // ---- worker processes (dispatcher thread, and the constructor before it starts) ----------

    void spawn_worker() {
        int sockets[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0)
            throw std::system_error(errno, std::generic_category(), "process_pool: socketpair");
        int child_end = sockets[1];
        if (child_end == worker_fd) {  // dup2(fd, fd) would keep close-on-exec set
            child_end = fcntl(sockets[1], F_DUPFD_CLOEXEC, worker_fd + 1);
            close(sockets[1]);
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, child_end, worker_fd);

        std::vector<std::string> env_strings;
        for (char** e = environ; e && *e; ++e)
            if (std::strncmp(*e, "FRONTA_WORKER=", 14) != 0) env_strings.emplace_back(*e);
        env_strings.push_back(std::string(detail::worker_environment_variable) + "=fd=" + std::to_string(worker_fd) +
                              ";memory=" + std::to_string(options_.memory_limit));
        std::vector<char*> envp;
        for (auto& s : env_strings) envp.push_back(s.data());
        envp.push_back(nullptr);
        char program_name[] = "fronta-worker";
        char* argv[] = {program_name, nullptr};

        pid_t pid = -1;
        const int rc = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv, envp.data());
        posix_spawn_file_actions_destroy(&actions);
        close(child_end);
        if (rc != 0) {
            close(sockets[0]);
            throw std::system_error(rc, std::generic_category(), "process_pool: posix_spawn of /proc/self/exe");
        }
        fcntl(sockets[0], F_SETFL, fcntl(sockets[0], F_GETFL) | O_NONBLOCK);
        auto w = std::make_unique<worker_process>();
        w->pid = pid;
        w->fd = sockets[0];
        const std::string id = detail::build_id();
        if (!detail::write_all(w->fd, wire::encode_header(wire::kind::hello, 0, id), id)) {
            // It died at once; the read side notices and reports it.
        }
        workers_.push_back(std::move(w));
        publish_pids();
    }

    void publish_pids() {
        std::vector<int> pids;
        for (auto& w : workers_) pids.push_back(w->pid);
        std::lock_guard lock(mutex_);
        pids_ = std::move(pids);
    }

    // Reaps a worker, killing it first if asked; returns how it ended. A worker whose socket closed
    // is normally exiting already; one that closed it and lives on is killed after a second.
    std::string reap(worker_process& w, bool kill_first, int* status_out = nullptr) {
        if (w.fd >= 0) {
            close(w.fd);
            w.fd = -1;
        }
        if (kill_first) kill(w.pid, SIGKILL);
        int status = 0;
        const auto give_up = clock::now() + std::chrono::seconds(1);
        for (;;) {
            const pid_t rc = waitpid(w.pid, &status, kill_first ? 0 : WNOHANG);
            if (rc == w.pid) break;
            if (rc < 0 && errno != EINTR) return "vanished (already reaped)";
            if (rc == 0 && clock::now() >= give_up) {
                kill(w.pid, SIGKILL);
                kill_first = true;
            } else if (rc == 0) {
                pollfd none{-1, 0, 0};
                poll(&none, 0, 1);  // the kernel is finishing its exit: check again in 1 ms
            }
        }
        if (status_out) *status_out = status;
        return describe_status(status);
    }

    void retire(worker_process& w) {  // a graceful exit: max_tasks_per_child, idle, shutdown
        if (w.fd >= 0) {
            detail::write_all(w.fd, wire::encode_header(wire::kind::shutdown, 0, {}), {});
            // Give it a moment to exit by itself; a worker stuck elsewhere is killed.
            pollfd p{w.fd, POLLIN, 0};
            poll(&p, 1, 1000);
        }
        reap(w, true);
    }

    void remove_worker(worker_process* gone) {
        workers_.erase(std::remove_if(workers_.begin(), workers_.end(),
                                      [gone](const auto& w) { return w.get() == gone; }),
                       workers_.end());
        publish_pids();
    }

    // A worker ended without being asked: fail or retry its task, count failures, replace it.
    void worker_lost(worker_process& w, const std::string& why_prefix, bool kill_first) {
        int status = 0;
        const std::string how = reap(w, kill_first, &status);
        // A worker that dies before the handshake on its own (not killed from outside) points at a
        // program that does not call fronta::init first, or cannot start at all.
        const bool killed_from_outside = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        if (!w.ready && !killed_from_outside) {
            ++spawn_failures_;
            if (spawn_failures_ >= spawn_failure_limit)
                break_pool("process_pool: workers die before they start (" + how +
                           "); does main call fronta::init(argc, argv) on its first line?");
        }
        if (remote::remote_task* t = std::exchange(w.task, nullptr)) {
            std::string message = "process_pool: worker " + std::to_string(w.pid) + " " + why_prefix + how +
                                  " while running " + t->description;
            retry_or_fail(t, std::make_exception_ptr(worker_died(message)));
        }
        remove_worker(&w);
    }

    void retry_or_fail(remote::remote_task* t, std::exception_ptr error) {
        if (t->retries_left > 0) {
            --t->retries_left;
            queue_.push_front(t);  // runs next, on another worker
        } else {
            t->fail(std::move(error));
        }
    }

    // ---- the dispatcher ------------------------------------------------------------------------

    void run() {
        std::vector<pollfd> fds;
        std::vector<worker_process*> polled;
        char buffer[1 << 16];
        for (;;) {
            bool stopping = false;
            bool cancel = false;
            {
                std::lock_guard lock(mutex_);
                while (!inbox_.empty()) {
                    queue_.push_back(inbox_.front());
                    inbox_.pop_front();
                }
                stopping = stopping_;
                cancel = cancel_requested_;
            }
            if (cancel) cancel_everything();
            fail_queue_if_broken();
            handle_deadlines();
            top_up_workers(stopping);
            assign_tasks();

            const bool busy = std::any_of(workers_.begin(), workers_.end(), [](auto& w) { return w->task != nullptr; });
            if (stopping && queue_.empty() && !busy) break;

            fds.clear();
            polled.clear();
            fds.push_back({wake_fd_, POLLIN, 0});
            for (auto& w : workers_) {
                fds.push_back({w->fd, POLLIN, 0});
                polled.push_back(w.get());
            }
            const int rc = poll(fds.data(), fds.size(), poll_timeout_ms());
            if (rc < 0 && errno != EINTR) break;
            if (fds[0].revents & POLLIN) {
                std::uint64_t count;
                [[maybe_unused]] auto ignored = read(wake_fd_, &count, sizeof count);
            }
            for (std::size_t i = 0; i < polled.size(); ++i) {
                if (fds[i + 1].revents == 0) continue;
                read_from(*polled[i], buffer, sizeof buffer);
            }
        }
        for (auto& w : workers_) retire(*w);
        workers_.clear();
        publish_pids();
    }

    void read_from(worker_process& w, char* buffer, std::size_t size) {
        for (;;) {
            const ssize_t got = read(w.fd, buffer, size);
            if (got > 0) {
                w.decoder.feed(buffer, static_cast<std::size_t>(got));
                if (static_cast<std::size_t>(got) < size) break;
                continue;
            }
            if (got < 0 && errno == EINTR) continue;
            if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            worker_lost(w, "", false);  // EOF or error: it died
            return;
        }
        try {
            while (auto frame = w.decoder.next()) {
                if (!handle_frame(w, *frame)) return;
            }
        } catch (const wire::protocol_error& e) {
            if (remote::remote_task* t = std::exchange(w.task, nullptr))
                retry_or_fail(t, std::make_exception_ptr(worker_died(
                                     "process_pool: worker " + std::to_string(w.pid) + " sent a corrupt reply to " +
                                     t->description + " (" + e.what() + "); it was killed")));
            reap(w, true);
            remove_worker(&w);
        }
    }

    // False if `w` was removed.
    bool handle_frame(worker_process& w, wire::frame& frame) {
        switch (frame.type) {
            case wire::kind::hello:
                if (frame.payload != "ok") {
                    break_pool("process_pool: " + frame.payload);
                    reap(w, true);
                    remove_worker(&w);
                    return false;
                }
                w.ready = true;
                w.idle_since = clock::now();
                spawn_failures_ = 0;
                return true;
            case wire::kind::reply: {
                remote::remote_task* t = std::exchange(w.task, nullptr);
                if (t == nullptr || frame.id != w.task_id) {
                    if (t) w.task = t;
                    throw wire::protocol_error("a reply to a task it was not running");
                }
                t->complete(frame.payload);
                w.idle_since = clock::now();
                if (options_.max_tasks_per_child != 0 && ++w.tasks_done >= options_.max_tasks_per_child) {
                    retire(w);
                    remove_worker(&w);
                    return false;
                }
                return true;
            }
            default:
                throw wire::protocol_error("a worker sent a frame of a kind only clients send");
        }
    }

    void assign_tasks() {
        for (auto& w : workers_) {
            if (queue_.empty()) return;
            if (!w->ready || w->task != nullptr) continue;
            remote::remote_task* t = nullptr;
            while (!queue_.empty() && t == nullptr) {
                t = queue_.front();
                queue_.pop_front();
                if (!t->started && !t->start()) {  // cancelled while queued
                    t->cancel();
                    t = nullptr;
                }
            }
            if (t == nullptr) return;
            t->started = true;
            std::string payload = remote::to_bytes(t->call);
            w->task = t;
            w->task_id = ++next_task_id_;
            const auto limit = t->timeout.count() != 0 ? t->timeout
                               : options_.task_timeout ? std::chrono::nanoseconds(*options_.task_timeout)
                                                       : std::chrono::nanoseconds(0);
            w->task_deadline = limit.count() != 0 ? clock::now() + limit : detail::no_deadline;
            if (!detail::write_all(w->fd, wire::encode_header(wire::kind::task, w->task_id, payload), payload)) {
                // Died before it could take the task: the read side reports it and retries/fails.
            }
        }
    }

    void top_up_workers(bool stopping) {
        if (!broken_message().empty()) return;
        const std::size_t busy = static_cast<std::size_t>(
            std::count_if(workers_.begin(), workers_.end(), [](auto& w) { return w->task != nullptr; }));
        // With an idle timeout, start workers only for work that waits; otherwise keep all of them.
        std::size_t wanted = target_;
        if (options_.idle_timeout || stopping) wanted = std::min(target_, busy + queue_.size());
        while (workers_.size() < wanted) {
            try {
                spawn_worker();
            } catch (const std::exception& e) {
                break_pool(std::string("process_pool: cannot start a worker: ") + e.what());
                return;
            }
        }
    }

    void handle_deadlines() {
        const auto now = clock::now();
        for (std::size_t i = 0; i < workers_.size();) {
            worker_process& w = *workers_[i];
            if (w.task != nullptr && now >= w.task_deadline) {
                remote::remote_task* t = std::exchange(w.task, nullptr);
                const std::string pid = std::to_string(w.pid);
                reap(w, true);
                remove_worker(&w);
                retry_or_fail(t, std::make_exception_ptr(timeout_error(
                                     "process_pool: " + t->description + " ran past its timeout; worker " + pid +
                                     " was killed")));
                continue;
            }
            if (!w.ready && now - w.started > handshake_limit) {
                worker_lost(w, "did not answer the handshake within 30 s and was ", true);
                continue;
            }
            if (w.ready && w.task == nullptr && options_.idle_timeout && queue_.empty() &&
                now - w.idle_since >= *options_.idle_timeout) {
                retire(w);
                remove_worker(&w);
                continue;
            }
            ++i;
        }
    }

    int poll_timeout_ms() const {
        auto next = detail::no_deadline;
        for (auto& w : workers_) {
            if (w->task != nullptr) next = std::min(next, w->task_deadline);
            if (!w->ready) next = std::min(next, w->started + handshake_limit);
            if (w->ready && w->task == nullptr && options_.idle_timeout) next = std::min(next, w->idle_since + *options_.idle_timeout);
        }
        if (next == detail::no_deadline) return -1;
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(next - clock::now()).count();
        return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
    }

    void cancel_everything() {
        for (remote::remote_task* t : queue_) {
            if (t->started)
                t->fail(std::make_exception_ptr(cancelled_error("process_pool: cancelled by shutdown(cancel_futures=true)")));
            else
                t->cancel();
        }
        queue_.clear();
        for (std::size_t i = 0; i < workers_.size();) {
            worker_process& w = *workers_[i];
            if (remote::remote_task* t = std::exchange(w.task, nullptr)) {
                reap(w, true);
                remove_worker(&w);
                t->fail(std::make_exception_ptr(cancelled_error(
                    "process_pool: " + t->description + " was stopped by shutdown(cancel_futures=true)")));
                continue;
            }
            ++i;
        }
    }

    void break_pool(const std::string& message) {
        std::lock_guard lock(mutex_);
        if (broken_.empty()) broken_ = message;
    }
    std::string broken_message() const {
        std::lock_guard lock(mutex_);
        return broken_;
    }
    void fail_queue_if_broken() {
        const std::string message = broken_message();
        if (message.empty()) return;
        for (remote::remote_task* t : queue_) t->fail(std::make_exception_ptr(broken_executor(message)));
        queue_.clear();
    }

    static constexpr int worker_fd = 3;

    const process_pool_options options_;
    const std::size_t target_;
    int wake_fd_ = -1;

    mutable std::mutex mutex_;  // guards inbox_, stopping_, cancel_requested_, broken_, pids_
    std::deque<remote::remote_task*> inbox_;
    bool stopping_ = false;
    bool cancel_requested_ = false;
    std::string broken_;
    std::vector<int> pids_;

    // Dispatcher thread only (and the constructor before the thread starts).
    std::deque<remote::remote_task*> queue_;
    std::vector<std::unique_ptr<worker_process>> workers_;
    std::uint64_t next_task_id_ = 0;
    int spawn_failures_ = 0;

    std::mutex join_mutex_;
    std::thread dispatcher_;
};

}  // namespace

process_pool::process_pool() : process_pool(process_pool_options{}) {}
process_pool::process_pool(std::size_t workers) : process_pool([workers] {
        if (workers == 0)
            throw std::invalid_argument(
                "process_pool(0): a pool needs at least one worker; use process_pool() for one per hardware thread");
        process_pool_options options;
        options.workers = workers;
        return options;
    }()) {}
process_pool::process_pool(process_pool_options options)
    : executor_base(std::make_shared<process_pool_impl>(std::move(options))) {}

process_pool& process_pool::operator=(process_pool&& other) noexcept {
    if (this != &other) {
        if (sink_) sink_->shutdown(true, true);
        sink_ = std::move(other.sink_);
    }
    return *this;
}

process_pool::~process_pool() {
    if (sink_) sink_->shutdown(true, true);
}

std::vector<int> process_pool::worker_pids() const {
    return static_cast<const process_pool_impl&>(*sink()).worker_pids();
}

}  // namespace fronta
