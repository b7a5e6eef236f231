// process_pool: worker processes started with posix_spawn from this executable, one socket each,
// and one dispatcher thread that hands tasks to idle workers, completes futures from replies, and
// notices deaths, timeouts and idleness. Submitters only touch a mutex-protected inbox.
// Tasks and replies travel through each worker's mailbox (shared-memory rings, mailbox.hpp): while
// there is work, or shortly after, the dispatcher and the workers poll their rings and the inbox
// instead of sleeping, so a round trip needs no system call; idle, both sleep in poll().
#include "fronta/process_pool.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
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

#include "process/wire.hpp"
#include "threads/callback_runner.hpp"
#include "process/connection.hpp"
#include "process/mailbox.hpp"
#include "process/process_worker.hpp"

extern char** environ;

namespace fronta {
namespace {

using detail::clock;
namespace wire = process::wire;

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
    if (WIFEXITED(status)) {
        const int code = WEXITSTATUS(status);
        std::string how = "exited with code " + std::to_string(code);
        if (code == process::stray_bytes_exit_code)
            how += " (the task wrote bytes onto fronta's channel to the worker, which only fronta may use)";
        if (code == process::worker_refused_exit_code) how += " (it refused to serve: see its message on stderr)";
        return how;
    }
    return "stopped (status " + std::to_string(status) + ")";
}

// How long a worker asked to exit (shutdown, retirement) may take to finish by itself: flushing
// its output, atexit handlers, static destructors. Then it is killed.
constexpr auto exit_grace = std::chrono::seconds(5);
// How long a worker may live on after closing its channel before it is killed.
constexpr auto linger_limit = std::chrono::seconds(1);

int pidfd_of(pid_t pid) {
    if (std::getenv("FRONTA_TEST_NO_PIDFD") != nullptr) {  // lets a test play "a kernel before 5.3"
        errno = ENOSYS;
        return -1;
    }
    return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

// Without pidfds (kernels before 5.3, seccomp profiles that refuse pidfd_open) the dispatcher
// looks at its workers this often, so that deaths are still noticed by pid, not only by EOF.
constexpr auto pidless_check_interval = std::chrono::milliseconds(20);

// Whether process `pid` (our child) has ended, without reaping it.
bool has_ended(pid_t pid) {
    siginfo_t info{};
    return waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == pid;
}

// Kills a worker through its pidfd when it has one: its pid may already belong to another process
// if something else in the program reaped it (waitpid(-1), SIGCHLD ignored).
void kill_process(pid_t pid, int pidfd) {
    if (pidfd >= 0) {
        if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0) == 0 || errno != ENOSYS) return;
    }
    kill(pid, SIGKILL);
}

// The descriptor number of a worker's channel: high, out of the way of descriptors a program
// hands its children (`prog 3>trace.log`), below the limit and below FD_SETSIZE.
int channel_descriptor() {
    rlimit limit{};
    rlim_t most = 1024;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < most) most = limit.rlim_cur;
    return std::max(3, static_cast<int>(most) - 1);
}

// A secret per pool, handed to its workers in their environment (readable only by this user) and
// proven in the hello.
std::string new_secret() {
    unsigned char bytes[16];
    std::size_t got = 0;
    while (got < sizeof bytes) {
        const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::system_error(errno, std::generic_category(), "process_pool: getrandom");
        got += static_cast<std::size_t>(n);
    }
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char b : bytes) {
        out.push_back(hex[b >> 4]);
        out.push_back(hex[b & 15]);
    }
    return out;
}

// A worker on its way out: asked to exit, or killed; reaped when its pidfd says it has ended.
struct exiting_worker {
    pid_t pid;
    int pidfd;
    clock::time_point kill_at;
};

struct in_flight {
    remote::remote_task* task;
    std::uint64_t id;
};

struct worker_process {
    pid_t pid = -1;
    int pidfd = -1;                      // readable once the process has ended
    std::unique_ptr<process::connection> link;
    clock::time_point closed_at{};       // when its channel closed while it lived on (else epoch)
    bool ready = false;                  // answered the handshake
    bool initializing = false;           // runs the pool's initializer: takes no task until it answers
    std::deque<in_flight> tasks;         // sent, in order; the first one is running
    clock::time_point head_started{};    // when the first one started running
    clock::time_point idle_since = clock::now();
    clock::time_point started = clock::now();
    std::size_t tasks_done = 0;
    double average_task_seconds = 1e-3;  // how long its tasks take, to decide how many to send ahead
    // A submitting thread has this worker (see hand_to_idle_worker): the dispatcher neither reads
    // its replies nor sends it tasks nor removes it until the flag drops. Set and cleared under
    // the pool's mutex_.
    std::atomic<bool> claimed{false};
    std::size_t lone_done = 0;  // tasks submitters completed themselves (under mutex_)
    int fd() const { return link ? link->fd() : -1; }
    bool channel_closed() const { return closed_at != clock::time_point{}; }
    bool channel_open() const { return link && !channel_closed(); }
    // Can be sent a task now (by the dispatcher, or by a submitter it is lent to), room permitting.
    bool takes_tasks() const {
        return ready && !initializing && channel_open() && !claimed.load(std::memory_order_acquire);
    }
    ~worker_process() {
        if (pidfd >= 0) close(pidfd);
    }
};

class process_pool_impl final : public detail::remote_sink {
public:
    explicit process_pool_impl(process_pool_options options)
        : options_(std::move(options)),
          target_(options_.workers != 0 ? options_.workers : std::max(1u, std::thread::hardware_concurrency())) {
        if (!detail::initialized())
            throw invalid_state_error(
                "process_pool: call fronta::init(argc, argv) at the top of main before creating a process_pool: "
                "workers are copies of this program and become workers inside fronta::init");
        secret_ = new_secret();
        wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "process_pool: eventfd");
        try {
            for (std::size_t i = 0; i < target_; ++i) spawn_worker();
        } catch (...) {
            for (auto& w : workers_) reap(*w, true);
            workers_.clear();
            close(wake_fd_);
            throw;
        }
        dispatcher_ = std::thread([this] { run(); });
    }

    ~process_pool_impl() override {
        shutdown(true, true);
        if (wake_fd_ >= 0) close(wake_fd_);
    }

    void enqueue(detail::task* t) override {
        t->fail(std::make_exception_ptr(std::logic_error("process_pool runs remote tasks only")));
        throw std::logic_error("process_pool runs remote tasks only");
    }

    void enqueue_remote(remote::remote_task* t) override {
        bool sleeping = false;
        worker_process* lone = nullptr;
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
                throw shutdown_error("process_pool: submit after shutdown(); create a new pool or submit before shutting down");
            }
            if (t->retries_left < 0) t->retries_left = options_.retries;
            if (inbox_.empty()) lone = hand_to_idle_worker(t, lone_id);
            if (lone == nullptr) {
                inbox_.push_back(t);
                inbox_size_.store(inbox_.size(), std::memory_order_release);
                sleeping = dispatcher_sleeping_;
                dispatcher_sleeping_ = false;  // one wake-up is enough
            }
        }
        if (lone != nullptr) {
            finish_lone_task(*lone, t, lone_id);
            return;
        }
        if (sleeping) wake();
    }

    // The fast path of a lone task, for round trips. While the pool has nothing else to do, the
    // dispatcher lends one idle worker to submitters (idle_worker_). A submit that finds it claims
    // it (under mutex_), pushes the task straight into its ring and, back outside the lock, polls
    // its reply ring for a short while: a short task's reply is there within microseconds, and
    // the submitting thread completes the future itself before submit returns (no user callback
    // can be attached yet). Otherwise, or if anything unusual shows (a frame on the socket, a
    // reply too large for the ring), it hands the task to the dispatcher (handed_), which adopts
    // it as if it had sent it. Either way the worker goes back: lent again if the dispatcher has
    // not asked for it meanwhile, else to the dispatcher. Tasks with a timeout, descriptors or a
    // large payload take the dispatcher's path.
    worker_process* hand_to_idle_worker(remote::remote_task* t, std::uint64_t& id) {
        worker_process* w = idle_worker_;
        if (w == nullptr || !t->call.attached.empty() || !t->call.shared_arguments.empty() || limit_for(*t).count() != 0)
            return nullptr;
        std::string payload = remote::to_bytes(t->call);
        if (!t->started) {
            if (!t->start()) return nullptr;  // cancelled: the dispatcher cancels it
            t->started = true;
        }
        id = next_task_id_.fetch_add(1, std::memory_order_relaxed) + 1;
        if (!w->link->push_task_from_another_thread(id, payload)) return nullptr;
        idle_worker_ = nullptr;
        w->claimed.store(true, std::memory_order_release);
        return w;
    }

    void finish_lone_task(worker_process& w, remote::remote_task* t, std::uint64_t id) {
        const auto sent = clock::now();
        const auto give_up = sent + lone_task_wait;
        for (unsigned i = 1; !w.link->ring_ready(); ++i) {
            if (i % 32 == 0 && clock::now() >= give_up) break;
            process::relax(i);  // yields now and then, in case the worker waits for this CPU
        }
        bool done = false;
        std::string corrupt;
        pollfd socket{w.fd(), POLLIN, 0};
        // Anything on the socket (a frame, garbage, EOF) comes before the ring: the dispatcher's job.
        if (w.link->ring_ready() && poll(&socket, 1, 0) == 0) {
            try {
                if (auto got = w.link->next_inline_frame()) {
                    if (got->frame.type != wire::kind::reply || got->frame.id != id)
                        throw wire::protocol_error("a reply to task " + std::to_string(got->frame.id) +
                                                   " when it ran task " + std::to_string(id));
                    t->complete(got->frame.payload, got->attached);
                    done = true;
                }
            } catch (const wire::protocol_error& e) {
                corrupt = e.what();
            }
        }
        bool sleeping = false;
        {
            std::lock_guard lock(mutex_);
            if (done) {
                ++w.lone_done;
                w.claimed.store(false, std::memory_order_release);
            } else {
                // The worker stays claimed until the dispatcher has adopted the task: it must not
                // send it another task first (the worker runs them in ring order).
                handed_.push_back({&w, {t, id}, sent, std::move(corrupt)});
            }
            if (done && lend_open_ && inbox_.empty() && !stopping_ && options_.max_tasks_per_child == 0) {
                idle_worker_ = &w;  // the dispatcher has not asked for it: keep it lent
            } else {
                handed_pending_.store(true, std::memory_order_release);
                sleeping = dispatcher_sleeping_;
                dispatcher_sleeping_ = false;
            }
        }
        if (sleeping) wake();
    }

    // Dispatcher: takes back the worker lent to submitters and adopts what they gave back. True if
    // it removed a worker (one that sent a corrupt reply, or did its max_tasks_per_child).
    bool reclaim_idle_worker() {
        std::vector<handed_task> corrupt;
        {
            std::lock_guard lock(mutex_);
            lend_open_ = false;
            idle_worker_ = nullptr;
            lent_ = nullptr;
            handed_pending_.store(false, std::memory_order_relaxed);
            for (auto& h : handed_) {
                if (h.worker->tasks.empty()) h.worker->head_started = h.sent;
                h.worker->tasks.push_back(h.task);
                h.worker->claimed.store(false, std::memory_order_release);
                last_activity_ = clock::now();
                if (!h.corrupt.empty()) corrupt.push_back(std::move(h));
            }
            handed_.clear();
            for (auto& w : workers_) {
                if (w->lone_done == 0) continue;
                w->tasks_done += w->lone_done;
                w->lone_done = 0;
                if (w->tasks.empty()) w->idle_since = clock::now();
            }
        }
        for (auto& h : corrupt) kill_corrupt(*h.worker, h.corrupt);
        bool removed = !corrupt.empty();
        if (options_.max_tasks_per_child == 0) return removed;
        for (std::size_t i = 0; i < workers_.size();) {
            worker_process& w = *workers_[i];
            if (w.tasks.empty() && !w.claimed.load(std::memory_order_acquire) &&
                w.tasks_done >= options_.max_tasks_per_child) {
                retire(w);
                remove_worker(&w);
                removed = true;
                continue;
            }
            ++i;
        }
        return removed;
    }

    // Dispatcher, before it waits: lends an idle worker if nothing waits for one.
    void lend_idle_worker(bool stopping) {
        if (stopping || !queue_.empty() || !broken_message().empty()) return;
        for (auto& w : workers_) {
            // Not one whose channel closed: the dispatcher removes it (handle_deadlines), which it
            // must never do under a submitter's feet.
            if (w->takes_tasks() && w->tasks.empty() && depth(*w) > 0) {
                std::lock_guard lock(mutex_);
                idle_worker_ = w.get();
                lend_open_ = true;
                lent_ = w.get();
                return;
            }
        }
    }

    void shutdown(bool wait, bool cancel_futures) override {
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
            // Every future is done now; their callbacks may still be running. From a callback
            // (even one that destroys the pool) this waits for the others, not for itself.
            callbacks_.stop();
        }
    }

    std::size_t concurrency() const noexcept override { return target_; }

    void shutdown_at_destruction() override { shutdown(true, true); }

    std::vector<int> worker_pids() const {
        std::lock_guard lock(mutex_);
        return pids_;
    }

private:
    void wake() noexcept {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto ignored = write(wake_fd_, &one, sizeof one);
    }

    // ---- worker processes ------------------------------------------------------------------------

    // Starts a worker: a copy of this program with one end of a socket pair at a high descriptor,
    // in a process group of its own (a terminal's Ctrl-C is for the client), then sends the hello
    // with the mailbox. Any failure kills and reaps the new process and says why (strerror).
    void spawn_worker() {
        const auto fail = [](const char* what, int error) {
            throw std::system_error(error, std::generic_category(), std::string("process_pool: cannot start a worker: ") + what);
        };
        int sockets[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0) fail("socketpair", errno);
        const int channel = channel_descriptor();
        int child_end = sockets[1];
        if (child_end == channel) {  // dup2(fd, fd) would keep close-on-exec set
            child_end = fcntl(sockets[1], F_DUPFD_CLOEXEC, 3);
            const int error = errno;
            close(sockets[1]);
            if (child_end < 0) {
                close(sockets[0]);
                fail("fcntl(F_DUPFD_CLOEXEC)", error);
            }
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, child_end, channel);
        posix_spawnattr_t attributes;
        posix_spawnattr_init(&attributes);
        sigset_t none;
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&attributes, &none);  // not the dispatcher's mask
        posix_spawnattr_setpgroup(&attributes, 0);
        posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);

        std::vector<std::string> env_strings;
        const std::string prefix = std::string(process::worker_environment_variable) + "=";
        for (char** e = environ; e && *e; ++e)
            if (std::strncmp(*e, prefix.c_str(), prefix.size()) != 0) env_strings.emplace_back(*e);
        env_strings.push_back(prefix + "fd=" + std::to_string(channel) + ";client=" + std::to_string(getpid()) +
                              ";secret=" + secret_ + ";memory=" + std::to_string(options_.memory_limit) +
                              ";shm=" + std::to_string(options_.shared_memory_threshold));
        std::vector<char*> envp;
        for (auto& e : env_strings) envp.push_back(e.data());
        envp.push_back(nullptr);
        char program_name[] = "fronta-worker";
        char* argv[] = {program_name, nullptr};

        pid_t pid = -1;
        const int rc = posix_spawn(&pid, "/proc/self/exe", &actions, &attributes, argv, envp.data());
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attributes);
        close(child_end);
        if (rc != 0) {
            close(sockets[0]);
            fail("posix_spawn of /proc/self/exe", rc);
        }
        auto w = std::make_unique<worker_process>();
        w->pid = pid;
        // From here on a failure kills and reaps the new process (reap), then reports the cause.
        try {
            w->link = std::make_unique<process::connection>(sockets[0], options_.shared_memory_threshold);
        } catch (...) {
            close(sockets[0]);
            reap(*w, true);
            throw;
        }
        try {
            w->pidfd = pidfd_of(pid);
            // Without pidfds the dispatcher checks on its workers with waitid instead.
            if (w->pidfd < 0 && errno != ENOSYS && errno != EPERM) fail("pidfd_open", errno);
            fcntl(w->fd(), F_SETFL, fcntl(w->fd(), F_GETFL) | O_NONBLOCK);
            // The mailbox and the worker's doorbell travel with the hello, with our doorbell.
            remote::attachments hello_fds;
            auto box = process::mailbox::create();
            hello_fds.add(box->fd());
            const int doorbell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
            if (doorbell < 0) fail("eventfd", errno);
            try {
                hello_fds.add(doorbell);
                hello_fds.add(wake_fd_);
            } catch (...) {
                close(doorbell);
                throw;
            }
            w->link->use_mailbox(std::move(box), true, doorbell, -1);
            w->link->queue(wire::kind::hello, 0, std::string(detail::build_id()) + "\n" + secret_, &hello_fds);
        } catch (...) {
            reap(*w, true);
            throw;
        }
        w->link->flush(false);  // if it died at once, the read side notices and reports it
        workers_.push_back(std::move(w));
        publish_pids();
    }

    void publish_pids() {
        std::vector<int> pids;
        for (auto& w : workers_) pids.push_back(w->pid);
        std::lock_guard lock(mutex_);
        pids_ = std::move(pids);
    }

    // Reaps a worker that has ended or is killed here; returns how it ended. Never call it for a
    // live worker without `kill_first`: it waits for the process.
    std::string reap(worker_process& w, bool kill_first, int* status_out = nullptr) {
        w.link.reset();
        if (kill_first) kill_process(w.pid, w.pidfd);
        int status = 0;
        pid_t rc;
        while ((rc = waitpid(w.pid, &status, 0)) < 0 && errno == EINTR) {
        }
        if (rc != w.pid) return "vanished (already reaped)";
        if (status_out) *status_out = status;
        return describe_status(status);
    }

    // A graceful exit (max_tasks_per_child, idle, shutdown): the worker is told to go and closing
    // its channel says the same; it then has `exit_grace` to flush its output and run its exit
    // handlers before it is killed. It is reaped when its pidfd says it has ended.
    void retire(worker_process& w) {
        if (w.link) {
            w.link->queue(wire::kind::shutdown, 0, {});
            w.link->flush(false);
            w.link.reset();
        }
        exiting_.push_back({w.pid, std::exchange(w.pidfd, -1), clock::now() + exit_grace});
    }

    // Reaps the exiting workers that have ended; kills those past their grace.
    void reap_exiting() {
        const auto now = clock::now();
        for (std::size_t i = 0; i < exiting_.size();) {
            auto& e = exiting_[i];
            int status = 0;
            const pid_t rc = waitpid(e.pid, &status, WNOHANG);
            if (rc == e.pid || (rc < 0 && errno == ECHILD)) {
                if (e.pidfd >= 0) close(e.pidfd);
                exiting_.erase(exiting_.begin() + static_cast<std::ptrdiff_t>(i));
                continue;
            }
            if (now >= e.kill_at) {
                kill_process(e.pid, e.pidfd);  // stuck in its exit: its pidfd says when it is gone
                e.kill_at = clock::time_point::max();
            }
            ++i;
        }
    }

    // At the end of the dispatcher, once workers_ is empty: waits for every exiting worker
    // (killing the stuck ones); poll_timeout_ms then counts only their deadlines.
    void wait_for_exits() {
        std::vector<pollfd> fds;
        for (reap_exiting(); !exiting_.empty(); reap_exiting()) {
            fds.clear();
            for (auto& e : exiting_) fds.push_back({e.pidfd, POLLIN, 0});
            poll(fds.data(), fds.size(), poll_timeout_ms());
        }
    }

    void remove_worker(worker_process* gone) {
        workers_.erase(std::remove_if(workers_.begin(), workers_.end(),
                                      [gone](const auto& w) { return w.get() == gone; }),
                       workers_.end());
        publish_pids();
    }

    // Tasks sent ahead to a worker that is gone had not started: they go back to the queue front.
    void requeue_waiting(worker_process& w) {
        while (w.tasks.size() > 1) {
            queue_.push_front(w.tasks.back().task);
            w.tasks.pop_back();
        }
    }

    // A worker ended without being asked: fail or retry its running task, count start failures.
    void worker_lost(worker_process& w, const std::string& why_prefix, bool kill_first) {
        int status = 0;
        const std::string how = reap(w, kill_first, &status);
        // A worker that dies before the handshake on its own (not killed from outside) points at a
        // program that does not call fronta::init first, or cannot start at all.
        const bool killed_from_outside = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        if (w.initializing && !killed_from_outside)
            break_pool("process_pool: the initializer " + options_.initializer->description() + " killed worker " +
                       std::to_string(w.pid) + " (" + how + ")");
        if (!w.ready && !killed_from_outside && ++spawn_failures_ >= spawn_failure_limit)
            break_pool("process_pool: workers die before they start (" + how +
                       "); does main call fronta::init(argc, argv) on its first line?");
        requeue_waiting(w);
        if (!w.tasks.empty()) {
            remote::remote_task* t = w.tasks.front().task;
            w.tasks.clear();
            retry_or_fail(t, std::make_exception_ptr(worker_died("process_pool: worker " + std::to_string(w.pid) + " " +
                                                                 why_prefix + how + " while running " + t->description)));
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

    // ---- the dispatcher --------------------------------------------------------------------------

    void run() {
        detail::callback_runner::installed_here callbacks_elsewhere(callbacks_);
        std::vector<pollfd> fds;
        std::vector<worker_process*> polled;
        for (;;) {
            bool stopping = false;
            bool cancel = false;
            {
                std::lock_guard lock(mutex_);
                if (!inbox_.empty()) last_activity_ = clock::now();
                while (!inbox_.empty()) {
                    queue_.push_back(inbox_.front());
                    inbox_.pop_front();
                }
                inbox_size_.store(0, std::memory_order_relaxed);
                stopping = stopping_;
                cancel = cancel_requested_;
            }
            if (cancel) cancel_everything();
            fail_queue_if_broken();
            handle_deadlines();
            top_up_workers(stopping);
            assign_tasks();

            const bool busy = std::any_of(workers_.begin(), workers_.end(), [](auto& w) { return !w->tasks.empty(); });
            const bool lent = std::any_of(workers_.begin(), workers_.end(),
                                          [](auto& w) { return w->claimed.load(std::memory_order_acquire); });
            if (stopping && queue_.empty() && !busy && !lent) break;

            // Per worker: its channel (unless it closed) and its pidfd (it ended); then the
            // pidfds of the workers on their way out.
            fds.clear();
            polled.clear();
            fds.push_back({wake_fd_, POLLIN, 0});
            for (auto& w : workers_) {
                const bool open = w->channel_open();
                const short events = static_cast<short>(POLLIN | (open && w->link->has_queued() ? POLLOUT : 0));
                fds.push_back({open ? w->fd() : -1, events, 0});
                fds.push_back({w->pidfd, POLLIN, 0});
                polled.push_back(w.get());
            }
            for (auto& e : exiting_) fds.push_back({e.pidfd, POLLIN, 0});
            lend_idle_worker(stopping);
            const bool ok = wait_for_events(fds, busy);
            const bool removed = reclaim_idle_worker();
            if (!ok) break;
            if (removed) continue;  // `polled` may point at a removed worker; poll again
            if (fds[0].revents & POLLIN) {
                std::uint64_t count;
                [[maybe_unused]] auto ignored = read(wake_fd_, &count, sizeof count);
            }
            for (std::size_t i = 0; i < polled.size(); ++i) {
                worker_process& w = *polled[i];
                if (w.claimed.load(std::memory_order_acquire)) continue;  // a submitter has it
                const pollfd& channel = fds[1 + 2 * i];
                if ((channel.revents & POLLOUT) && w.link) w.link->flush(false);
                if (fds[2 + 2 * i].revents & POLLIN) {
                    worker_ended(w);  // removes it: polled[i] is not used after this
                    continue;
                }
                if ((channel.revents & ~POLLOUT) || (w.link && w.link->ring_ready()))
                    read_from(w);  // may remove it: polled[i] is not used after this
            }
        }
        for (auto& w : workers_) retire(*w);
        workers_.clear();
        publish_pids();
        wait_for_exits();
    }

    // Polls the inbox and the workers' rings without sleeping while tasks run and for a short
    // while after the last submit or reply (the next one often comes within microseconds), with a
    // look at the sockets now and then; then sleeps until a worker writes or rings, a submit wakes
    // us, or a deadline.
    bool wait_for_events(std::vector<pollfd>& fds, bool busy) {
        const auto now = clock::now();
        const auto spin_until = busy ? now + process::mailbox_spin_time : last_activity_ + process::mailbox_spin_time;
        if (now < spin_until) {
            for (unsigned i = 0;; ++i) {
                if (inbox_size_.load(std::memory_order_acquire) != 0 || handed_pending_.load(std::memory_order_acquire) ||
                    any_ring_ready())
                    return true;
                if (i % process::socket_check_interval == 0) {
                    const int ready = poll(fds.data(), fds.size(), 0);
                    if (ready != 0) return ready > 0 || errno == EINTR;
                    if (clock::now() >= spin_until) break;
                }
                process::relax(i);
            }
        }
        // Not the lent worker: its replies go to the submitter that claims it, who wakes us if it
        // hands a task back.
        for (auto& w : workers_)
            if (w->link && w.get() != lent_) w->link->set_sleeping(true);
        bool sleep = !any_ring_ready();
        if (sleep) {
            std::lock_guard lock(mutex_);
            if (!inbox_.empty() || handed_pending_.load(std::memory_order_relaxed)) {
                sleep = false;
            } else {
                dispatcher_sleeping_ = true;
            }
        }
        int rc = 0;
        if (sleep) {
            rc = poll(fds.data(), fds.size(), poll_timeout_ms());
            std::lock_guard lock(mutex_);
            dispatcher_sleeping_ = false;
        }
        for (auto& w : workers_)
            if (w->link) w->link->set_sleeping(false);
        return rc >= 0 || errno == EINTR;
    }

    bool any_ring_ready() const {
        for (auto& w : workers_)
            if (w->link && !w->claimed.load(std::memory_order_acquire) && w->link->ring_ready()) return true;
        return false;
    }

    void read_from(worker_process& w) {
        for (;;) {
            const auto got = w.link->receive();
            if (got == process::connection::status::nothing) break;
            if (got == process::connection::status::closed) {
                if (!drain_frames(w)) return;
                // Normally it is exiting: its pidfd tells when it is gone (worker_ended). One that
                // closed its channel and lives on is killed after linger_limit (handle_deadlines).
                w.closed_at = clock::now();
                return;
            }
        }
        drain_frames(w);
    }

    // Its pidfd says the process has ended: take what it sent before it went, then account for it.
    void worker_ended(worker_process& w) {
        if (w.channel_open()) {
            for (auto got = w.link->receive(); got == process::connection::status::data; got = w.link->receive()) {
            }
        }
        if (w.link && !drain_frames(w)) return;
        worker_lost(w, "", false);
    }

    // Handles the complete frames received; false if `w` was removed.
    bool drain_frames(worker_process& w) {
        try {
            while (auto got = w.link->next())
                if (!handle_frame(w, *got)) return false;
        } catch (const wire::protocol_error& e) {
            kill_corrupt(w, e.what());
            return false;
        }
        return true;
    }

    void kill_corrupt(worker_process& w, const std::string& what) {
        requeue_waiting(w);
        if (!w.tasks.empty()) {
            remote::remote_task* t = w.tasks.front().task;
            w.tasks.clear();
            retry_or_fail(t, std::make_exception_ptr(worker_died("process_pool: worker " + std::to_string(w.pid) +
                                                                 " sent a corrupt reply to " + t->description + " (" +
                                                                 what + "); it was killed")));
        }
        reap(w, true);
        remove_worker(&w);
    }

    bool handle_frame(worker_process& w, process::received_frame& got) {
        auto& frame = got.frame;
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
                if (options_.initializer) {
                    w.initializing = true;
                    w.link->queue(wire::kind::initialize, 0, options_.initializer->bytes());
                    w.link->flush(false);  // if it died, the read side notices
                }
                return true;
            case wire::kind::initialize:
                if (!w.initializing) throw wire::protocol_error("an initializer reply nobody asked for");
                w.initializing = false;
                try {
                    remote::result_or_throw(frame.payload);
                } catch (const std::exception& e) {
                    break_pool("process_pool: the initializer " + options_.initializer->description() + " failed: " +
                               e.what());
                    retire(w);
                    remove_worker(&w);
                    return false;
                }
                return true;
            case wire::kind::reply: {
                if (w.tasks.empty() || frame.id != w.tasks.front().id)
                    throw wire::protocol_error("a reply to task " + std::to_string(frame.id) + ", not to " +
                                               (w.tasks.empty() ? std::string("none") : std::to_string(w.tasks.front().id)));
                remote::remote_task* t = w.tasks.front().task;
                w.tasks.pop_front();
                const auto now = clock::now();
                const double took = std::chrono::duration<double>(now - w.head_started).count();
                w.average_task_seconds = 0.8 * w.average_task_seconds + 0.2 * took;
                w.head_started = now;
                last_activity_ = now;
                if (w.tasks.empty()) w.idle_since = now;
                if (got.unreadable.empty())
                    t->complete(got.payload(), got.attached);
                else
                    t->fail(std::make_exception_ptr(std::runtime_error("process_pool: cannot map the result of " +
                                                                       t->description + ": " + got.unreadable)));
                got.shared.release();  // read: the worker may reuse its buffer
                if (options_.max_tasks_per_child != 0 && ++w.tasks_done >= options_.max_tasks_per_child &&
                    w.tasks.empty()) {
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

    // How many tasks a worker may hold: more for short tasks, so the sockets carry batches; one
    // for long tasks, so a free worker is never kept waiting behind a busy one.
    std::size_t depth(const worker_process& w) const {
        if (options_.max_tasks_per_child != 0) {
            const std::size_t left = options_.max_tasks_per_child - std::min(options_.max_tasks_per_child, w.tasks_done);
            if (left == 0) return 0;
            if (w.average_task_seconds > 100e-6) return 1;
            return std::min<std::size_t>(left, 32);
        }
        if (w.average_task_seconds > 100e-6) return 1;
        return 32;
    }

    void assign_tasks() {
        if (queue_.empty()) return;
        // Each task goes to the least loaded worker that can take one, so work spreads evenly and
        // no task waits behind a running one (maybe stuck, maybe long) while another worker has
        // less to do. (Going round the workers in their order once sent a task ahead to the first
        // worker, busy, while the second sat idle.)
        while (!queue_.empty()) {
            worker_process* best = nullptr;
            for (auto& w : workers_) {
                if (!w->takes_tasks() || w->tasks.size() >= depth(*w) || !w->link->can_queue()) continue;
                if (best == nullptr || w->tasks.size() < best->tasks.size()) best = w.get();
                if (best->tasks.empty()) break;  // none is less loaded
            }
            if (best == nullptr) break;
            remote::remote_task* t = take_next();
            if (t == nullptr) break;
            const std::uint64_t id = next_task_id_.fetch_add(1, std::memory_order_relaxed) + 1;
            if (!send_task(*best, t, id)) continue;
            if (best->tasks.empty()) best->head_started = clock::now();
            best->tasks.push_back({t, id});
        }
        // Never wait for a worker to read: one stuck in a long task must not stall the dispatcher
        // (and with it every timeout). What does not fit now goes when poll says it can.
        // Flushing also rings the doorbell of a worker that sleeps on its ring.
        for (auto& w : workers_)
            if (w->link) w->link->flush(false);  // a dead one is noticed on read
    }

    // Queues a task for a worker; false if it could not (no descriptor left for its shared
    // memory or its attachments, say): then nothing was sent and the task alone fails, with the
    // cause. Not the worker's fault, so no retry, and never an exception out of the dispatcher.
    bool send_task(worker_process& w, remote::remote_task* t, std::uint64_t id) {
        try {
            w.link->queue_task(id, t->call);
            return true;
        } catch (const std::system_error& e) {
            t->fail(std::make_exception_ptr(
                std::system_error(e.code(), "process_pool: cannot send " + t->description + " to a worker")));
        } catch (...) {
            t->fail(std::current_exception());
        }
        return false;
    }

    remote::remote_task* take_next() {
        while (!queue_.empty()) {
            remote::remote_task* t = queue_.front();
            queue_.pop_front();
            if (t->started || t->start()) {
                t->started = true;
                return t;
            }
            t->cancel();  // cancelled while queued
        }
        return nullptr;
    }

    std::chrono::nanoseconds limit_for(const remote::remote_task& t) const {
        if (t.timeout.count() != 0) return t.timeout;
        if (options_.task_timeout) return *options_.task_timeout;
        return std::chrono::nanoseconds(0);
    }

    detail::deadline head_deadline(const worker_process& w) const {
        if (w.tasks.empty()) return detail::no_deadline;
        const auto limit = limit_for(*w.tasks.front().task);
        return limit.count() == 0 ? detail::no_deadline : w.head_started + limit;
    }

    void top_up_workers(bool stopping) {
        if (!broken_message().empty()) return;
        const std::size_t busy = static_cast<std::size_t>(
            std::count_if(workers_.begin(), workers_.end(), [](auto& w) { return !w->tasks.empty(); }));
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
        if (!exiting_.empty()) reap_exiting();
        const auto now = clock::now();
        for (std::size_t i = 0; i < workers_.size();) {
            worker_process& w = *workers_[i];
            if (w.pidfd < 0 && !w.claimed.load(std::memory_order_acquire) && has_ended(w.pid)) {
                worker_ended(w);  // what a pidfd would have said
                continue;
            }
            if (!w.tasks.empty() && now >= head_deadline(w)) {
                remote::remote_task* t = w.tasks.front().task;
                requeue_waiting(w);
                w.tasks.clear();
                const std::string pid = std::to_string(w.pid);
                reap(w, true);
                remove_worker(&w);
                retry_or_fail(t, std::make_exception_ptr(timeout_error(
                                     "process_pool: " + t->description + " ran past its timeout of " +
                                     detail::describe(limit_for(*t)) + "; worker " + pid + " was killed")));
                continue;
            }
            if (w.channel_closed() && now - w.closed_at >= linger_limit &&
                !w.claimed.load(std::memory_order_acquire)) {
                worker_lost(w, "closed its channel but lived on, and was ", true);
                continue;
            }
            if (!w.ready && now - w.started > handshake_limit) {
                worker_lost(w, "did not answer the handshake within 30 s and was ", true);
                continue;
            }
            if (w.ready && !w.initializing && w.tasks.empty() && !w.claimed.load(std::memory_order_acquire) && options_.idle_timeout &&
                queue_.empty() &&
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
            next = std::min(next, head_deadline(*w));
            if (!w->ready) next = std::min(next, w->started + handshake_limit);
            if (w->ready && w->tasks.empty() && options_.idle_timeout)
                next = std::min(next, w->idle_since + *options_.idle_timeout);
            if (w->channel_closed()) next = std::min(next, w->closed_at + linger_limit);
        }
        for (auto& e : exiting_) next = std::min(next, e.kill_at);
        const bool pidless = std::any_of(workers_.begin(), workers_.end(), [](auto& w) { return w->pidfd < 0; }) ||
                             std::any_of(exiting_.begin(), exiting_.end(), [](auto& e) { return e.pidfd < 0; });
        if (pidless) next = std::min(next, clock::now() + pidless_check_interval);
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
            if (!w.tasks.empty()) {
                auto tasks = std::move(w.tasks);
                w.tasks.clear();
                reap(w, true);
                remove_worker(&w);
                for (auto& entry : tasks)
                    entry.task->fail(std::make_exception_ptr(cancelled_error(
                        "process_pool: " + entry.task->description + " was stopped by shutdown(cancel_futures=true)")));
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

    const process_pool_options options_;
    const std::size_t target_;
    std::string secret_;
    int wake_fd_ = -1;

    mutable std::mutex mutex_;  // guards inbox_, stopping_, cancel_requested_, broken_, pids_, sleeping
    std::deque<remote::remote_task*> inbox_;
    std::atomic<std::size_t> inbox_size_{0};  // for the dispatcher's spin, without the lock
    bool stopping_ = false;
    bool cancel_requested_ = false;
    bool dispatcher_sleeping_ = false;
    std::string broken_;
    std::vector<int> pids_;

    // Dispatcher thread only (and the constructor before the thread starts).
    std::deque<remote::remote_task*> queue_;
    std::vector<std::unique_ptr<worker_process>> workers_;
    std::vector<exiting_worker> exiting_;  // retired, not yet reaped
    std::atomic<std::uint64_t> next_task_id_{0};
    int spawn_failures_ = 0;
    clock::time_point last_activity_{};  // the last submit taken or reply handled
    struct handed_task {
        worker_process* worker;
        in_flight task;
        clock::time_point sent;
        std::string corrupt;  // why its reply was refused, if it was
    };
    // How long a submitter polls for the reply of a task it gave a lent worker.
    static constexpr auto lone_task_wait = std::chrono::microseconds(20);
    // Guarded by mutex_: the worker lent to submitters (see hand_to_idle_worker), whether the
    // dispatcher still lends it, and the tasks submitters gave back.
    worker_process* idle_worker_ = nullptr;
    bool lend_open_ = false;
    worker_process* lent_ = nullptr;  // the dispatcher's own note of what it lent (dispatcher only)
    std::vector<handed_task> handed_;
    std::atomic<bool> handed_pending_{false};  // handed_ or lone_done changed: the dispatcher looks

    detail::callback_runner callbacks_{"fronta-cb"};
    std::mutex join_mutex_;
    std::thread dispatcher_;
};

}  // namespace

process_pool::process_pool() : process_pool(process_pool_options{}) {}
process_pool::process_pool(std::size_t workers) : process_pool(with_workers<process_pool_options>(workers, "process_pool")) {}
process_pool::process_pool(process_pool_options options)
    : remote_executor_base(std::make_shared<process_pool_impl>(std::move(options))) {}

process_pool& process_pool::operator=(process_pool&& other) noexcept {
    take_ownership(std::move(other));
    return *this;
}

process_pool::~process_pool() { end_ownership(); }

std::vector<int> process_pool::worker_pids() const {
    return static_cast<const process_pool_impl&>(*sink()).worker_pids();
}

}  // namespace fronta
