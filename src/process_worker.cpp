// A process_pool worker: runs tasks one at a time in the order they come, replies in order, and
// exits when told to or when the client is gone. Replies of tasks that came together are sent
// together, unless one has waited for a while. Tasks and replies travel through the mailbox the
// client passes with its hello (shared-memory rings polled for a while before the worker sleeps).
#include "process_worker.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "connection.hpp"
#include "fronta/init.hpp"
#include "fronta/remote/registry.hpp"
#include "fronta/remote/wire.hpp"

namespace fronta::detail {
namespace {

long setting(const std::string& settings, const std::string& key, long fallback) {
    const auto at = settings.find(key + "=");
    if (at == std::string::npos) return fallback;
    return std::strtol(settings.c_str() + at + key.size() + 1, nullptr, 10);
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
    if (hello.frame.attachments != 3) throw remote::wire::protocol_error("the hello did not bring a mailbox");
    int fds[3];
    for (int i = 0; i < 3; ++i) {
        fds[i] = fcntl(hello.attached.get(static_cast<std::size_t>(i)), F_DUPFD_CLOEXEC, 3);
        if (fds[i] < 0) {
            for (int j = 0; j < i; ++j) close(fds[j]);
            throw remote::wire::protocol_error("cannot keep the mailbox's descriptors");
        }
    }
    std::unique_ptr<mailbox> box;
    try {
        box = mailbox::open(fds[0]);
    } catch (const std::exception& e) {
        close(fds[1]);
        close(fds[2]);
        throw remote::wire::protocol_error(std::string("cannot map the mailbox: ") + e.what());
    }
    link.use_mailbox(std::move(box), false, fds[2], fds[1]);
}

}  // namespace

int run_process_worker(const std::string& settings) {
    const int fd = static_cast<int>(setting(settings, "fd", -1));
    if (fd < 0) {
        std::fprintf(stderr, "fronta worker: malformed %s='%s'\n", worker_environment_variable, settings.c_str());
        return 2;
    }
    if (const long memory = setting(settings, "memory", 0); memory > 0) {
        rlimit limit{static_cast<rlim_t>(memory), static_cast<rlim_t>(memory)};
        setrlimit(RLIMIT_AS, &limit);  // allocations beyond it throw std::bad_alloc in the task
    }
    const auto threshold = static_cast<std::size_t>(setting(settings, "shm", 1 << 20));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);  // waits happen in wait_for_input
    connection link(fd, threshold);
    auto oldest_unsent = std::chrono::steady_clock::now();
    try {
        for (;;) {
            while (std::optional<received_frame> got = link.next()) {
                auto& frame = got->frame;
                switch (frame.type) {
                    case remote::wire::kind::hello: {
                        const std::string mine = build_id();
                        const std::string answer =
                            frame.payload == mine ? std::string("ok")
                                                  : "the worker is a different build of the program (worker " + mine +
                                                        ", client " + frame.payload + "); rebuild and restart";
                        if (answer == "ok") adopt_mailbox(link, *got);
                        link.queue(remote::wire::kind::hello, 0, answer);
                        if (!link.flush()) return 0;
                        if (answer != "ok") return 3;
                        break;
                    }
                    case remote::wire::kind::task: {
                        if (!link.has_queued()) oldest_unsent = std::chrono::steady_clock::now();
                        const std::string reply = remote::execute(frame.payload, got->attached);
                        link.queue(remote::wire::kind::reply, frame.id, reply, &got->attached);
                        // Replies wait for company only while more tasks are here and the first is fresh.
                        const bool stale = std::chrono::steady_clock::now() - oldest_unsent > std::chrono::microseconds(200);
                        if ((!link.has_buffered() || stale) && !link.flush()) return 0;
                        break;
                    }
                    case remote::wire::kind::initialize: {
                        // The pool's initializer, before any task; its reply says how it went.
                        const std::string reply = remote::execute(frame.payload, got->attached);
                        link.queue(remote::wire::kind::initialize, 0, reply);
                        if (!link.flush()) return 0;
                        break;
                    }
                    case remote::wire::kind::shutdown:
                        link.flush();
                        return 0;
                    case remote::wire::kind::reply:
                        throw remote::wire::protocol_error("a worker does not take replies");
                }
            }
            if (!link.flush()) return 0;  // also wakes the client if it sleeps
            if (!wait_for_input(link)) return 0;
            if (link.receive() == connection::status::closed) return 0;
        }
    } catch (const remote::wire::protocol_error& e) {
        std::fprintf(stderr, "fronta worker %d: %s; exiting\n", static_cast<int>(getpid()), e.what());
        return 4;
    }
}

}  // namespace fronta::detail
