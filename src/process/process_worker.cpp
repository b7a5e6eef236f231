// A process_pool worker: runs tasks one at a time in the order they come, replies in order, and
// exits when told to or when the client is gone. Replies of tasks that came together are sent
// together, unless one has waited for a while. Tasks and replies travel through the mailbox the
// client passes with its hello (shared-memory rings polled for a while before the worker sleeps).
//
// Before it serves, a worker checks that it was started by a pool of this very program (see
// check_channel), and a watcher thread ends it within milliseconds of its client's death, even in
// the middle of a task that never returns.
#include "process/process_worker.hpp"

#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "fronta/init.hpp"
#include "fronta/remote/registry.hpp"
#include "process/connection.hpp"
#include "process/wire.hpp"
#include "remote/handshake.hpp"

namespace fronta::process {
namespace {

std::string text_setting(const std::string& settings, const std::string& key) {
    const std::string wanted = key + "=";
    for (std::size_t at = 0; at < settings.size();) {
        std::size_t end = settings.find(';', at);
        if (end == std::string::npos) end = settings.size();
        if (settings.compare(at, wanted.size(), wanted) == 0)
            return settings.substr(at + wanted.size(), end - at - wanted.size());
        at = end + 1;
    }
    return {};
}

long setting(const std::string& settings, const std::string& key, long fallback) {
    const std::string text = text_setting(settings, key);
    if (text.empty()) return fallback;
    char* end = nullptr;
    errno = 0;
    const long value = std::strtol(text.c_str(), &end, 10);
    if (errno != 0 || *end != '\0') return fallback;
    return value;
}

[[noreturn]] void refuse(const std::string& why) {
    std::fprintf(stderr,
                 "fronta: %s is set, but %s; this program was not started as a worker by a fronta pool of its own, "
                 "so it refuses to serve (unset %s to run it normally)\n",
                 worker_environment_variable, why.c_str(), worker_environment_variable);
    std::_Exit(worker_refused_exit_code);
}

bool same_file(const char* a, const char* b) {
    struct stat sa {
    }, sb{};
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// The channel must be a Unix socket whose other end the parent process holds, and the parent must
// run this same executable: only a pool of this very program can make it serve.
void check_channel(int fd, pid_t client) {
    if (fcntl(fd, F_GETFD) < 0) refuse("descriptor " + std::to_string(fd) + " (the worker's channel) is not open");
    int domain = 0, type = 0;
    socklen_t length = sizeof domain;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) != 0 || domain != AF_UNIX) {
        refuse("descriptor " + std::to_string(fd) + " is not a Unix socket");
    }
    length = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 || type != SOCK_STREAM)
        refuse("descriptor " + std::to_string(fd) + " is not a stream socket");
    ucred peer{};
    length = sizeof peer;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0)
        refuse(std::string("the peer of the channel cannot be identified (") + std::strerror(errno) + ")");
    const pid_t parent = getppid();
    if (peer.pid != client || parent != client)
        refuse("the channel's peer (process " + std::to_string(peer.pid) + ") is not the parent process (" +
               std::to_string(parent) + ") named as the client (" + std::to_string(client) + ")");
    if (peer.uid != getuid()) refuse("the channel's peer runs as another user");
    const std::string parent_exe = "/proc/" + std::to_string(parent) + "/exe";
    if (!same_file(parent_exe.c_str(), "/proc/self/exe")) refuse("the parent process runs another program");
}

// Ends this worker as soon as its client is gone, whatever the task on the main thread is doing.
// A pidfd of the client becomes readable when it exits; without pidfds (old kernels) the thread
// waits for the channel to hang up instead. The thread blocks every signal, so signals meant for
// the task still reach the main thread.
struct watch {
    int fd;
    short events;
};
watch watched;

void* watch_client(void*) {
    pollfd p{watched.fd, watched.events, 0};
    while (poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
    std::_Exit(client_gone_exit_code);
}

void start_client_watch(int channel, pid_t client) {
    watched = {static_cast<int>(syscall(SYS_pidfd_open, client, 0)), POLLIN};       // close-on-exec
    if (watched.fd >= 0 && getppid() != client) std::_Exit(client_gone_exit_code);  // died before we looked
    if (watched.fd < 0) watched = {fcntl(channel, F_DUPFD_CLOEXEC, 3), POLLRDHUP};
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setstacksize(&attributes, 64 * 1024);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t thread;
    const int rc = pthread_create(&thread, &attributes, &watch_client, nullptr);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    pthread_attr_destroy(&attributes);
    if (rc != 0 || watched.fd < 0) {
        std::fprintf(stderr, "fronta worker %d: cannot watch the client (%s); exiting\n", static_cast<int>(getpid()),
                     std::strerror(rc != 0 ? rc : errno));
        std::_Exit(client_gone_exit_code);
    }
    pthread_detach(thread);
}

bool same_secret(const std::string& a, const std::string& b) {
    if (a.size() != b.size() || a.empty()) return false;
    unsigned char difference = 0;
    for (std::size_t i = 0; i < a.size(); ++i) difference |= static_cast<unsigned char>(a[i] ^ b[i]);
    return difference == 0;
}

// Bytes waiting in the channel that the client has not read yet (0: none).
int unread_bytes(int fd) {
    int queued = 0;
    if (ioctl(fd, SIOCOUTQ, &queued) != 0) return 0;
    return queued;
}

// The memory limit, for messages that do not fit under it.
std::string address_space_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return "";
    return " (this worker may use " + std::to_string(limit.rlim_cur) +
           " bytes of address space: the pool's memory_limit, or ulimit -v)";
}

bool poll_until_ready(pollfd* fds, nfds_t count) {
    while (poll(fds, count, -1) < 0)
        if (errno != EINTR) return false;
    return true;
}

// Waits for input: first watches the ring for a short while (the next task often comes within
// microseconds of the last reply), then sleeps in poll() on the socket and the doorbell.
bool wait_for_input(connection& link) {
    pollfd fds[2] = {{link.fd(), POLLIN, 0}, {link.doorbell_in(), POLLIN, 0}};
    if (link.waiting_for_socket()) {
        // The ring points at a frame on the socket, whose bytes are on their way (the client
        // publishes the marker as it queues the frame, before it sends it): poll for them a while.
        const auto spin_until = std::chrono::steady_clock::now() + mailbox_spin_time;
        for (unsigned i = 0; std::chrono::steady_clock::now() < spin_until; ++i) {
            if (poll(fds, 1, 0) > 0) return true;
            relax(i);
        }
        return poll_until_ready(fds, 1);
    }
    const auto spin_until = std::chrono::steady_clock::now() + mailbox_spin_time;
    for (unsigned i = 0;; ++i) {
        if (link.ring_ready()) return true;
        if (i % socket_check_interval == 0) {
            if (poll(fds, 1, 0) > 0) return true;
            if (std::chrono::steady_clock::now() >= spin_until) break;
        }
        relax(i);
    }
    if (!link.has_mailbox()) return poll_until_ready(fds, 1);
    link.set_sleeping(true);
    bool ok = true;
    if (!link.ring_ready()) ok = poll_until_ready(fds, 2);
    link.set_sleeping(false);
    if (fds[1].revents & POLLIN) {
        std::uint64_t count;
        [[maybe_unused]] auto ignored = read(link.doorbell_in(), &count, sizeof count);
    }
    return ok;
}

// The client's hello carries the mailbox, this worker's doorbell and the client's doorbell.
void adopt_mailbox(connection& link, const received_frame& hello) {
    if (hello.frame.attachments != 3) throw wire::protocol_error("the hello did not bring a mailbox");
    int fds[3];
    for (int i = 0; i < 3; ++i) {
        fds[i] = fcntl(hello.attached.get(static_cast<std::size_t>(i)), F_DUPFD_CLOEXEC, 3);
        if (fds[i] < 0) {
            for (int j = 0; j < i; ++j) close(fds[j]);
            throw wire::protocol_error("cannot keep the mailbox's descriptors");
        }
    }
    std::unique_ptr<mailbox> box;
    try {
        box = mailbox::open(fds[0]);
    } catch (const std::exception& e) {
        close(fds[1]);
        close(fds[2]);
        throw wire::protocol_error(std::string("cannot map the mailbox: ") + e.what());
    }
    link.use_mailbox(std::move(box), false, fds[2], fds[1]);
}

}  // namespace

int run_process_worker(const std::string& settings) {
    // A set-user-ID (or otherwise elevated) program must never take orders from its environment.
    if (getauxval(AT_SECURE) != 0)
        refuse("this program runs with elevated privileges (set-user-ID, set-group-ID or capabilities)");
    const int fd = static_cast<int>(setting(settings, "fd", -1));
    const auto client = static_cast<pid_t>(setting(settings, "client", -1));
    const std::string secret = text_setting(settings, "secret");
    if (fd < 0 || client <= 0 || secret.empty()) refuse("its value is malformed");
    check_channel(fd, client);
    // A worker runs in a process group of its own (a terminal's Ctrl-C is for the client), so to
    // the terminal it is a background job: reading the terminal would stop it (SIGTTIN), and so
    // would writing with `stty tostop` (SIGTTOU), forever, with its client waiting. Ignored, a read
    // fails with EIO and a write goes through.
    signal(SIGTTIN, SIG_IGN);
    signal(SIGTTOU, SIG_IGN);
    fcntl(fd, F_SETFD, FD_CLOEXEC);  // not for programs a task starts
    start_client_watch(fd, client);
    if (const long memory = setting(settings, "memory", 0); memory > 0) {
        rlimit limit{static_cast<rlim_t>(memory), static_cast<rlim_t>(memory)};
        setrlimit(RLIMIT_AS, &limit);  // allocations beyond it throw std::bad_alloc in the task
    }
    const auto threshold = static_cast<std::size_t>(setting(settings, "shm", 1 << 20));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);  // waits happen in wait_for_input
    connection link(fd, threshold);
    remote::output_bytes reply(threshold);  // large replies are written straight into shared memory
    auto oldest_unsent = std::chrono::steady_clock::now();
    bool greeted = false;
    try {
        for (;;) {
            while (std::optional<received_frame> got = link.next()) {
                auto& frame = got->frame;
                if (!greeted && frame.type != wire::kind::hello)
                    throw wire::protocol_error("the first frame was not the client's hello");
                switch (frame.type) {
                    case wire::kind::hello: {
                        // "<build id>\n<secret>": the secret proves the hello comes from the pool
                        // that started this worker.
                        const auto newline = frame.payload.find('\n');
                        const std::string theirs = frame.payload.substr(0, newline);
                        const std::string proof = newline == std::string::npos ? "" : frame.payload.substr(newline + 1);
                        if (greeted || !same_secret(proof, secret))
                            throw wire::protocol_error("a hello without the pool's secret");
                        const auto refusal = remote::refusal_of(theirs);
                        const std::string answer = refusal ? *refusal : std::string("ok");
                        if (answer == "ok") adopt_mailbox(link, *got);
                        link.queue(wire::kind::hello, 0, answer);
                        if (!link.flush()) return 0;
                        if (answer != "ok") return build_mismatch_exit_code;
                        greeted = true;
                        break;
                    }
                    case wire::kind::task: {
                        if (!link.has_queued()) oldest_unsent = std::chrono::steady_clock::now();
                        // Bytes the task itself writes onto the channel are not frames: the client
                        // would read them as garbage. They are caught here, so they fail this task
                        // and never a later one (the count can only fall while the task runs,
                        // as the client reads, so a rise means the task wrote).
                        remote::shared_bytes::trim();  // frees a large reply's buffer once it is read
                        const int unread_before = unread_bytes(fd);
                        if (got->unreadable.empty())
                            remote::execute(got->payload(), got->attached, reply);
                        else
                            remote::failure_reply(std::make_exception_ptr(std::runtime_error(
                                                      "fronta worker: cannot map the task's arguments: " +
                                                      got->unreadable + address_space_limit())),
                                                  reply);
                        if (const int unread_after = unread_bytes(fd); unread_after > unread_before) {
                            std::fprintf(
                                stderr,
                                "fronta worker %d: the task wrote bytes onto fronta's channel (descriptor %d), "
                                "which only fronta may use; exiting\n",
                                static_cast<int>(getpid()), fd);
                            return stray_bytes_exit_code;
                        }
                        got->shared.release();  // read: the client may reuse its buffer
                        try {
                            link.queue_reply(frame.id, reply, &got->attached);
                        } catch (const std::exception&) {
                            // The result cannot go (no descriptor left for its shared memory, say):
                            // the task fails with the cause, and the worker serves on.
                            remote::output_bytes error;
                            remote::failure_reply(std::current_exception(), error);
                            link.queue_reply(frame.id, error, nullptr);
                        }
                        // Replies wait for company only while more tasks are here and the first is fresh.
                        const bool stale =
                            std::chrono::steady_clock::now() - oldest_unsent > std::chrono::microseconds(200);
                        if ((!link.has_buffered() || stale) && !link.flush()) return 0;
                        break;
                    }
                    case wire::kind::initialize: {
                        // The pool's initializer, before any task; its reply says how it went.
                        const std::string reply = remote::execute(frame.payload, got->attached);
                        link.queue(wire::kind::initialize, 0, reply);
                        if (!link.flush()) return 0;
                        break;
                    }
                    case wire::kind::shutdown: link.flush(); return 0;
                    case wire::kind::reply: throw wire::protocol_error("a worker does not take replies");
                }
            }
            if (!link.flush()) return 0;  // also wakes the client if it sleeps
            remote::shared_bytes::trim();
            if (!wait_for_input(link)) return 0;
            if (link.receive() == connection::status::closed) return 0;
        }
    } catch (const wire::protocol_error& e) {
        std::fprintf(stderr, "fronta worker %d: %s; exiting\n", static_cast<int>(getpid()), e.what());
        return protocol_error_exit_code;
    }
}

}  // namespace fronta::process
