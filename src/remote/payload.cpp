// Shared-memory segments for large messages: a process-wide pool of memfds that stay mapped and
// warm, a reader count in each segment's first bytes, and the peer's read-only use of them.
#include "fronta/remote/payload.hpp"
#include "fronta/remote/serialization.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace fronta::remote {
namespace detail {
namespace {

// A segment: [0, 64) control (the reader count), [64, 4096) room for a prefix, then the data.
constexpr std::size_t control_bytes = 64;
constexpr std::size_t data_start = 4096;
constexpr std::size_t page = 4096;
constexpr std::size_t populate_step = std::size_t{2} << 20;
constexpr std::size_t min_capacity = std::size_t{1} << 20;
// Segments given back while a peer still reads them; past this many the oldest is let go (its
// reader died, or is slow: closing our side never disturbs a reader's own mapping).
constexpr std::size_t max_draining = 16;

std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

[[noreturn]] void fail(const char* what, std::size_t bytes) {
    const int error = errno;
    throw std::system_error(error, std::generic_category(),
                            std::string("fronta: ") + what + " (" + std::to_string(bytes) + " bytes of shared memory)");
}

}  // namespace

struct segment {
    int fd = -1;
    char* base = nullptr;
    std::size_t mapped = 0;     // bytes mapped, also the file's size
    std::size_t populated = 0;  // bytes whose pages are known to be present
    std::size_t begin = data_start;

    explicit segment(std::size_t capacity) {
        fd = memfd_create("fronta-message", MFD_CLOEXEC);
        if (fd < 0) fail("memfd_create", capacity);
        mapped = round_up(data_start + capacity, page);
        if (ftruncate(fd, static_cast<off_t>(mapped)) != 0) {
            close(fd);
            fail("sizing a message buffer", mapped);
        }
        void* address = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (address == MAP_FAILED) {
            close(fd);
            fail("mapping a message buffer", mapped);
        }
        base = static_cast<char*>(address);
        new (base) std::atomic<std::uint32_t>(0);
    }
    ~segment() {
        // Frees the pages now even if a peer still has the segment mapped (its cache of mappings),
        // unless a peer may still be reading it.
        if (readers().load(std::memory_order_acquire) == 0) {
            [[maybe_unused]] const int ignored = ftruncate(fd, 0);
        }
        munmap(base, mapped);
        close(fd);
    }
    segment(const segment&) = delete;
    segment& operator=(const segment&) = delete;

    std::atomic<std::uint32_t>& readers() noexcept { return *reinterpret_cast<std::atomic<std::uint32_t>*>(base); }
    std::size_t capacity() const noexcept { return mapped - begin; }

    void grow_to(std::size_t bytes) {  // bytes: the data capacity needed after begin
        if (bytes <= capacity()) return;
        const std::size_t wanted = round_up(std::max(begin + bytes, mapped + mapped / 2), page);
        if (ftruncate(fd, static_cast<off_t>(wanted)) != 0) fail("growing a message buffer", wanted);
        void* address = mremap(base, mapped, wanted, MREMAP_MAYMOVE);
        if (address == MAP_FAILED) fail("growing a message buffer", wanted);
        base = static_cast<char*>(address);
        mapped = wanted;
    }
    // Faults in the pages of [0, end) in one call before they are written: on a virtual machine
    // each first touch of a page traps, and one populate is several times cheaper.
    void populate(std::size_t end) noexcept {
        if (end <= populated) return;
        const std::size_t to = std::min(mapped, round_up(std::max(end, populated + populate_step), page));
#ifdef MADV_POPULATE_WRITE
        if (madvise(base + populated, to - populated, MADV_POPULATE_WRITE) != 0) {
            populated = mapped;  // not supported here: first touches fault one by one
            return;
        }
#endif
        populated = to;
    }
};

namespace {

class segment_pool {
public:
    segment* take(std::size_t bytes) {
        {
            std::lock_guard lock(mutex_);
            reclaim();
            // The smallest that fits; else the largest, to grow.
            segment* best = nullptr;
            for (segment* s : free_)
                if (best == nullptr ||
                    (s->capacity() >= bytes ? best->capacity() < bytes || s->capacity() < best->capacity()
                                            : best->capacity() < bytes && s->capacity() > best->capacity()))
                    best = s;
            if (best != nullptr) {
                free_.erase(std::find(free_.begin(), free_.end(), best));
                free_bytes_ -= best->mapped;
                best->begin = data_start;
                try {
                    best->grow_to(bytes);
                } catch (...) {
                    delete best;
                    throw;
                }
                return best;
            }
        }
        return new segment(std::max(bytes, min_capacity));
    }

    void give(segment* s) noexcept {
        std::lock_guard lock(mutex_);
        if (s->readers().load(std::memory_order_acquire) != 0) {
            draining_.push_back(s);
            if (draining_.size() > max_draining) {
                delete draining_.front();
                draining_.pop_front();
            }
            draining_count_.store(draining_.size(), std::memory_order_relaxed);
            return;
        }
        keep(s);
    }

    void trim() noexcept {
        if (draining_count_.load(std::memory_order_relaxed) == 0) return;
        std::lock_guard lock(mutex_);
        reclaim();
    }

private:
    void reclaim() noexcept {
        for (auto it = draining_.begin(); it != draining_.end();) {
            if ((*it)->readers().load(std::memory_order_acquire) == 0) {
                segment* s = *it;
                it = draining_.erase(it);
                keep(s);
            } else {
                ++it;
            }
        }
        draining_count_.store(draining_.size(), std::memory_order_relaxed);
    }
    void keep(segment* s) noexcept {
        if (free_bytes_ + s->mapped > retained_shared_bytes) {
            delete s;
            return;
        }
        try {
            free_.push_back(s);
            free_bytes_ += s->mapped;
        } catch (...) {
            delete s;
        }
    }

    std::mutex mutex_;
    std::vector<segment*> free_;
    std::deque<segment*> draining_;
    std::atomic<std::size_t> draining_count_{0};
    std::size_t free_bytes_ = 0;
};

segment_pool& pool() {
    static segment_pool* the_pool = new segment_pool();  // never destroyed: used until exit
    return *the_pool;
}

}  // namespace
}  // namespace detail

shared_bytes::shared_bytes() noexcept = default;
shared_bytes::shared_bytes(shared_bytes&& other) noexcept
    : segment_(std::exchange(other.segment_, nullptr)), size_(std::exchange(other.size_, 0)) {}
shared_bytes& shared_bytes::operator=(shared_bytes&& other) noexcept {
    if (this != &other) {
        if (segment_ != nullptr) detail::pool().give(segment_);
        segment_ = std::exchange(other.segment_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}
shared_bytes::~shared_bytes() {
    if (segment_ != nullptr) detail::pool().give(segment_);
}

shared_bytes shared_bytes::acquire(std::size_t bytes) {
    shared_bytes out;
    out.segment_ = detail::pool().take(bytes);
    return out;
}

void shared_bytes::trim() noexcept { detail::pool().trim(); }

char* shared_bytes::data() const noexcept { return segment_ ? segment_->base + segment_->begin : nullptr; }

void shared_bytes::reserve_more(std::size_t more) {
    if (more > std::numeric_limits<std::size_t>::max() - size_ - detail::data_start)
        throw std::length_error("fronta: a message larger than the address space");
    segment_->grow_to(size_ + more);
    segment_->populate(segment_->begin + size_ + more);
}

void shared_bytes::append(const char* bytes, std::size_t n) {
    reserve_more(n);
    std::memcpy(segment_->base + segment_->begin + size_, bytes, n);
    size_ += n;
}

std::pair<std::uint64_t, std::uint64_t> shared_bytes::frame(std::string_view prefix, std::string_view suffix) {
    detail::segment& s = *segment_;
    const std::size_t room = s.begin - detail::control_bytes;
    if (prefix.size() > room) {  // a large callable state: move the data to make room
        const std::size_t shift = detail::round_up(prefix.size() - room, detail::page);
        s.grow_to(size_ + shift + suffix.size());
        std::memmove(s.base + s.begin + shift, s.base + s.begin, size_);
        s.begin += shift;
    }
    s.grow_to(size_ + suffix.size());
    s.populate(s.begin + size_ + suffix.size());
    std::memcpy(s.base + s.begin - prefix.size(), prefix.data(), prefix.size());
    std::memcpy(s.base + s.begin + size_, suffix.data(), suffix.size());
    return {s.begin - prefix.size(), prefix.size() + size_ + suffix.size()};
}

std::pair<std::uint64_t, std::uint64_t> shared_bytes::whole() const noexcept { return {segment_->begin, size_}; }

int shared_bytes::fd() const noexcept { return segment_->fd; }

void shared_bytes::lend() noexcept { segment_->readers().fetch_add(1, std::memory_order_relaxed); }

namespace detail {

struct mapping {
    void* address = nullptr;
    std::size_t length = 0;
    mapping(int fd, std::size_t bytes) : length(bytes) {
        address = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
        if (address == MAP_FAILED)
            throw std::system_error(errno, std::generic_category(),
                                    "fronta: cannot map a message of " + std::to_string(bytes) + " bytes");
    }
    ~mapping() { munmap(address, length); }
    mapping(const mapping&) = delete;
    mapping& operator=(const mapping&) = delete;
};

namespace {

constexpr std::size_t cached_mappings = 2;

struct segment_file {
    std::uint64_t device, inode, size;
};

segment_file check_range(int fd, std::uint64_t offset, std::uint64_t length) {
    // Only a memfd is mapped writable (for its reader count), never a file someone passed instead.
    if (fcntl(fd, F_GET_SEALS) < 0) throw std::invalid_argument("fronta: a message buffer that is not a memfd");
    struct stat st {};
    if (fstat(fd, &st) != 0) throw std::system_error(errno, std::generic_category(), "fronta: fstat of a message");
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (offset < control_bytes || offset > size || length > size - offset)
        throw std::invalid_argument("fronta: a message at bytes " + std::to_string(offset) + "+" +
                                    std::to_string(length) + " of shared memory of " + std::to_string(size) + " bytes");
    return {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino), size};
}

}  // namespace
}  // namespace detail

shared_view::shared_view(int fd, std::uint64_t offset, std::uint64_t length) {
    detail::check_range(fd, offset, length);
    mapping_ = std::make_shared<detail::mapping>(fd, static_cast<std::size_t>(offset + length));
    bytes_ = std::string_view(static_cast<const char*>(mapping_->address) + offset, static_cast<std::size_t>(length));
}

shared_view& shared_view::operator=(shared_view&& other) noexcept {
    if (this != &other) {
        release();
        mapping_ = std::move(other.mapping_);
        bytes_ = std::exchange(other.bytes_, {});
    }
    return *this;
}

void shared_view::release() noexcept {
    if (mapping_ == nullptr) return;
    // Done reading: the writer may reuse the segment from now on.
    static_cast<std::atomic<std::uint32_t>*>(mapping_->address)->fetch_sub(1, std::memory_order_release);
    mapping_.reset();
    bytes_ = {};
}

void shared_view::release_unread(int fd) noexcept {
    if (fcntl(fd, F_GET_SEALS) < 0) return;
    void* control = mmap(nullptr, detail::page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (control == MAP_FAILED) return;
    static_cast<std::atomic<std::uint32_t>*>(control)->fetch_sub(1, std::memory_order_release);
    munmap(control, detail::page);
}

shared_view mapping_cache::view(int fd, std::uint64_t offset, std::uint64_t length) {
    const auto file = detail::check_range(fd, offset, length);
    const std::uint64_t end = offset + length;
    auto found = std::find_if(entries_.begin(), entries_.end(),
                              [&](const cached& c) { return c.device == file.device && c.inode == file.inode; });
    std::shared_ptr<detail::mapping> map;
    if (found != entries_.end() && found->mapping->length >= end) {
        map = found->mapping;
        std::rotate(entries_.begin(), found, found + 1);  // most recent first
    } else {
        if (found != entries_.end()) entries_.erase(found);
        // Map what the segment holds now (a reused segment rarely needs mapping again).
        map = std::make_shared<detail::mapping>(fd, static_cast<std::size_t>(end));
        if (end <= retained_shared_bytes) {
            entries_.insert(entries_.begin(), cached{file.device, file.inode, map});
            if (entries_.size() > detail::cached_mappings) entries_.pop_back();
        }
    }
    shared_view out;
    out.mapping_ = std::move(map);
    out.bytes_ =
        std::string_view(static_cast<const char*>(out.mapping_->address) + offset, static_cast<std::size_t>(length));
    return out;
}

void detail::prefault(void* data, std::size_t bytes) noexcept {
#ifdef MADV_POPULATE_WRITE
    const auto begin = detail::round_up(reinterpret_cast<std::uintptr_t>(data), detail::page);
    const auto end = (reinterpret_cast<std::uintptr_t>(data) + bytes) / detail::page * detail::page;
    if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
#else
    (void)data;
    (void)bytes;
#endif
}

void output_bytes::clear() noexcept {
    small_.clear();
    shared_ = shared_bytes();
}

void output_bytes::append_slow(const char* bytes, std::size_t n) {
    if (shared_.empty()) {
        shared_bytes spilled = shared_bytes::acquire(small_.size() + n);
        spilled.append(small_.data(), small_.size());
        shared_ = std::move(spilled);
        std::string().swap(small_);
    }
    shared_.append(bytes, n);
}

}  // namespace fronta::remote
