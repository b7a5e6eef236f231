#include "process/connection.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace fronta::process {
namespace wire = process::wire;

namespace {
constexpr std::uint16_t payload_in_attachment = wire::payload_attached;
constexpr std::size_t max_fds_per_message = 250;  // the kernel's limit is 253 (SCM_MAX_FD)
}  // namespace

connection::connection(int fd, std::size_t threshold) : fd_(fd), threshold_(threshold), in_buffer_(1 << 16, '\0') {}

connection::~connection() {
    close(fd_);
    if (doorbell_out_ >= 0) close(doorbell_out_);
    if (doorbell_in_ >= 0) close(doorbell_in_);
    for (int fd : out_fds_) close(fd);
    for (int fd : in_fds_) close(fd);
}

void connection::use_mailbox(std::unique_ptr<mailbox> box, bool client, int doorbell_out, int doorbell_in) {
    out_ring_ = client ? box->requests() : box->replies();
    in_ring_ = client ? box->replies() : box->requests();
    box_ = std::move(box);
    doorbell_out_ = doorbell_out;
    doorbell_in_ = doorbell_in;
}

void connection::ring_doorbell() noexcept {
    if (!pushed_) return;
    pushed_ = false;
    if (!out_ring_.consumer_needs_wake()) return;
    const std::uint64_t one = 1;
    [[maybe_unused]] auto ignored = write(doorbell_out_, &one, sizeof one);
}

bool connection::push_task_from_another_thread(std::uint64_t id, std::string_view payload) {
    if (!box_ || payload.size() + wire::header_size > mailbox::max_inline_frame || payload.size() > threshold_)
        return false;
    const std::string header = wire::encode_header(wire::kind::task, id, payload);
    if (!out_ring_.push(ring::tag::frame, header, payload, marker_reserve)) return false;
    if (out_ring_.consumer_needs_wake()) {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto ignored = write(doorbell_out_, &one, sizeof one);
    }
    return true;
}

void connection::reserve_place(wire::kind type) {
    if (box_ && (type == wire::kind::task || type == wire::kind::reply)) {
        // On the socket; the marker keeps its place in the order of frames.
        if (!out_ring_.push(ring::tag::on_socket, {}, {}))
            throw std::runtime_error("fronta: a worker's mailbox is full (more frames in flight than it holds)");
        pushed_ = true;
    }
}

std::vector<int> connection::duplicate_attachments(const remote::attachments* attached, int first) {
    std::vector<int> fds;
    if (first >= 0) fds.push_back(first);
    try {
        if (attached)
            for (int fd : attached->fds()) {
                const int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (copy < 0)
                    throw std::system_error(errno, std::generic_category(),
                                            "fronta: cannot pass a descriptor to a worker");
                fds.push_back(copy);
            }
    } catch (...) {
        for (int fd : fds) close(fd);
        throw;
    }
    return fds;
}

// Everything that can fail (descriptors, memory, the ring's room for the marker) comes before
// anything changes: a failure leaves the connection as it was, so the peer never sees half a frame
// or a marker for a frame that never comes, and the caller can fail this one task.
void connection::append_socket_frame(wire::kind type, const std::string& header, std::string_view payload,
                                     std::vector<int>& fds) {
    struct closer {
        std::vector<int>& fds;
        ~closer() {
            for (int fd : fds) close(fd);
        }
    } on_failure{fds};
    out_fds_.reserve(out_fds_.size() + fds.size());
    out_.reserve(out_.size() + header.size() + payload.size());
    reserve_place(type);  // the last step that can fail
    out_ += header;
    out_.append(payload);
    out_fds_.insert(out_fds_.end(), fds.begin(), fds.end());  // reserved: cannot throw
    fds.clear();
}

void connection::queue(wire::kind type, std::uint64_t id, std::string_view payload,
                       const remote::attachments* attached) {
    if (payload.size() > threshold_ || payload.size() > wire::default_max_payload) {
        // Large: into shared memory (a warm segment from the pool), read in place by the peer.
        auto bytes = remote::shared_bytes::acquire(payload.size());
        bytes.append(payload.data(), payload.size());
        const auto [offset, length] = bytes.whole();
        queue_shared(type, id, bytes, offset, length, attached);
        return;
    }
    if (box_ && (type == wire::kind::task || type == wire::kind::reply) && (attached == nullptr || attached->empty()) &&
        payload.size() + wire::header_size <= mailbox::max_inline_frame) {
        const std::string header = wire::encode_header(type, id, payload);
        if (out_ring_.push(ring::tag::frame, header, payload, marker_reserve)) {
            pushed_ = true;
            return;
        }
    }
    std::vector<int> fds = duplicate_attachments(attached, -1);
    const auto count = static_cast<std::uint16_t>(attached ? attached->size() : 0);
    append_socket_frame(type, wire::encode_header(type, id, payload, count), payload, fds);
}

void connection::queue_shared(wire::kind type, std::uint64_t id, remote::shared_bytes& bytes, std::uint64_t offset,
                              std::uint64_t length, const remote::attachments* attached) {
    const int memory = fcntl(bytes.fd(), F_DUPFD_CLOEXEC, 3);
    if (memory < 0) throw std::system_error(errno, std::generic_category(), "fronta: cannot pass a message buffer");
    std::vector<int> fds = duplicate_attachments(attached, memory);
    char where[16];
    std::memcpy(where, &offset, 8);
    std::memcpy(where + 8, &length, 8);
    const std::string_view payload(where, sizeof where);
    const auto count = static_cast<std::uint16_t>(attached ? attached->size() : 0);
    append_socket_frame(type,
                        wire::encode_header(type, id, payload,
                                            static_cast<std::uint16_t>((count + 1) | payload_in_attachment)),
                        payload, fds);
    bytes.lend();  // the peer's shared_view gives it back
}

void connection::queue_task(std::uint64_t id, remote::request& call) {
    if (call.shared_arguments.empty()) {
        queue(wire::kind::task, id, remote::to_bytes(call), &call.attached);
        return;
    }
    const auto [offset, length] = remote::frame_shared_request(call);
    queue_shared(wire::kind::task, id, call.shared_arguments, offset, length, &call.attached);
}

void connection::queue_reply(std::uint64_t id, remote::output_bytes& reply, const remote::attachments* attached) {
    if (!reply.is_shared()) {
        queue(wire::kind::reply, id, reply.view(), attached);
        return;
    }
    const auto [offset, length] = reply.shared().whole();
    queue_shared(wire::kind::reply, id, reply.shared(), offset, length, attached);
    reply.clear();  // the segment goes back to the pool, reused once the client has read it
}

bool connection::flush(bool wait) {
    if (out_.empty()) {
        ring_doorbell();
        return true;
    }
    struct doorbell_after {  // once the socket part is sent, so a woken peer finds it
        connection* self;
        ~doorbell_after() { self->ring_doorbell(); }
    } doorbell{this};
    std::size_t sent_bytes = 0;
    while (sent_bytes < out_.size()) {
        iovec part{out_.data() + sent_bytes, out_.size() - sent_bytes};
        msghdr message{};
        message.msg_iov = &part;
        message.msg_iovlen = 1;
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_fds_per_message)];
        const std::size_t fd_count = std::min(out_fds_.size(), max_fds_per_message);
        if (fd_count != 0) {
            // Descriptors ride on the first byte still to be sent, so they arrive before (or with)
            // the frame that refers to them.
            message.msg_control = control;
            message.msg_controllen = CMSG_SPACE(sizeof(int) * fd_count);
            cmsghdr* header = CMSG_FIRSTHDR(&message);
            header->cmsg_level = SOL_SOCKET;
            header->cmsg_type = SCM_RIGHTS;
            header->cmsg_len = CMSG_LEN(sizeof(int) * fd_count);
            std::memcpy(CMSG_DATA(header), out_fds_.data(), sizeof(int) * fd_count);
            if (fd_count < out_fds_.size()) part.iov_len = 1;  // the rest go with the next bytes
        }
        const ssize_t sent = sendmsg(fd_, &message, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!wait) {
                    out_.erase(0, sent_bytes);  // the rest goes when the peer has read some
                    return true;
                }
                pollfd p{fd_, POLLOUT, 0};
                poll(&p, 1, -1);
                continue;
            }
            return false;
        }
        for (std::size_t i = 0; i < fd_count; ++i) close(out_fds_[i]);
        out_fds_.erase(out_fds_.begin(), out_fds_.begin() + static_cast<std::ptrdiff_t>(fd_count));
        sent_bytes += static_cast<std::size_t>(sent);
    }
    out_.clear();
    return true;
}

connection::status connection::receive() {
    for (;;) {
        iovec part{in_buffer_.data(), in_buffer_.size()};
        msghdr message{};
        message.msg_iov = &part;
        message.msg_iovlen = 1;
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 253)];
        message.msg_control = control;
        message.msg_controllen = sizeof control;
        const ssize_t got = recvmsg(fd_, &message, MSG_CMSG_CLOEXEC);
        if (got < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return status::nothing;
            return status::closed;
        }
        for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header)) {
            if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
            const std::size_t n = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (std::size_t i = 0; i < n; ++i) {
                int fd;
                std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof fd);
                in_fds_.push_back(fd);
            }
        }
        // The kernel drops descriptors that do not fit (this process is at its RLIMIT_NOFILE): the
        // frame that announced them fails, and says why (next_from_socket).
        if (message.msg_flags & MSG_CTRUNC) descriptors_lost_ = true;
        if (got == 0) return status::closed;
        decoder_.feed(in_buffer_.data(), static_cast<std::size_t>(got));
        return status::data;
    }
}

bool connection::waiting_for_socket() const {
    if (!box_ || !from_socket_.empty()) return false;
    const auto kind = in_ring_.peek();
    return kind && *kind == ring::tag::on_socket;
}

std::optional<received_frame> connection::next_inline_frame() {
    if (!box_ || decoder_.pending() != 0 || !from_socket_.empty()) return std::nullopt;
    const auto kind = in_ring_.peek();
    if (!kind || *kind != ring::tag::frame) return std::nullopt;
    return next();
}

std::optional<received_frame> connection::next() {
    while (auto got = next_from_socket()) {
        const auto type = got->frame.type;
        if (!box_ || type == wire::kind::hello || type == wire::kind::shutdown || type == wire::kind::initialize)
            return got;                           // socket-only frames, never behind a ring marker
        from_socket_.push_back(std::move(*got));  // taken when the ring reaches its marker
    }
    if (!box_) return std::nullopt;
    const auto kind = in_ring_.peek();
    if (!kind) return std::nullopt;
    if (*kind == ring::tag::on_socket) {
        if (from_socket_.empty()) return std::nullopt;  // still on its way
        in_ring_.pop(nullptr);
        received_frame out = std::move(from_socket_.front());
        from_socket_.pop_front();
        return out;
    }
    in_ring_.pop(&record_);
    ring_decoder_.feed(record_.data(), record_.size());
    auto frame = ring_decoder_.next();
    if (!frame || ring_decoder_.pending() != 0 || frame->attachments != 0 ||
        (frame->type != wire::kind::task && frame->type != wire::kind::reply))
        throw wire::protocol_error("bad mailbox record: not exactly one task or reply frame");
    received_frame out;
    out.frame = std::move(*frame);
    return out;
}

std::optional<received_frame> connection::next_from_socket() {
    auto frame = decoder_.next();
    if (!frame) return std::nullopt;
    received_frame out;
    const bool in_memory = (frame->attachments & payload_in_attachment) != 0;
    const std::size_t count = frame->attachments & ~payload_in_attachment;
    if (count > in_fds_.size())
        throw wire::protocol_error(
            "bad frame: it announces " + std::to_string(count) + " descriptors, " + std::to_string(in_fds_.size()) +
            " arrived" +
            (descriptors_lost_ ? " (the kernel dropped descriptors sent to this process: Too many open files)" : ""));
    std::vector<int> fds(in_fds_.begin(), in_fds_.begin() + static_cast<std::ptrdiff_t>(count));
    in_fds_.erase(in_fds_.begin(), in_fds_.begin() + static_cast<std::ptrdiff_t>(count));
    if (in_memory) {
        if (fds.empty() || frame->payload.size() != 16) {
            for (int fd : fds) close(fd);
            throw wire::protocol_error("bad frame: payload in shared memory without its descriptor or place");
        }
        const int memory = fds.front();
        fds.erase(fds.begin());
        std::uint64_t offset, length;
        std::memcpy(&offset, frame->payload.data(), 8);
        std::memcpy(&length, frame->payload.data() + 8, 8);
        frame->payload.clear();
        try {
            out.shared = peer_segments_.view(memory, offset, length);
        } catch (const std::invalid_argument& e) {
            close(memory);
            for (int fd : fds) close(fd);
            throw wire::protocol_error(std::string("bad frame: ") + e.what());
        } catch (const std::exception& e) {
            // The peer is fine; this process cannot hold the message (a memory limit, most often).
            out.unreadable = e.what();
            remote::shared_view::release_unread(memory);
        }
        close(memory);
    }
    frame->attachments = static_cast<std::uint16_t>(fds.size());
    out.frame = std::move(*frame);
    out.attached.adopt(std::move(fds));
    return out;
}

}  // namespace fronta::process
