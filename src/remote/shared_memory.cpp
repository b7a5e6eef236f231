// memfd_create + mmap: the memory that worker processes share with the client.
#include "fronta/detail/shared_memory.hpp"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace fronta::detail {

int create_shared_memory(std::size_t bytes) {
    const int fd = memfd_create("fronta-shared", MFD_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "fronta: memfd_create");
    if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
        const int error = errno;
        close(fd);
        throw std::system_error(error, std::generic_category(), "fronta: sizing shared memory");
    }
    return fd;
}

void* map_shared_memory(int fd, std::size_t bytes, bool writable, bool populate) {
    if (bytes == 0) return nullptr;
    void* address = mmap(nullptr, bytes, writable ? PROT_READ | PROT_WRITE : PROT_READ,
                         MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, 0);
    if (address == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "fronta: mapping shared memory");
    return address;
}

std::size_t shared_memory_size(int fd) {
    struct stat st {};
    if (fstat(fd, &st) != 0) throw std::system_error(errno, std::generic_category(), "fronta: fstat of shared memory");
    return static_cast<std::size_t>(st.st_size);
}

void unmap_shared_memory(void* address, std::size_t bytes) noexcept {
    if (address != nullptr && bytes != 0) munmap(address, bytes);
}

}  // namespace fronta::detail
