#pragma once
// Anonymous shared memory (memfd) for buffers that processes on one machine share.

#include <cstddef>
#include <cstdint>
#include <string>

namespace fronta::detail {

/// Which file a file-backed mapping shows: ranks that share a file system check they see the same.
struct file_identity {
    std::string path;
    std::uint64_t bytes = 0;
    std::int64_t modified_ns = 0;
};

/// Opens `path` read-only for mapping and says what it is. Throws std::system_error naming the path.
int open_file_for_mapping(const std::string& path, file_identity& identity);
/// Opens `identity.path` again and checks it is the same file (size and modification time);
/// throws std::runtime_error saying what differs, std::system_error if it cannot be opened.
int reopen_same_file(const file_identity& identity);

/// A new memfd of `bytes` bytes (zero-filled), close-on-exec. Throws std::system_error.
int create_shared_memory(std::size_t bytes);
/// Maps `bytes` of `fd`; read-only unless `writable`. Throws std::system_error.
/// `populate`: map every page at once (MAP_POPULATE), for memory that will be read or written
/// whole; on virtual machines where each first touch of a page traps this is many times faster.
void* map_shared_memory(int fd, std::size_t bytes, bool writable, bool populate = false);
/// The size of the memory behind `fd`.
std::size_t shared_memory_size(int fd);
void unmap_shared_memory(void* address, std::size_t bytes) noexcept;

}  // namespace fronta::detail
