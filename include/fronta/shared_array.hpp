#pragma once
/// @file shared_array.hpp
/// @brief `fronta::shared_array<T>`: one large array handed to many tasks without a copy per task
/// (joblib's memmapping, Ray's object store on one machine).
///
/// The array lives in shared memory. Handed to a `process_pool` task, only a descriptor travels and
/// the worker maps the same pages, so 100 MB cost what 8 bytes cost. Whether tasks may write is in
/// the type: `shared_array<const double>` is mapped read-only in workers; `shared_array<double>` is
/// writable and what workers write is visible to everyone holding it. Through a transport that
/// cannot pass descriptors (MPI across machines) the contents are copied instead.
/// @code
/// auto prices = fronta::shared_array<const double>::copy_of(big_vector);  // one copy, here
/// for (int day = 0; day < 365; ++day) futures.push_back(pool.submit(analyse, prices, day));
///
/// fronta::shared_array<double> out(1000);       // writable, zero-filled
/// pool.submit(fill_row, out, 7).get();          // the worker writes rows; you read them here
/// fronta::shared_array<const double> view = out; // read-only view of the same memory
/// @endcode
/// Elements must be trivially copyable (numbers, plain structs).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unistd.h>

#include "fronta/detail/shared_memory.hpp"
#include "fronta/remote/attachments.hpp"
#include "fronta/remote/serialization.hpp"

namespace fronta {

namespace detail {
// One mapping of shared memory and its descriptor, shared by every shared_array that views it
// (whatever its element constness: a read-only view of a writable array is the same mapping).
struct shared_mapping {
    int fd;
    void* address;
    std::size_t bytes;
    std::shared_ptr<const file_identity> file;  // set when the memory is a file (map_file)
    shared_mapping(int descriptor, std::size_t length, bool writable)
        : fd(descriptor), address(map_shared_memory(descriptor, length, writable)), bytes(length) {}
    ~shared_mapping() {
        unmap_shared_memory(address, bytes);
        close(fd);
    }
    shared_mapping(const shared_mapping&) = delete;
    shared_mapping& operator=(const shared_mapping&) = delete;
};
}  // namespace detail

template <class T>
class shared_array {
    using value_t = std::remove_const_t<T>;
    static_assert(std::is_trivially_copyable_v<value_t>,
                  "shared_array<T>: T must be trivially copyable (numbers, plain structs) to live in shared memory");
    static constexpr bool writable = !std::is_const_v<T>;

public:
    using element_type = T;
    using value_type = value_t;
    /// The elements are shared, not owned by one handle (fronta::size_estimate counts the handle).
    using shares_memory = void;

    shared_array() = default;

    /// A zero-filled writable array of `size` elements.
    explicit shared_array(std::size_t size)
        requires(!std::is_const_v<T>)
        : shared_array(allocate(size)) {}

    /// A new array holding a copy of `values`.
    template <std::ranges::contiguous_range Range>
    static shared_array copy_of(const Range& values) {
        shared_array a = allocate(std::ranges::size(values));
        if (a.size_ != 0) std::memcpy(a.map_->address, std::ranges::data(values), a.size_ * sizeof(value_t));
        return a;
    }

    /// A read-only array whose memory is the file at `path`, mapped, not copied: its pages are
    /// shared with every process that maps the file. On a process_pool only a descriptor travels;
    /// on an mpi_pool each rank maps the same path (clusters share file systems) and a rank that
    /// sees another file (size or modification time) fails the task saying so. The file must not
    /// change while mapped. Throws std::system_error naming the path, and std::invalid_argument if
    /// its size is not a multiple of sizeof(T).
    static shared_array map_file(const std::string& path)
        requires std::is_const_v<T>
    {
        auto identity = std::make_shared<detail::file_identity>();
        const int fd = detail::open_file_for_mapping(path, *identity);
        if (identity->bytes % sizeof(value_t) != 0) {
            close(fd);
            throw std::invalid_argument("shared_array::map_file: " + path + " has " + std::to_string(identity->bytes) +
                                        " bytes, not a whole number of " + std::to_string(sizeof(value_t)) +
                                        "-byte elements");
        }
        return from_file(fd, std::move(identity));
    }

    /// A read-only view of a writable array (same memory).
    template <class U>
        requires(std::is_const_v<T> && std::is_same_v<const U, T>)
    shared_array(const shared_array<U>& writable_array)  // NOLINT(google-explicit-constructor)
        : map_(writable_array.map_), size_(writable_array.size_) {}

    T* data() const noexcept { return map_ ? static_cast<T*>(map_->address) : nullptr; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    T& operator[](std::size_t i) const noexcept { return data()[i]; }
    T* begin() const noexcept { return data(); }
    T* end() const noexcept { return data() + size_; }
    std::span<T> span() const noexcept { return {data(), size_}; }

    // How an array travels: its descriptor (processes on one machine), its file's path (a
    // file-backed array where descriptors cannot go), or its contents.
    enum : std::uint8_t { by_value = 0, by_descriptor = 1, by_path = 2 };

    template <class Archive>
    void save(Archive& archive) const {
        if (auto* a = remote::attachments::current(); a != nullptr && map_) {
            archive(std::uint8_t{by_descriptor}, static_cast<std::uint64_t>(a->add(map_->fd)),
                    static_cast<std::uint64_t>(size_));
        } else if (map_ && map_->file) {
            archive(std::uint8_t{by_path}, static_cast<std::uint64_t>(size_), map_->file->path, map_->file->bytes,
                    map_->file->modified_ns);
        } else {
            archive(std::uint8_t{by_value}, static_cast<std::uint64_t>(size_));
            if (size_ != 0) archive(cereal::binary_data(data(), size_ * sizeof(value_t)));
        }
    }

    template <class Archive>
    void load(Archive& archive) {
        std::uint8_t how = by_value;
        std::uint64_t first = 0;
        archive(how, first);
        if (how == by_path) {
            auto identity = std::make_shared<detail::file_identity>();
            archive(identity->path, identity->bytes, identity->modified_ns);
            if (first * sizeof(value_t) != identity->bytes)
                throw remote::deserialization_error("a file-backed shared_array does not match its file's size");
            const int fd = detail::reopen_same_file(*identity);  // before identity moves
            *this = from_file(fd, std::move(identity));
        } else if (how == by_descriptor) {
            std::uint64_t size = 0;
            archive(size);
            auto* a = remote::attachments::current();
            if (a == nullptr) throw remote::deserialization_error("a shared_array arrived without its shared memory");
            const int fd = a->get(first);
            if (size > detail::shared_memory_size(fd) / sizeof(value_t))
                throw remote::deserialization_error("a shared_array is larger than its shared memory");
            const int own = dup(fd);
            if (own < 0) throw remote::deserialization_error("cannot keep the shared memory of a shared_array");
            map_ = std::make_shared<mapping>(own, size * sizeof(value_t), writable);
            size_ = static_cast<std::size_t>(size);
        } else {
            shared_array fresh = allocate(static_cast<std::size_t>(first));
            if (first != 0) archive(cereal::binary_data(fresh.map_->address, first * sizeof(value_t)));
            *this = std::move(fresh);
        }
    }

private:
    template <class U>
    friend class shared_array;

    using mapping = detail::shared_mapping;

    static shared_array from_file(int fd, std::shared_ptr<const detail::file_identity> identity) {
        shared_array a;
        const std::size_t bytes = static_cast<std::size_t>(identity->bytes);
        try {
            a.map_ = std::shared_ptr<mapping>(new mapping(fd, bytes, false));
        } catch (...) {
            close(fd);
            throw;
        }
        a.map_->file = std::move(identity);
        a.size_ = bytes / sizeof(value_t);
        return a;
    }

    static shared_array allocate(std::size_t size) {
        shared_array a;
        const std::size_t bytes = size * sizeof(value_t);
        const int fd = detail::create_shared_memory(bytes);
        try {
            // The creator may always write (to fill the array); workers map by the type.
            a.map_ = std::shared_ptr<mapping>(new mapping(fd, bytes, true));
        } catch (...) {
            close(fd);
            throw;
        }
        a.size_ = size;
        return a;
    }

    std::shared_ptr<mapping> map_;
    std::size_t size_ = 0;
};

}  // namespace fronta
