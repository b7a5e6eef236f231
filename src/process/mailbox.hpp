#pragma once
// A process_pool worker's mailbox: two single-producer single-consumer byte rings in one memfd that
// the client and the worker both map. Requests go client -> worker, replies worker -> client.
// Small frames travel inside a ring, so a peer that polls it sees them without a system call;
// frames that carry descriptors, or do not fit, travel on the socket and leave a marker in the
// ring at their place, so the ring alone decides the order in which frames are taken.
//
// Each ring has a `sleeping` flag for a consumer that stops polling (Dekker style): the consumer
// sets it and checks the ring once more before it sleeps; the producer publishes, then checks the
// flag and rings a doorbell (an eventfd) only if it was set. Both sides check what they read: a
// record that does not fit the ring is a protocol error, never a read out of bounds.

#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace fronta::process {

/// How long a side polls its ring (and socket) before it sleeps.
inline constexpr std::chrono::microseconds mailbox_spin_time{50};
/// Spinners look at their sockets (a system call) once in this many steps of relax().
inline constexpr unsigned socket_check_interval = 32;

/// One step of a bounded spin (about 0.3 us): a few pauses, and now and then a yield, so that on
/// a full machine the thread or process this one waits for can run. System calls cost 1-1.5 us
/// on the VMs this was tuned on, so the spinners make few of them.
inline void relax(unsigned i) noexcept {
    if (i % 16 == 15) {
        sched_yield();
        return;
    }
    for (int k = 0; k < 16; ++k) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
}

class ring {
public:
    /// Shared between the two processes; lives at the start of the mapping.
    struct control {
        alignas(64) std::atomic<std::uint64_t> head;      // bytes consumed (consumer writes)
        alignas(64) std::atomic<std::uint64_t> tail;      // bytes published (producer writes)
        alignas(64) std::atomic<std::uint32_t> sleeping;  // the consumer stopped polling
    };
    enum class tag : std::uint32_t { frame = 1, on_socket = 2 };
    static constexpr std::size_t record_header = 8;

    ring() = default;
    ring(control* c, char* data, std::size_t capacity) : control_(c), data_(data), capacity_(capacity) {}

    // ---- producer
    /// Bytes a record with a body of `body` bytes takes.
    static std::size_t record_size(std::size_t body) { return record_header + ((body + 7) & ~std::size_t{7}); }
    /// Free bytes (what the consumer has not yet taken counts as used).
    std::size_t free_space() const noexcept;
    /// Appends a record whose body is `a` then `b` if at least `keep_free` bytes stay free after it.
    bool push(tag kind, std::string_view a, std::string_view b, std::size_t keep_free = 0) noexcept;
    /// After a push: true if the consumer was asleep (it must be woken); clears its flag.
    bool consumer_needs_wake() noexcept;

    // ---- consumer
    bool empty() const noexcept {
        return control_->tail.load(std::memory_order_acquire) == control_->head.load(std::memory_order_relaxed);
    }
    /// The kind of the first record, if any; throws wire::protocol_error if it is malformed.
    std::optional<tag> peek() const;
    /// Removes the first record (peek() returned a value), copying its body into `body` if given.
    void pop(std::string* body);
    /// Before sleeping (true; then check empty() once more) and after (false).
    void set_sleeping(bool sleeping) noexcept;

private:
    std::uint64_t checked_header(std::uint64_t head, std::uint32_t* kind) const;
    void copy_in(std::uint64_t at, const char* from, std::size_t n) noexcept;
    void copy_out(std::uint64_t at, char* to, std::size_t n) const noexcept;

    control* control_ = nullptr;
    char* data_ = nullptr;
    std::size_t capacity_ = 0;  // a power of two
};

class mailbox {
public:
    /// Bytes per ring. A frame inline in a ring is at most a quarter of it.
    static constexpr std::size_t ring_capacity = std::size_t{1} << 20;
    static constexpr std::size_t max_inline_frame = ring_capacity / 4;

    /// The client's side: a new memfd (fd() is passed to the worker). Throws std::system_error.
    static std::unique_ptr<mailbox> create();
    /// The worker's side: maps `fd` (taking ownership); throws if it is not a mailbox.
    static std::unique_ptr<mailbox> open(int fd);
    ~mailbox();
    mailbox(const mailbox&) = delete;
    mailbox& operator=(const mailbox&) = delete;

    int fd() const noexcept { return fd_; }
    ring requests() const noexcept;  // client -> worker
    ring replies() const noexcept;   // worker -> client

private:
    mailbox(int fd, void* address) : fd_(fd), address_(address) {}
    static std::size_t bytes();
    int fd_;
    void* address_;
};

}  // namespace fronta::process
