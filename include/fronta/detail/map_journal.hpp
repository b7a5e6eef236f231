#pragma once
// The journal of a resumable `map`, `map_unordered` or `map_reduce` (map_options::journal): a file
// that holds a header naming what made it, then one record per finished chunk, appended as chunks
// complete. Run again with the same inputs, the map reads a chunk's inputs, finds the chunk in the
// journal made from the same inputs, and yields the stored results instead of running it again.
// The format is in docs/design.md, "Resumable maps". This part knows bytes and files only; what
// turns inputs and results into bytes (cereal) is in typed_map_journal.hpp, so that map.hpp, which
// includes this header, stays free of shipping code.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fronta::detail {

/// Which call made a journal: its records are not interchangeable (map_reduce stores one reduced
/// value per chunk, the maps every result).
enum class journal_kind : std::uint8_t { map = 1, map_unordered = 2, map_reduce = 3 };

const char* journal_kind_name(journal_kind kind) noexcept;

/// What a journal was made by. A journal whose header says anything else is refused.
struct journal_identity {
    journal_kind kind = journal_kind::map;
    /// The function: "do_some_math (registered)", "scale(int) (int (*)(int))", or a function
    /// object's type name; for map_reduce also the reduction.
    std::string function;
    /// A hash of the function object's serialized state (its captured values); 0 when it has none.
    std::uint64_t function_state = 0;
    /// The name of the type of one stored result.
    std::string result_type;
    std::uint64_t chunk_size = 1;
};

/// A 64-bit hash of a byte stream, fed in pieces (the same bytes in any pieces give the same hash).
/// Fast, not cryptographic: it tells inputs apart, it does not resist someone forging a collision.
class stream_hash {
public:
    explicit stream_hash(std::uint64_t seed = 0) noexcept;
    void update(const void* data, std::size_t size) noexcept;
    std::uint64_t finish() const noexcept;

private:
    std::uint64_t state_;
    std::uint64_t total_ = 0;
    unsigned char pending_[8] = {};
    std::size_t pending_size_ = 0;
};

std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed = 0) noexcept;

/// What a map asks of its journal, for one chunk's inputs (a vector of Input) and what it stores
/// for the chunk (`Stored`: the results of a map, the reduced value of a map_reduce). Implemented
/// over cereal in typed_map_journal.hpp; declared here so that map.hpp needs no shipping code.
template <class Input, class Stored>
class chunk_journal {
public:
    virtual ~chunk_journal() = default;
    struct lookup {
        std::uint64_t input_hash = 0;  // of the chunk's serialized inputs, for record()
        std::optional<Stored> stored;  // what the journal holds for the chunk
    };
    /// Hashes chunk `index`'s inputs and returns what the journal holds for it. Throws
    /// std::invalid_argument when the journal holds the chunk made from other inputs.
    virtual lookup find(std::uint64_t index, const std::vector<Input>& items) = 0;
    /// Appends the finished chunk; thread-safe. Throws std::system_error when it cannot.
    virtual void record(std::uint64_t index, std::uint64_t input_hash, const Stored& value) = 0;
    virtual const std::filesystem::path& path() const noexcept = 0;
};

/// The journal file: opened (or created) once per map, locked against a second user, checked
/// against the identity of the map, cleared of a torn last record. Thread-safe: chunks are
/// appended from the threads that complete them while the map reads stored ones.
class journal_file {
public:
    /// Opens `path`, creating it with a header when it does not exist or is empty. Throws
    /// std::invalid_argument when the file is not a journal (it is left untouched), was made by
    /// another function, kind of map, chunk size or result type, or is damaged before its last
    /// record; std::system_error when it cannot be opened, read or locked (another map uses it).
    journal_file(std::filesystem::path path, const journal_identity& identity);
    ~journal_file();

    /// As the constructor, but a journal this process has open already is shared, not refused as
    /// in use, when its identity is the same: a chunk of an ended map that was still running when
    /// the map ended keeps the journal open until it is journaled, and a map started right after
    /// on the same journal must not fail for it. Waits for a journal being closed to be closed.
    static std::shared_ptr<journal_file> open(const std::filesystem::path& path, const journal_identity& identity);
    journal_file(const journal_file&) = delete;
    journal_file& operator=(const journal_file&) = delete;

    /// The stored bytes of chunk `index`, if it is in the journal. Throws std::invalid_argument when
    /// the stored chunk was made from inputs whose hash is not `input_hash`.
    std::optional<std::string> find(std::uint64_t index, std::uint64_t input_hash) const;

    /// Appends chunk `index` in one write(). A failed write leaves the journal as it was and throws
    /// std::system_error. A chunk already in the journal is not written again.
    void append(std::uint64_t index, std::uint64_t input_hash, std::string_view result);

    /// The indices of the chunks in the journal, in increasing order.
    std::vector<std::uint64_t> chunks() const;
    /// Bytes a torn last record had when the journal was opened (0: none); they were cut off.
    std::uint64_t torn_bytes() const noexcept { return torn_bytes_; }
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    struct stored {
        std::uint64_t input_hash;
        std::uint64_t offset;  // of the result's bytes
        std::uint64_t size;
    };
    void create(const journal_identity& identity);
    void check_header(const std::string& bytes, const journal_identity& identity);
    void check_identity(const journal_identity& identity) const;
    void load_records(std::uint64_t from, std::uint64_t file_size);
    [[noreturn]] void refuse(const std::string& why) const;

    std::filesystem::path path_;
    journal_identity identity_;
    int fd_ = -1;
    bool registered_ = false;                      // among the journals open() shares
    std::pair<std::uint64_t, std::uint64_t> key_;  // device and inode
    mutable std::mutex mutex_;
    std::map<std::uint64_t, stored> chunks_;
    std::uint64_t end_ = 0;  // where the next record goes
    std::uint64_t torn_bytes_ = 0;
    bool broken_ = false;  // part of a record could not be cut off after a failed append
};

}  // namespace fronta::detail
