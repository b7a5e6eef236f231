#pragma once
// A Unix socket carrying frames, with file descriptors passed beside them (SCM_RIGHTS). Used by
// both ends of a process_pool: the client's dispatcher (non-blocking) and a worker (blocking).
// Payloads above a threshold travel in shared memory: the frame carries the segment's descriptor
// and where the message lies in it, and the receiver reads it in place (remote/payload.hpp).
//
// With a mailbox (mailbox.hpp), task and reply frames travel in its rings where they fit, and a
// marker in the ring keeps the place of those that travel on the socket; hello and shutdown frames
// always take the socket. The socket is still how a peer's death shows (EOF).

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fronta/remote/attachments.hpp"
#include "fronta/remote/payload.hpp"
#include "fronta/remote/registry.hpp"
#include "process/mailbox.hpp"
#include "process/wire.hpp"

namespace fronta::process {

struct received_frame {
    wire::frame frame;
    remote::attachments attached;  // descriptors that came with it
    remote::shared_view shared;    // the payload, when it came in shared memory
    std::string unreadable;        // why a payload in shared memory could not be mapped (ENOMEM...)

    /// The payload, wherever it lies; valid until `shared` is released.
    std::string_view payload() const noexcept {
        return shared.empty() ? std::string_view(frame.payload) : shared.bytes();
    }
};

class connection {
public:
    /// Takes ownership of `fd`.
    explicit connection(int fd, std::size_t shared_memory_threshold = std::size_t{1} << 20);
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    int fd() const noexcept { return fd_; }

    /// Sends tasks and replies through `box` from now on. `client`: this end sends requests and
    /// reads replies. `doorbell_out` (owned) wakes the peer when it sleeps; `doorbell_in` (owned,
    /// or -1) is what this end sleeps on besides the socket.
    void use_mailbox(std::unique_ptr<mailbox> box, bool client, int doorbell_out, int doorbell_in);
    bool has_mailbox() const noexcept { return box_ != nullptr; }
    int doorbell_in() const noexcept { return doorbell_in_; }
    /// Something waits in the incoming ring (one load from shared memory).
    bool ring_ready() const noexcept { return box_ && !in_ring_.empty(); }
    /// The next frame in order travels on the socket and has not arrived yet.
    bool waiting_for_socket() const;
    /// Before this end sleeps (true; then check ring_ready() once more) and after (false).
    void set_sleeping(bool sleeping) noexcept {
        if (box_) in_ring_.set_sleeping(sleeping);
    }
    /// Puts a task inline into the outgoing ring and wakes the peer if it sleeps, from a thread
    /// other than the owner's while the owner neither queues nor flushes; false if it does not fit.
    bool push_task_from_another_thread(std::uint64_t id, std::string_view payload);
    /// The next frame if it is inline in the ring and nothing from the socket comes before it.
    std::optional<received_frame> next_inline_frame();
    /// Whether `queue` can take another task or reply now (the ring has room for its marker).
    bool can_queue() const noexcept { return !box_ || out_ring_.free_space() >= marker_reserve; }

    /// Adds a frame to the outgoing buffer; `attached` descriptors go with it (duplicated).
    void queue(wire::kind type, std::uint64_t id, std::string_view payload,
               const remote::attachments* attached = nullptr);
    /// Adds a frame whose payload is bytes [offset, offset + length) of a shared segment: the peer
    /// reads them in place and then lets the segment be reused.
    void queue_shared(wire::kind type, std::uint64_t id, remote::shared_bytes& bytes, std::uint64_t offset,
                      std::uint64_t length, const remote::attachments* attached = nullptr);
    /// A task: its request, serialized in place when its arguments are in shared memory.
    void queue_task(std::uint64_t id, remote::request& call);
    /// A reply; one in shared memory is sent from there and `reply` is emptied.
    void queue_reply(std::uint64_t id, remote::output_bytes& reply, const remote::attachments* attached);
    /// Sends what is queued (and wakes the peer if it sleeps on the ring). With `wait`, waits while the socket is full;
    /// without, keeps the rest for a later call (see has_queued). False if the peer is gone.
    bool flush(bool wait = true);
    bool has_queued() const noexcept { return !out_.empty(); }

    enum class status { data, nothing, closed };
    /// Reads what the socket has (without waiting if it is non-blocking).
    status receive();
    /// The next complete frame; throws wire::protocol_error on malformed input.
    std::optional<received_frame> next();
    /// True if a complete frame may be buffered already (checked cheaply).
    bool has_buffered() const noexcept {
        return decoder_.pending() >= wire::header_size || !from_socket_.empty() || ring_ready();
    }

private:
    // Room kept in a ring for markers: a frame goes inline only if this much stays free. A pool
    // keeps at most 32 tasks at a worker, so markers never lack room.
    static constexpr std::size_t marker_reserve = 64 * ring::record_header;

    std::optional<received_frame> next_from_socket();
    void reserve_place(wire::kind type);
    /// Duplicates the descriptors that go with a frame (after `first`, if any): all or none.
    static std::vector<int> duplicate_attachments(const remote::attachments* attached, int first);
    /// Queues a frame for the socket with its descriptors (taken; closed if this throws).
    void append_socket_frame(wire::kind type, const std::string& header, std::string_view payload,
                             std::vector<int>& fds);
    void ring_doorbell() noexcept;

    int fd_;
    std::size_t threshold_;
    wire::decoder decoder_;
    std::string out_;
    std::vector<int> out_fds_;       // owned until sent
    std::deque<int> in_fds_;         // received, not yet claimed by a frame
    bool descriptors_lost_ = false;  // the kernel dropped some (MSG_CTRUNC): no room here
    std::string in_buffer_;

    std::unique_ptr<mailbox> box_;
    ring out_ring_;
    ring in_ring_;
    int doorbell_out_ = -1;
    int doorbell_in_ = -1;
    bool pushed_ = false;                     // records pushed since the last doorbell check
    std::deque<received_frame> from_socket_;  // tasks or replies that came on the socket, before their marker
    wire::decoder ring_decoder_;
    std::string record_;
    remote::mapping_cache peer_segments_;  // the peer's message buffers, mapped once
};

}  // namespace fronta::process
