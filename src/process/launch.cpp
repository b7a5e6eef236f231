// Starting, killing and reaping worker processes (see launch.hpp).
#include "process/launch.hpp"

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
#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "fronta/init.hpp"
#include "process/mailbox.hpp"
#include "process/process_worker.hpp"
#include "process/wire.hpp"
#include "remote/handshake.hpp"

extern char** environ;

namespace fronta::process {
namespace {

// How long a worker asked to exit (shutdown, retirement) may take to finish by itself: flushing
// its output, atexit handlers, static destructors. Then it is killed.
constexpr auto exit_grace = std::chrono::seconds(5);

int pidfd_of(pid_t pid) {
    if (std::getenv("FRONTA_TEST_NO_PIDFD") != nullptr) {  // lets a test play "a kernel before 5.3"
        errno = ENOSYS;
        return -1;
    }
    return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

// The descriptor number of a worker's channel: high, out of the way of descriptors a program
// hands its children (`prog 3>trace.log`), below the limit and below FD_SETSIZE.
int channel_descriptor() {
    rlimit limit{};
    rlim_t most = 1024;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < most) most = limit.rlim_cur;
    return std::max(3, static_cast<int>(most) - 1);
}

[[noreturn]] void fail(const char* what, int error) { throw std::system_error(error, std::generic_category(), what); }

}  // namespace

int milliseconds_until(clock::time_point until) {
    if (until == clock::time_point::max()) return -1;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
}

worker_process::~worker_process() {
    if (pidfd >= 0) close(pidfd);
}

std::string describe_status(int status) {
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        const char* name = strsignal(sig);
        return "killed by signal " + std::to_string(sig) + " (" + (name ? name : "unknown") + ")";
    }
    if (WIFEXITED(status)) {
        const int code = WEXITSTATUS(status);
        std::string how = "exited with code " + std::to_string(code);
        if (code == stray_bytes_exit_code)
            how += " (the task wrote bytes onto fronta's channel to the worker, which only fronta may use)";
        if (code == worker_refused_exit_code) how += " (it refused to serve: see its message on stderr)";
        return how;
    }
    return "stopped (status " + std::to_string(status) + ")";
}

bool has_ended(pid_t pid) {
    siginfo_t info{};
    return waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == pid;
}

void kill_process(pid_t pid, int pidfd) {
    if (pidfd >= 0) {
        if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0) == 0 || errno != ENOSYS) return;
    }
    kill(pid, SIGKILL);
}

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

std::string reap(worker_process& w, bool kill_first, int* status_out) {
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

std::unique_ptr<worker_process> launch_worker(const launch_settings& settings) {
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
    const std::string prefix = std::string(worker_environment_variable) + "=";
    for (char** e = environ; e && *e; ++e)
        if (std::strncmp(*e, prefix.c_str(), prefix.size()) != 0) env_strings.emplace_back(*e);
    env_strings.push_back(prefix + "fd=" + std::to_string(channel) + ";client=" + std::to_string(getpid()) +
                          ";secret=" + settings.secret + ";memory=" + std::to_string(settings.memory_limit) +
                          ";shm=" + std::to_string(settings.shared_memory_threshold));
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
    w->name = "worker " + std::to_string(pid);
    // From here on a failure kills and reaps the new process (reap), then reports the cause.
    try {
        w->link = std::make_unique<connection>(sockets[0], settings.shared_memory_threshold);
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
        auto box = mailbox::create();
        hello_fds.add(box->fd());
        const int doorbell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (doorbell < 0) fail("eventfd", errno);
        try {
            hello_fds.add(doorbell);
            hello_fds.add(settings.client_doorbell);
        } catch (...) {
            close(doorbell);
            throw;
        }
        w->link->use_mailbox(std::move(box), true, doorbell, -1);
        w->link->queue(wire::kind::hello, 0, std::string(remote::hello_from_client()) + "\n" + settings.secret,
                       &hello_fds);
    } catch (...) {
        reap(*w, true);
        throw;
    }
    w->link->flush(false);  // if it died at once, the read side notices and reports it
    return w;
}

// ---- workers on their way out ----------------------------------------------------------------

exiting_workers::~exiting_workers() {
    for (auto& e : exiting_)
        if (e.pidfd >= 0) close(e.pidfd);
}

void exiting_workers::add(worker_process& w) {
    exiting_.push_back({w.pid, std::exchange(w.pidfd, -1), clock::now() + exit_grace});
}

void exiting_workers::reap_ended() {
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

void exiting_workers::wait_all() {
    std::vector<pollfd> fds;
    for (reap_ended(); !exiting_.empty(); reap_ended()) {
        fds.clear();
        add_pollfds(fds);
        auto next = next_deadline();
        if (any_without_pidfd()) next = std::min(next, clock::now() + pidless_check_interval);
        poll(fds.data(), fds.size(), milliseconds_until(next));
    }
}

void exiting_workers::add_pollfds(std::vector<pollfd>& fds) const {
    for (auto& e : exiting_) fds.push_back({e.pidfd, POLLIN, 0});
}

clock::time_point exiting_workers::next_deadline() const {
    auto next = clock::time_point::max();
    for (auto& e : exiting_) next = std::min(next, e.kill_at);
    return next;
}

bool exiting_workers::any_without_pidfd() const {
    return std::any_of(exiting_.begin(), exiting_.end(), [](const exiting& e) { return e.pidfd < 0; });
}

}  // namespace fronta::process
