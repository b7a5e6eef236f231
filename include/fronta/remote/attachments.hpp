#pragma once
/// @file remote/attachments.hpp
/// @brief File descriptors that travel beside a message's bytes, for transports that can pass
/// them (a Unix socket to a worker process on the same machine). Types such as `shared_array`
/// serialize a descriptor instead of their contents while a scope is active, and their contents
/// otherwise (MPI across machines).

#include <cstddef>
#include <unordered_map>
#include <vector>

namespace fronta::remote {

class attachments {
public:
    attachments() = default;
    attachments(attachments&& other) noexcept;
    attachments& operator=(attachments&& other) noexcept;
    attachments(const attachments&) = delete;
    attachments& operator=(const attachments&) = delete;
    ~attachments();

    /// The attachments of the message being written or read on this thread, or null when the
    /// transport cannot pass descriptors.
    static attachments* current() noexcept;

    /// Outgoing: attaches a duplicate of `fd` (once per distinct fd) and returns its index.
    std::size_t add(int fd);
    /// Incoming: the received descriptor at `index` (still owned by this object).
    int get(std::size_t index) const;
    /// Takes ownership of received descriptors.
    void adopt(std::vector<int> fds);
    /// The outgoing descriptors, for the transport that sends them.
    const std::vector<int>& fds() const noexcept { return outgoing_; }
    bool empty() const noexcept { return outgoing_.empty(); }
    std::size_t size() const noexcept { return outgoing_.size(); }
    /// Incoming: whether descriptors came with the message.
    bool has_incoming() const noexcept { return !incoming_.empty(); }

private:
    void close_all() noexcept;
    std::vector<int> outgoing_;
    std::vector<int> incoming_;
    std::unordered_map<int, std::size_t> index_of_;
};

/// Makes `a` the current attachments on this thread for its lifetime.
class attachment_scope {
public:
    explicit attachment_scope(attachments* a) noexcept;
    ~attachment_scope();
    attachment_scope(const attachment_scope&) = delete;
    attachment_scope& operator=(const attachment_scope&) = delete;

private:
    attachments* previous_;
};

}  // namespace fronta::remote
