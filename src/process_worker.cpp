// A process_pool worker: runs tasks one at a time in the order they come, replies in order, and
// exits when told to or when the client is gone. Replies of tasks that came together are sent
// together, unless one has waited for a while.
#include "process_worker.hpp"

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

// Waits for input: first polls for a short while (the next task often comes within
// microseconds of the last reply), then sleeps in poll().
bool wait_for_input(int fd) {
    const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
    pollfd p{fd, POLLIN, 0};
    while (std::chrono::steady_clock::now() < spin_until) {
        if (poll(&p, 1, 0) > 0) return true;
        sched_yield();  // on a full machine, let the client run
    }
    while (poll(&p, 1, -1) < 0) {
        if (errno != EINTR) return false;
    }
    return true;
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
                    case remote::wire::kind::shutdown:
                        link.flush();
                        return 0;
                    case remote::wire::kind::reply:
                        throw remote::wire::protocol_error("a worker does not take replies");
                }
            }
            if (link.has_queued() && !link.flush()) return 0;
            if (!wait_for_input(fd)) return 0;
            if (link.receive() == connection::status::closed) return 0;
        }
    } catch (const remote::wire::protocol_error& e) {
        std::fprintf(stderr, "fronta worker %d: %s; exiting\n", static_cast<int>(getpid()), e.what());
        return 4;
    }
}

}  // namespace fronta::detail
