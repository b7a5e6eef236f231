// memfd_create + mmap: the memory that worker processes share with the client.
#include "fronta/detail/shared_memory.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
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

int open_file_for_mapping(const std::string& path, file_identity& identity) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "fronta: cannot open " + path);
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        const int error = S_ISREG(st.st_mode) ? errno : EINVAL;
        close(fd);
        throw std::system_error(error, std::generic_category(),
                                "fronta: cannot map " + path + " (not a regular file?)");
    }
    identity.path = path;
    identity.bytes = static_cast<std::uint64_t>(st.st_size);
    identity.modified_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    return fd;
}

int reopen_same_file(const file_identity& identity) {
    file_identity here;
    const int fd = open_file_for_mapping(identity.path, here);
    if (here.bytes != identity.bytes || here.modified_ns != identity.modified_ns) {
        close(fd);
        throw std::runtime_error("fronta: " + identity.path + " here is not the file the client mapped (" +
                                 std::to_string(here.bytes) + " bytes, modified at " +
                                 std::to_string(here.modified_ns) + " ns, against " + std::to_string(identity.bytes) +
                                 " bytes at " + std::to_string(identity.modified_ns) +
                                 " ns): every rank must see the same, unchanged file");
    }
    return fd;
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
