// The journal file of a resumable map: header, records, torn tails. The format is described in
// docs/design.md, "Resumable maps".
#include "fronta/detail/map_journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace fronta::detail {
namespace {

constexpr char magic[8] = {'F', 'R', 'N', 'T', 'J', 'R', 'N', 'L'};
constexpr std::uint32_t format_version = 1;
constexpr std::uint32_t record_tag = 0x43524a46;  // "FJRC" in little-endian order
constexpr std::uint64_t header_seed = 0x6a6f75726e616c31;
constexpr std::uint64_t record_seed = 0x7265636f72643031;
constexpr std::size_t header_prefix = sizeof magic + 4 + 4;  // magic, version, body size
constexpr std::size_t record_prefix = 4 + 8 + 8 + 8;         // tag, index, input hash, size
constexpr std::size_t record_suffix = 8;                     // checksum
constexpr std::uint32_t largest_header_body = 1u << 20;

constexpr std::uint64_t prime1 = 0x9E3779B185EBCA87ULL;
constexpr std::uint64_t prime2 = 0xC2B2AE3D27D4EB4FULL;
constexpr std::uint64_t prime4 = 0x85EBCA77C2B2AE63ULL;

std::uint64_t rotl(std::uint64_t x, int r) noexcept { return (x << r) | (x >> (64 - r)); }
std::uint64_t load64(const unsigned char* p) noexcept {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}
std::uint64_t mix_word(std::uint64_t state, std::uint64_t word) noexcept {
    state ^= rotl(word * prime2, 31) * prime1;
    return rotl(state, 27) * prime1 + prime4;
}

void put32(std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put64(std::string& out, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_text(std::string& out, const std::string& text) {
    put32(out, static_cast<std::uint32_t>(text.size()));
    out += text;
}

// Reads little-endian fields from a byte string; past its end it throws (a damaged header).
struct reader {
    std::string_view bytes;
    std::size_t at = 0;
    std::uint64_t number(std::size_t width) {
        if (bytes.size() - at < width) throw std::out_of_range("short");
        std::uint64_t v = 0;
        for (std::size_t i = width; i-- > 0;) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
        at += width;
        return v;
    }
    std::string text() {
        const auto size = static_cast<std::size_t>(number(4));
        if (bytes.size() - at < size) throw std::out_of_range("short");
        std::string out(bytes.substr(at, size));
        at += size;
        return out;
    }
};

std::string header_body(const journal_identity& id) {
    std::string body;
    body.push_back(static_cast<char>(id.kind));
    put64(body, id.chunk_size);
    put_text(body, id.function);
    put64(body, id.function_state);
    put_text(body, id.result_type);
    return body;
}

// The journals open in this process, by device and inode, so open() can share them. An entry
// lives until its file is closed, so a journal being closed is waited for rather than found
// locked.
struct open_journals {
    std::mutex mutex;
    std::condition_variable closed;
    std::map<std::pair<std::uint64_t, std::uint64_t>, std::weak_ptr<journal_file>> files;
};
open_journals& registry() {
    static auto* journals = new open_journals;  // never destroyed: journals may close after exit's destructors
    return *journals;
}

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what, int error) {
    throw std::system_error(error, std::generic_category(),
                            "fronta: cannot " + what + " the map journal " + path.string());
}

}  // namespace

const char* journal_kind_name(journal_kind kind) noexcept {
    switch (kind) {
        case journal_kind::map: return "map";
        case journal_kind::map_unordered: return "map_unordered";
        case journal_kind::map_reduce: return "map_reduce";
    }
    return "an unknown kind of map";
}

// ---- the hash: one 64-bit lane of xxHash64's rounds over 8-byte little-endian words ----------------

stream_hash::stream_hash(std::uint64_t seed) noexcept : state_(seed + prime4) {}

void stream_hash::update(const void* data, std::size_t size) noexcept {
    auto* p = static_cast<const unsigned char*>(data);
    total_ += size;
    if (pending_size_ != 0) {
        const std::size_t take = std::min(size, sizeof pending_ - pending_size_);
        std::memcpy(pending_ + pending_size_, p, take);
        pending_size_ += take;
        p += take;
        size -= take;
        if (pending_size_ < sizeof pending_) return;
        state_ = mix_word(state_, load64(pending_));
        pending_size_ = 0;
    }
    for (; size >= 8; p += 8, size -= 8) state_ = mix_word(state_, load64(p));
    std::memcpy(pending_, p, size);
    pending_size_ = size;
}

std::uint64_t stream_hash::finish() const noexcept {
    std::uint64_t h = state_;
    if (pending_size_ != 0) {
        unsigned char last[8] = {};
        std::memcpy(last, pending_, pending_size_);
        h = mix_word(h, load64(last));
    }
    h ^= total_ * prime1;
    h ^= h >> 33;  // MurmurHash3's finaliser: every bit of the state reaches every bit of the hash
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed) noexcept {
    stream_hash h(seed);
    h.update(bytes.data(), bytes.size());
    return h.finish();
}

// ---- the file ---------------------------------------------------------------------------------

namespace {

// Reads exactly `size` bytes at `offset`; false (errno set, EIO for a short file) if it cannot.
bool read_at(int fd, void* out, std::size_t size, std::uint64_t offset) {
    auto* p = static_cast<char*>(out);
    while (size > 0) {
        const ssize_t n = pread(fd, p, size, static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        if (n == 0) {
            errno = EIO;
            return false;
        }
        p += n;
        size -= static_cast<std::size_t>(n);
        offset += static_cast<std::uint64_t>(n);
    }
    return true;
}

}  // namespace

journal_file::journal_file(std::filesystem::path path, const journal_identity& identity) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) fail(path_, "open", errno);
    try {
        struct stat st {};
        if (fstat(fd_, &st) != 0) fail(path_, "stat", errno);
        if (!S_ISREG(st.st_mode)) refuse("it is not a regular file");
        // One map at a time: a second one appending to the same file would interleave records.
        if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            if (errno == EWOULDBLOCK) fail(path_, "lock (another map, in this process or another, uses it)", errno);
            fail(path_, "lock", errno);
        }
        if (fstat(fd_, &st) != 0) fail(path_, "stat", errno);
        const auto size = static_cast<std::uint64_t>(st.st_size);

        std::string head(static_cast<std::size_t>(std::min<std::uint64_t>(size, header_prefix)), '\0');
        if (!head.empty() && !read_at(fd_, head.data(), head.size(), 0)) fail(path_, "read", errno);
        // A file is a journal only if it starts with the whole magic (the header goes in one
        // write(), so a journal torn before its 8th byte is not worth mistaking a user's file for).
        if (size != 0 && (size < sizeof magic || std::memcmp(head.data(), magic, sizeof magic) != 0))
            refuse("it is not a fronta map journal (it does not start with \"FRNTJRNL\"); it was left as it is");
        if (size < header_prefix) {  // empty, or a header torn while it was written: nothing to keep
            if (size != 0 && ftruncate(fd_, 0) != 0) fail(path_, "truncate", errno);
            torn_bytes_ = size;
            create(identity);
            return;
        }
        reader prefix{head, sizeof magic};
        const auto version = static_cast<std::uint32_t>(prefix.number(4));
        const auto body_size = static_cast<std::uint32_t>(prefix.number(4));
        if (version != format_version)
            refuse("it is a journal of format version " + std::to_string(version) + "; this fronta reads version " +
                   std::to_string(format_version));
        if (body_size > largest_header_body)
            refuse("its header is damaged (a header of " + std::to_string(body_size) + " bytes)");
        const std::uint64_t header_size = header_prefix + body_size + 8;
        if (size < header_size) {  // torn while the header was written: no record can follow
            if (ftruncate(fd_, 0) != 0) fail(path_, "truncate", errno);
            torn_bytes_ = size;
            create(identity);
            return;
        }
        std::string rest(body_size + 8, '\0');
        if (!read_at(fd_, rest.data(), rest.size(), header_prefix)) fail(path_, "read", errno);
        check_header(rest, identity);
        load_records(header_size, size);
    } catch (...) {
        close(fd_);
        throw;
    }
}

journal_file::~journal_file() {
    if (!registered_) {
        close(fd_);  // also releases the lock
        return;
    }
    auto& journals = registry();
    std::lock_guard lock(journals.mutex);
    close(fd_);
    const auto it = journals.files.find(key_);
    if (it != journals.files.end() && it->second.expired()) journals.files.erase(it);
    journals.closed.notify_all();
}

void journal_file::refuse(const std::string& why) const {
    throw std::invalid_argument("fronta: the map journal " + path_.string() + " is refused: " + why);
}

void journal_file::create(const journal_identity& identity) {
    identity_ = identity;
    const std::string body = header_body(identity);
    std::string header(magic, sizeof magic);
    put32(header, format_version);
    put32(header, static_cast<std::uint32_t>(body.size()));
    header += body;
    put64(header, hash_bytes(body, header_seed));
    std::size_t written = 0;
    while (written < header.size()) {
        const ssize_t n = write(fd_, header.data() + written, header.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail(path_, "write the header of", n < 0 ? errno : ENOSPC);
        written += static_cast<std::size_t>(n);
    }
    end_ = header.size();
}

void journal_file::check_header(const std::string& bytes, const journal_identity& identity) {
    const std::string_view body(bytes.data(), bytes.size() - 8);
    reader checksum{std::string_view(bytes).substr(body.size())};
    if (checksum.number(8) != hash_bytes(body, header_seed)) refuse("its header is damaged (wrong checksum)");
    journal_identity& stored = identity_;
    try {
        reader in{body};
        stored.kind = static_cast<journal_kind>(in.number(1));
        stored.chunk_size = in.number(8);
        stored.function = in.text();
        stored.function_state = in.number(8);
        stored.result_type = in.text();
    } catch (const std::out_of_range&) {
        refuse("its header is damaged (fields past its end)");
    }
    check_identity(identity);
}

namespace {

// What differs between the identity a journal was made with and the one a map asks for.
std::string differences(const journal_identity& stored, const journal_identity& wanted) {
    std::string differs;
    const auto add = [&](const std::string& what) { differs += (differs.empty() ? "" : "; ") + what; };
    if (stored.kind != wanted.kind)
        add(std::string("it was made by ") + journal_kind_name(stored.kind) + ", not " +
            journal_kind_name(wanted.kind));
    if (stored.function != wanted.function)
        add("it was made by the function `" + stored.function + "`, not `" + wanted.function + "`");
    else if (stored.function_state != wanted.function_state)
        add("it was made by a `" + stored.function + "` holding other values (its serialized state differs)");
    if (stored.chunk_size != wanted.chunk_size)
        add("it was made with chunk_size " + std::to_string(stored.chunk_size) + ", not " +
            std::to_string(wanted.chunk_size));
    if (stored.result_type != wanted.result_type)
        add("its results are of type " + stored.result_type + ", not " + wanted.result_type);
    return differs;
}

}  // namespace

void journal_file::check_identity(const journal_identity& identity) const {
    const std::string differs = differences(identity_, identity);
    if (!differs.empty())
        refuse(differs + ". It belongs to another run: delete it, or give another path, to start afresh");
}

std::shared_ptr<journal_file> journal_file::open(const std::filesystem::path& path, const journal_identity& identity) {
    auto& journals = registry();
    std::shared_ptr<journal_file> shared;
    {
        std::unique_lock lock(journals.mutex);
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0) {
            const std::pair<std::uint64_t, std::uint64_t> key{st.st_dev, st.st_ino};
            for (;;) {
                const auto it = journals.files.find(key);
                if (it == journals.files.end()) break;
                if ((shared = it->second.lock())) break;
                journals.closed.wait(lock);  // its last user is closing it
            }
        }
        if (!shared) {
            auto file = std::make_shared<journal_file>(path, identity);
            struct stat own {};
            if (fstat(file->fd_, &own) != 0) fail(path, "stat", errno);
            file->key_ = {own.st_dev, own.st_ino};
            file->registered_ = true;
            journals.files[file->key_] = file;
            return file;
        }
    }
    shared->check_identity(identity);  // not under the lock: dropping `shared` may close the file
    return shared;
}

void journal_file::load_records(std::uint64_t from, std::uint64_t file_size) {
    std::uint64_t at = from;
    std::string buffer;
    while (at < file_size) {
        const std::uint64_t left = file_size - at;
        if (left < record_prefix + record_suffix) break;  // torn
        char prefix[record_prefix];
        if (!read_at(fd_, prefix, sizeof prefix, at)) fail(path_, "read", errno);
        reader in{std::string_view(prefix, sizeof prefix)};
        const auto tag = static_cast<std::uint32_t>(in.number(4));
        const std::uint64_t index = in.number(8);
        const std::uint64_t input_hash = in.number(8);
        const std::uint64_t size = in.number(8);
        if (tag != record_tag) refuse("it is damaged at byte " + std::to_string(at) + " (no record starts there)");
        if (size > left - record_prefix - record_suffix) break;  // torn: its bytes end past the file's end
        // The checksum covers the prefix and the result; read the result in pieces, not at once.
        stream_hash hash(record_seed);
        hash.update(prefix, sizeof prefix);
        buffer.resize(static_cast<std::size_t>(std::min<std::uint64_t>(size, 1u << 20)));
        for (std::uint64_t done = 0; done < size;) {
            const auto piece = static_cast<std::size_t>(std::min<std::uint64_t>(size - done, buffer.size()));
            if (!read_at(fd_, buffer.data(), piece, at + record_prefix + done)) fail(path_, "read", errno);
            hash.update(buffer.data(), piece);
            done += piece;
        }
        char sum[record_suffix];
        if (!read_at(fd_, sum, sizeof sum, at + record_prefix + size)) fail(path_, "read", errno);
        const std::uint64_t end = at + record_prefix + size + record_suffix;
        if (reader{std::string_view(sum, sizeof sum)}.number(8) != hash.finish()) {
            if (end == file_size) break;  // the last record, garbled as it was written
            refuse("it is damaged at byte " + std::to_string(at) + " (a record with a wrong checksum)");
        }
        chunks_.try_emplace(index, stored{input_hash, at + record_prefix, size});
        at = end;
    }
    if (at < file_size) {  // cut the torn record off, so appended records follow whole ones
        if (ftruncate(fd_, static_cast<off_t>(at)) != 0) fail(path_, "truncate", errno);
        torn_bytes_ = file_size - at;
    }
    end_ = at;
}

std::optional<std::string> journal_file::find(std::uint64_t index, std::uint64_t input_hash) const {
    stored where{};
    {
        std::lock_guard lock(mutex_);
        const auto it = chunks_.find(index);
        if (it == chunks_.end()) return std::nullopt;
        where = it->second;
    }
    if (where.input_hash != input_hash)
        throw std::invalid_argument("fronta: the map journal " + path_.string() + " holds chunk " +
                                    std::to_string(index) +
                                    " made from different inputs than this map reads for it: the inputs changed, or "
                                    "the journal belongs to another run; delete it, or give another path, to start "
                                    "afresh");
    std::string bytes(static_cast<std::size_t>(where.size), '\0');
    if (!read_at(fd_, bytes.data(), bytes.size(), where.offset)) fail(path_, "read", errno);
    return bytes;
}

void journal_file::append(std::uint64_t index, std::uint64_t input_hash, std::string_view result) {
    std::string record;
    record.reserve(record_prefix + result.size() + record_suffix);
    put32(record, record_tag);
    put64(record, index);
    put64(record, input_hash);
    put64(record, result.size());
    record += result;
    put64(record, hash_bytes(record, record_seed));

    std::lock_guard lock(mutex_);
    if (chunks_.count(index) != 0) return;
    if (broken_) fail(path_, "append to (a failed append left part of a record in it)", EIO);
    std::size_t written = 0;
    while (written < record.size()) {  // one write(); more only if the kernel takes part of it
        const ssize_t n = write(fd_, record.data() + written, record.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int error = n < 0 ? errno : ENOSPC;
            // No half record may stay before the next one: cut it off, or append nothing more.
            if (written != 0 && ftruncate(fd_, static_cast<off_t>(end_)) != 0) broken_ = true;
            fail(path_, "append chunk " + std::to_string(index) + " to", error);
        }
        written += static_cast<std::size_t>(n);
    }
    chunks_.emplace(index, stored{input_hash, end_ + record_prefix, result.size()});
    end_ += record.size();
}

std::vector<std::uint64_t> journal_file::chunks() const {
    std::lock_guard lock(mutex_);
    std::vector<std::uint64_t> out;
    out.reserve(chunks_.size());
    for (const auto& [index, where] : chunks_) out.push_back(index);
    return out;
}

}  // namespace fronta::detail
