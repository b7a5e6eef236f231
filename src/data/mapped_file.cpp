// mapped_file, file_chunks and the per-process mappings behind file_chunk::text().
#include "fronta/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

#include "fronta/file_chunks.hpp"

namespace fronta {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const char* what, int error) {
    throw std::system_error(error, std::generic_category(),
                            "fronta: cannot " + std::string(what) + " " + path.string());
}

}  // namespace

mapped_file::mapped_file(const std::filesystem::path& path) : path_(path) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(path, "open", errno);
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        const int error = errno;
        close(fd);
        fail(path, "stat", error);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        fail(path, "map (not a regular file)", S_ISDIR(st.st_mode) ? EISDIR : EINVAL);
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ != 0) {
        void* address = mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
        if (address == MAP_FAILED) {
            const int error = errno;
            close(fd);
            size_ = 0;
            fail(path, "map", error);
        }
        data_ = address;
    }
    close(fd);  // the mapping keeps the file
}

mapped_file::mapped_file(mapped_file&& other) noexcept
    : path_(std::move(other.path_)), data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

mapped_file& mapped_file::operator=(mapped_file&& other) noexcept {
    if (this != &other) {
        release();
        path_ = std::move(other.path_);
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

mapped_file::~mapped_file() { release(); }

void mapped_file::release() noexcept {
    if (data_ != nullptr) munmap(const_cast<void*>(data_), size_);
    data_ = nullptr;
    size_ = 0;
}

// ---- file_chunks -----------------------------------------------------------------------------

std::vector<file_chunk> file_chunks(const std::filesystem::path& path, const file_chunk_options& options) {
    if (options.chunk_bytes == 0) throw std::invalid_argument("file_chunks: chunk_bytes must not be 0");
    const mapped_file file(path);
    const std::string_view all = file.text();
    std::vector<file_chunk> chunks;
    std::size_t start = 0;
    while (start < all.size()) {
        std::size_t end = all.size();
        if (all.size() - start > options.chunk_bytes) {
            // The chunk ends with the first delimiter at or after its nominal last byte.
            const std::size_t last = start + options.chunk_bytes - 1;
            const std::size_t at = all.find(options.delimiter, last);
            end = at == std::string_view::npos ? all.size() : at + 1;
        }
        chunks.push_back({path.string(), start, end - start});
        start = end;
    }
    return chunks;
}

// Each process maps a file once, on the first text() of one of its chunks, and keeps the mapping:
// chunks of one file share it. A file replaced or changed at the same path (another inode, size or
// modification time, checked with one stat per call) is mapped afresh; the old mapping is kept, as
// views into it may still be in use.
std::string_view file_chunk::text() const {
    struct mapping {
        std::unique_ptr<mapped_file> file;
        struct stat identity {};
    };
    // Never destroyed: views may be in use by threads that outlive static destruction at exit.
    static auto* mutex = new std::mutex;
    static auto* mapped = new std::map<std::string, mapping>;
    static auto* retired = new std::vector<std::unique_ptr<mapped_file>>;
    const auto same = [](const struct stat& a, const struct stat& b) {
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
               a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
    };
    struct stat now {};
    if (stat(path.c_str(), &now) != 0) fail(path, "stat", errno);
    const mapped_file* file = nullptr;
    {
        std::lock_guard lock(*mutex);
        mapping& slot = (*mapped)[path];
        if (!slot.file || !same(slot.identity, now)) {
            auto fresh = std::make_unique<mapped_file>(path);  // throws naming the path
            if (slot.file) retired->push_back(std::move(slot.file));
            slot.file = std::move(fresh);
            slot.identity = now;
        }
        file = slot.file.get();
    }
    if (file->size() < offset + size)
        throw std::out_of_range("file_chunk: " + path + " has " + std::to_string(file->size()) +
                                " bytes, fewer than the chunk at offset " + std::to_string(offset) + " of " +
                                std::to_string(size) + " bytes needs (the file changed since it was cut)");
    return file->text().substr(offset, size);
}

}  // namespace fronta
