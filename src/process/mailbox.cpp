// Shared-memory rings between the client and one worker (see mailbox.hpp).
#include "process/mailbox.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>

#include "fronta/detail/shared_memory.hpp"
#include "process/wire.hpp"

namespace fronta::process {
namespace {

constexpr std::size_t page = 4096;
constexpr std::size_t requests_control = 0;
constexpr std::size_t replies_control = 1024;
static_assert(sizeof(ring::control) <= replies_control);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free,
              "the rings are shared between processes: their atomics must be lock-free");
static_assert((mailbox::ring_capacity & (mailbox::ring_capacity - 1)) == 0);

[[noreturn]] void malformed(const std::string& what) { throw wire::protocol_error("bad mailbox record: " + what); }

}  // namespace

// ---- ring ----------------------------------------------------------------------------------------

std::size_t ring::free_space() const noexcept {
    const std::uint64_t used =
        control_->tail.load(std::memory_order_relaxed) - control_->head.load(std::memory_order_acquire);
    return used >= capacity_ ? 0 : capacity_ - static_cast<std::size_t>(used);
}

void ring::copy_in(std::uint64_t at, const char* from, std::size_t n) noexcept {
    if (n == 0) return;  // (an empty string_view may hold a null pointer: not for memcpy)
    const std::size_t offset = static_cast<std::size_t>(at & (capacity_ - 1));
    const std::size_t first = std::min(n, capacity_ - offset);
    std::memcpy(data_ + offset, from, first);
    if (first < n) std::memcpy(data_, from + first, n - first);
}

void ring::copy_out(std::uint64_t at, char* to, std::size_t n) const noexcept {
    if (n == 0) return;
    const std::size_t offset = static_cast<std::size_t>(at & (capacity_ - 1));
    const std::size_t first = std::min(n, capacity_ - offset);
    std::memcpy(to, data_ + offset, first);
    if (first < n) std::memcpy(to + first, data_, n - first);
}

bool ring::push(tag kind, std::string_view a, std::string_view b, std::size_t keep_free) noexcept {
    const std::size_t body = a.size() + b.size();
    const std::size_t size = record_size(body);
    if (body > capacity_ || size + keep_free > free_space()) return false;
    const std::uint64_t tail = control_->tail.load(std::memory_order_relaxed);
    char header[record_header];
    const auto length = static_cast<std::uint32_t>(body);
    const auto kind_word = static_cast<std::uint32_t>(kind);
    std::memcpy(header, &length, 4);
    std::memcpy(header + 4, &kind_word, 4);
    copy_in(tail, header, record_header);  // positions are multiples of 8: a header never wraps
    copy_in(tail + record_header, a.data(), a.size());
    copy_in(tail + record_header + a.size(), b.data(), b.size());
    control_->tail.store(tail + size, std::memory_order_release);
    return true;
}

bool ring::consumer_needs_wake() noexcept {
    // Pairs with set_sleeping(true) followed by empty(): either the consumer sees the record, or we
    // see its flag.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (control_->sleeping.load(std::memory_order_relaxed) == 0) return false;
    return control_->sleeping.exchange(0, std::memory_order_acq_rel) != 0;
}

void ring::set_sleeping(bool sleeping) noexcept {
    control_->sleeping.store(sleeping ? 1 : 0, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
}

std::uint64_t ring::checked_header(std::uint64_t head, std::uint32_t* kind) const {
    const std::uint64_t tail = control_->tail.load(std::memory_order_acquire);
    const std::uint64_t available = tail - head;
    if (available > capacity_ || (available & 7) != 0 || (head & 7) != 0)
        malformed("the ring's positions are inconsistent");
    if (available < record_header) malformed("a truncated record header");
    char header[record_header];
    copy_out(head, header, record_header);
    std::uint32_t length;
    std::memcpy(&length, header, 4);
    std::memcpy(kind, header + 4, 4);
    if (*kind != static_cast<std::uint32_t>(tag::frame) && *kind != static_cast<std::uint32_t>(tag::on_socket))
        malformed("unknown kind " + std::to_string(*kind));
    if (record_size(length) > available) malformed("a record longer than what was published");
    return length;
}

std::optional<ring::tag> ring::peek() const {
    const std::uint64_t head = control_->head.load(std::memory_order_relaxed);
    if (control_->tail.load(std::memory_order_acquire) == head) return std::nullopt;
    std::uint32_t kind;
    checked_header(head, &kind);
    return static_cast<tag>(kind);
}

void ring::pop(std::string* body) {
    const std::uint64_t head = control_->head.load(std::memory_order_relaxed);
    std::uint32_t kind;
    const std::uint64_t length = checked_header(head, &kind);
    if (body) {
        body->resize(static_cast<std::size_t>(length));
        copy_out(head + record_header, body->data(), static_cast<std::size_t>(length));
    }
    control_->head.store(head + record_size(static_cast<std::size_t>(length)), std::memory_order_release);
}

// ---- mailbox -------------------------------------------------------------------------------------

std::size_t mailbox::bytes() { return page + 2 * ring_capacity; }

std::unique_ptr<mailbox> mailbox::create() {
    const int fd = detail::create_shared_memory(bytes());  // zero-filled: empty rings, nobody asleep
    void* address = nullptr;
    try {
        address = detail::map_shared_memory(fd, bytes(), true);
    } catch (...) {
        close(fd);
        throw;
    }
    auto* base = static_cast<char*>(address);
    new (base + requests_control) ring::control{};
    new (base + replies_control) ring::control{};
    return std::unique_ptr<mailbox>(new mailbox(fd, address));
}

std::unique_ptr<mailbox> mailbox::open(int fd) {
    void* address = nullptr;
    try {
        if (detail::shared_memory_size(fd) != bytes()) malformed("the mailbox has the wrong size");
        address = detail::map_shared_memory(fd, bytes(), true);
    } catch (...) {
        close(fd);
        throw;
    }
    return std::unique_ptr<mailbox>(new mailbox(fd, address));
}

mailbox::~mailbox() {
    detail::unmap_shared_memory(address_, bytes());
    close(fd_);
}

ring mailbox::requests() const noexcept {
    auto* base = static_cast<char*>(address_);
    return ring(std::launder(reinterpret_cast<ring::control*>(base + requests_control)), base + page, ring_capacity);
}

ring mailbox::replies() const noexcept {
    auto* base = static_cast<char*>(address_);
    return ring(std::launder(reinterpret_cast<ring::control*>(base + replies_control)), base + page + ring_capacity,
                ring_capacity);
}

}  // namespace fronta::process
