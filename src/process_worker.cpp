// A process_pool worker: one task at a time, in order, until told to stop or the client is gone.
#include "process_worker.hpp"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

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

}  // namespace

bool write_all(int fd, const std::string& header, const std::string& payload) {
    iovec parts[2] = {{const_cast<char*>(header.data()), header.size()},
                      {const_cast<char*>(payload.data()), payload.size()}};
    int first = 0;
    while (first < 2) {
        msghdr message{};
        message.msg_iov = parts + first;
        message.msg_iovlen = static_cast<size_t>(2 - first);
        const ssize_t sent = sendmsg(fd, &message, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                fd_set set;  // the peer is slow to read: wait until it can take more
                FD_ZERO(&set);
                FD_SET(fd, &set);
                select(fd + 1, nullptr, &set, nullptr, nullptr);
                continue;
            }
            return false;
        }
        auto left = static_cast<size_t>(sent);
        while (first < 2 && left >= parts[first].iov_len) left -= parts[first++].iov_len;
        if (first < 2) {
            parts[first].iov_base = static_cast<char*>(parts[first].iov_base) + left;
            parts[first].iov_len -= left;
        }
    }
    return true;
}

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
    remote::wire::decoder decoder;
    std::string buffer(1 << 16, '\0');
    for (;;) {
        const ssize_t got = read(fd, buffer.data(), buffer.size());
        if (got == 0) return 0;  // the client is gone
        if (got < 0) {
            if (errno == EINTR) continue;
            return 0;
        }
        decoder.feed(buffer.data(), static_cast<size_t>(got));
        try {
            while (auto frame = decoder.next()) {
                switch (frame->type) {
                    case remote::wire::kind::hello: {
                        const std::string mine = build_id();
                        const std::string answer =
                            frame->payload == mine
                                ? std::string("ok")
                                : "the worker is a different build of the program (worker " + mine + ", client " +
                                      frame->payload + "); rebuild and restart";
                        if (!write_all(fd, remote::wire::encode_header(remote::wire::kind::hello, 0, answer), answer))
                            return 0;
                        if (answer != "ok") return 3;
                        break;
                    }
                    case remote::wire::kind::task: {
                        const std::string reply = remote::execute(frame->payload);
                        if (!write_all(fd, remote::wire::encode_header(remote::wire::kind::reply, frame->id, reply), reply))
                            return 0;
                        break;
                    }
                    case remote::wire::kind::shutdown:
                        return 0;
                    case remote::wire::kind::reply:
                        throw remote::wire::protocol_error("a worker does not take replies");
                }
            }
        } catch (const remote::wire::protocol_error& e) {
            std::fprintf(stderr, "fronta worker %d: %s; exiting\n", static_cast<int>(getpid()), e.what());
            return 4;
        }
    }
}

}  // namespace fronta::detail
