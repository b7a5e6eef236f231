#pragma once
/// @file file_chunks.hpp
/// @brief `fronta::file_chunks`: a big file cut into pieces that end at record boundaries, to
/// process in parallel on any executor. A `file_chunk` is a path, an offset and a size, cheap to
/// ship to a worker process or an MPI rank; `chunk.text()` gives its bytes there through a mapping
/// of the file that each process opens once and reuses.
/// @code
/// for (std::size_t n : pool.map(count_lines, fronta::file_chunks("rows.txt", {.chunk_bytes = 64 << 20})))
///     total += n;
/// // where: std::size_t count_lines(fronta::file_chunk c) { auto t = c.text(); return std::count(t.begin(), t.end(),
/// '\n'); }
/// @endcode
/// The chunks cover the file exactly once, in order. Each one starts after a delimiter (or at the
/// start of the file) and ends with one (the last may end at the end of the file); a record longer
/// than `chunk_bytes` stays whole in one chunk. An empty file has no chunks.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace fronta {

struct file_chunk_options {
    /// About how many bytes a chunk holds (it ends at the next delimiter after that). Not 0.
    std::size_t chunk_bytes = std::size_t{64} << 20;
    /// What ends a record.
    char delimiter = '\n';
};

/// Bytes [offset, offset + size) of the file at `path`.
struct file_chunk {
    std::string path;
    std::uint64_t offset = 0;
    std::uint64_t size = 0;

    /// The chunk's bytes, valid as long as the process lives: the file is mapped once per process
    /// and the mapping kept. Throws std::system_error if the file cannot be mapped, and
    /// std::out_of_range if it is now shorter than the chunk says (it changed since it was cut).
    std::string_view text() const;

    template <class Archive>
    void serialize(Archive& archive) {
        archive(path, offset, size);
    }
    friend bool operator==(const file_chunk&, const file_chunk&) = default;
};

/// Cuts the file at `path` into chunks (see above). Throws std::system_error naming the path for a
/// missing or unreadable file, std::invalid_argument for chunk_bytes = 0.
std::vector<file_chunk> file_chunks(const std::filesystem::path& path, const file_chunk_options& options = {});

}  // namespace fronta
