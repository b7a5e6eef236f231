#pragma once
// Anonymous shared memory (memfd) for buffers that processes on one machine share.

#include <cstddef>

namespace fronta::detail {

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
