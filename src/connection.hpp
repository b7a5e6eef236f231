#pragma once
// A Unix socket carrying frames, with file descriptors passed beside them (SCM_RIGHTS). Used by
// both ends of a process_pool: the client's dispatcher (non-blocking) and a worker (blocking).
// Payloads above a threshold travel in shared memory: the frame carries only the descriptor.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fronta/remote/attachments.hpp"
#include "fronta/remote/wire.hpp"

namespace fronta::detail {

struct received_frame {
    remote::wire::frame frame;
    remote::attachments attached;  // descriptors that came with it
};

class connection {
public:
    /// Takes ownership of `fd`.
    explicit connection(int fd, std::size_t shared_memory_threshold = std::size_t{1} << 20);
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    int fd() const noexcept { return fd_; }

    /// Adds a frame to the outgoing buffer; `attached` descriptors go with it (duplicated).
    void queue(remote::wire::kind type, std::uint64_t id, std::string_view payload,
               const remote::attachments* attached = nullptr);
    /// Sends what is queued. With `wait`, waits while the socket is full; without, keeps the rest
    /// for a later call (see has_queued). False if the peer is gone.
    bool flush(bool wait = true);
    bool has_queued() const noexcept { return !out_.empty(); }

    enum class status { data, nothing, closed };
    /// Reads what the socket has (without waiting if it is non-blocking).
    status receive();
    /// The next complete frame; throws remote::wire::protocol_error on malformed input.
    std::optional<received_frame> next();
    /// True if a complete frame may be buffered already (checked cheaply).
    bool has_buffered() const noexcept { return decoder_.pending() >= remote::wire::header_size; }

private:
    int fd_;
    std::size_t threshold_;
    remote::wire::decoder decoder_;
    std::string out_;
    std::vector<int> out_fds_;            // owned until sent
    std::deque<int> in_fds_;              // received, not yet claimed by a frame
    std::string in_buffer_;
};

}  // namespace fronta::detail
