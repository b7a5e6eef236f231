#pragma once
/// @file remote/payload.hpp
/// @brief Large messages in shared memory, written and read in place. A value is serialized
/// straight into a memfd segment once it outgrows a small in-memory start, the peer process reads
/// it where it lies, and the segment is reused for a later message once the peer has finished
/// reading it (a reader count in the segment itself says so). No intermediate string grows, no
/// copy is made between serialization and the peer's deserialization, and a warm segment's pages
/// are not faulted in again (on a virtual machine a first touch costs several times a copy).
///
/// Internal to the transports of process_pool; `request` (registry.hpp) holds one.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fronta::remote {

namespace detail {
struct segment;
struct mapping;
}  // namespace detail

/// Bytes this process wrote into shared memory and may lend to peers (move-only). The bytes are at
/// data()..data()+size(); room is kept before them for a small prefix (see `frame`). Destroying it
/// gives the segment back to the process's pool, which reuses it once no peer reads it.
class shared_bytes {
public:
    shared_bytes() noexcept;
    shared_bytes(shared_bytes&& other) noexcept;
    shared_bytes& operator=(shared_bytes&& other) noexcept;
    shared_bytes(const shared_bytes&) = delete;
    shared_bytes& operator=(const shared_bytes&) = delete;
    ~shared_bytes();

    /// A segment from the pool with room for at least `bytes`. Throws std::system_error.
    static shared_bytes acquire(std::size_t bytes);
    /// Takes back the segments peers have finished reading since they were given back, freeing
    /// those beyond `retained_shared_bytes` (cheap when there are none).
    static void trim() noexcept;

    bool empty() const noexcept { return segment_ == nullptr; }
    char* data() const noexcept;
    std::size_t size() const noexcept { return size_; }
    /// Makes room for `more` bytes after size() (the segment grows; data() may move).
    void reserve_more(std::size_t more);
    void append(const char* bytes, std::size_t n);
    void clear() noexcept { size_ = 0; }

    /// Lays `prefix` just before the bytes and `suffix` just after (moving the bytes if the room
    /// before them is short) and returns where that whole message starts in the segment and its
    /// length. Idempotent: the bytes are not changed.
    std::pair<std::uint64_t, std::uint64_t> frame(std::string_view prefix, std::string_view suffix);
    /// The bytes alone, as a message: (offset in the segment, length).
    std::pair<std::uint64_t, std::uint64_t> whole() const noexcept;

    /// The segment's descriptor, to send beside a message (still owned here).
    int fd() const noexcept;
    /// Counts a peer that will read the segment; the peer's `shared_view` uncounts it when done.
    void lend() noexcept;

private:
    detail::segment* segment_ = nullptr;
    std::size_t size_ = 0;
};

/// A peer's message in shared memory, mapped for reading (move-only). Releasing it (or destroying
/// it) tells the peer it may reuse the segment.
class shared_view {
public:
    shared_view() noexcept = default;
    /// Maps the message at [offset, offset + length) of the segment `fd` (not taken over).
    /// Throws std::system_error (for example ENOMEM under a memory limit) or std::invalid_argument
    /// when the range is not inside the segment.
    shared_view(int fd, std::uint64_t offset, std::uint64_t length);
    shared_view(shared_view&& other) noexcept = default;
    shared_view& operator=(shared_view&& other) noexcept;
    shared_view(const shared_view&) = delete;
    shared_view& operator=(const shared_view&) = delete;
    ~shared_view() { release(); }

    bool empty() const noexcept { return mapping_ == nullptr; }
    std::string_view bytes() const noexcept { return bytes_; }
    void release() noexcept;
    /// For a message that could not be mapped (no memory): gives the segment back all the same.
    static void release_unread(int fd) noexcept;

private:
    friend class mapping_cache;
    std::shared_ptr<detail::mapping> mapping_;
    std::string_view bytes_;
};

/// The mappings of a peer's segments, kept between its messages (the last few): a segment the
/// peer reuses is not mapped again.
class mapping_cache {
public:
    mapping_cache() = default;
    mapping_cache(const mapping_cache&) = delete;
    mapping_cache& operator=(const mapping_cache&) = delete;
    /// As shared_view(fd, offset, length), through the cache.
    shared_view view(int fd, std::uint64_t offset, std::uint64_t length);

private:
    struct cached {
        std::uint64_t device = 0, inode = 0;
        std::shared_ptr<detail::mapping> mapping;
    };
    std::vector<cached> entries_;  // most recent first
};

/// Where serialized output goes: a std::string while it is small, a `shared_bytes` segment once it
/// passes `spill_at` (never, by default).
class output_bytes {
public:
    static constexpr std::size_t never = std::numeric_limits<std::size_t>::max();
    explicit output_bytes(std::size_t spill_at = never) : spill_at_(spill_at) {}

    void append(const char* bytes, std::size_t n) {
        if (shared_.empty() && small_.size() + n <= spill_at_)
            small_.append(bytes, n);
        else
            append_slow(bytes, n);
    }
    void push_back(char c) { append(&c, 1); }
    /// Empties it (a segment goes back to the pool).
    void clear() noexcept;

    bool is_shared() const noexcept { return !shared_.empty(); }
    std::string_view view() const noexcept {
        return is_shared() ? std::string_view(shared_.data(), shared_.size()) : std::string_view(small_);
    }
    std::size_t size() const noexcept { return is_shared() ? shared_.size() : small_.size(); }
    /// Writes `n` bytes at `at` over what is there (at + n <= size()).
    void overwrite(std::size_t at, const void* bytes, std::size_t n) noexcept {
        std::memcpy((is_shared() ? shared_.data() : small_.data()) + at, bytes, n);
    }
    std::string take_string() noexcept { return std::move(small_); }
    shared_bytes take_shared() noexcept { return std::move(shared_); }
    shared_bytes& shared() noexcept { return shared_; }

private:
    void append_slow(const char* bytes, std::size_t n);
    std::size_t spill_at_;
    std::string small_;
    shared_bytes shared_;
};

/// Serialized values past this size go to shared memory when the transport passes descriptors.
inline constexpr std::size_t shared_spill_threshold = std::size_t{1} << 20;

/// Shared memory this process keeps for reuse when no message uses it (beyond it, segments are
/// freed after use).
inline constexpr std::size_t retained_shared_bytes = std::size_t{1} << 30;

}  // namespace fronta::remote
