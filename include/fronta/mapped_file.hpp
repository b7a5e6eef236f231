#pragma once
/// @file mapped_file.hpp
/// @brief `fronta::mapped_file`: a file's bytes, read-only, memory-mapped (no copy, no read
/// calls); pages come in as they are touched and are shared by every process that maps the file.
/// @code
/// fronta::mapped_file data("measurements.txt");
/// std::string_view all = data.text();               // the whole file, as it is on disk
/// auto lines = std::count(all.begin(), all.end(), '\n');
/// @endcode
/// A missing or unreadable file throws `std::system_error` naming the path and the cause. An empty
/// file maps to an empty view. The file must not shrink while mapped: touching a page past its new
/// end raises SIGBUS in the process that reads it (the kernel's rule for every mapping; a worker
/// process killed so fails its task with `worker_died`).

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace fronta {

class mapped_file {
public:
    /// No file: empty views.
    mapped_file() = default;
    /// Maps all of `path` read-only. Throws std::system_error naming the path and strerror.
    explicit mapped_file(const std::filesystem::path& path);
    mapped_file(mapped_file&& other) noexcept;
    mapped_file& operator=(mapped_file&& other) noexcept;
    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;
    ~mapped_file();

    std::span<const std::byte> bytes() const noexcept { return {static_cast<const std::byte*>(data_), size_}; }
    std::string_view text() const noexcept { return {static_cast<const char*>(data_), size_}; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    void release() noexcept;
    std::filesystem::path path_;
    const void* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace fronta
