// 13: the One Billion Row Challenge on fronta. A text file of lines `station;temperature` (one
// decimal), and the answer: min/mean/max per station, sorted by name. The file is cut into chunks
// at line boundaries (`fronta::file_chunks`), each chunk is parsed where it runs into a table of
// stations, and the tables are merged as they arrive (`fronta::map_reduce`): on threads, worker
// processes or MPI ranks, with the same code.
//   billion_rows                                   threads, 2 workers, the default file
//   billion_rows --executor processes
//   mpirun -n 3 billion_rows --executor mpi        rank 0 runs main, 2 ranks work
//   billion_rows --executor mpi                    started alone: spawns its 2 MPI workers
//   billion_rows --rows 1000000000                 the real billion (about 13.8 GB)
//   billion_rows --file my.txt                     your own file, as it is
// The file is generated first (13_billion_rows_generator.hpp: the same --rows give the same
// bytes) and kept under the build folder for the next run. Each run times one worker, then
// --workers of them, and prints rows/s, GB/s, the parallel efficiency and the first lines of the
// answer.
#include <algorithm>
#include <array>
#include <bit>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fronta/fronta.hpp>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>
#ifdef FRONTA_HAVE_MPI
#include <fronta/mpi_pool.hpp>
#endif

#include "13_billion_rows_generator.hpp"

#ifndef BILLION_ROWS_DATA_DIR  // where the generated files are kept: CMake says the build folder
#define BILLION_ROWS_DATA_DIR "billion_rows"
#endif

// ---- The answer: a table of stations ---------------------------------------------------------

// One station's temperatures in tenths of a degree: integers, so sums are exact and tables merged
// in any order give the same answer, byte for byte.
struct station_stats {
    std::int64_t sum = 0;
    std::int64_t count = 0;
    std::int32_t min = 1000;  // above any valid temperature
    std::int32_t max = -1000;

    void add(std::int32_t tenths) {
        sum += tenths;
        ++count;
        min = std::min(min, tenths);
        max = std::max(max, tenths);
    }
    void add(const station_stats& other) {
        sum += other.sum;
        count += other.count;
        min = std::min(min, other.min);
        max = std::max(max, other.max);
    }
    template <class Archive>
    void serialize(Archive& archive) {
        archive(sum, count, min, max);
    }
};

inline std::uint64_t load_word(const char* p) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    return word;
}
inline std::uint64_t low_bytes(std::uint64_t word, std::size_t n) {  // the first n <= 8 bytes of word
    return n >= 8 ? word : word & ((std::uint64_t{1} << 8 * n) - 1);
}

// A name's first 16 bytes, padded with zeros. Most names end there: they compare as two words, and
// the hash is made of these 16 bytes alone, so the parser has it without a loop over the name.
struct name_prefix {
    std::uint64_t low = 0, high = 0;
    friend bool operator==(const name_prefix&, const name_prefix&) = default;
};
inline name_prefix prefix_at(const char* name, std::size_t size) {  // reads 16 bytes at name
    const std::size_t in_low = std::min<std::size_t>(size, 8), in_high = std::min<std::size_t>(size, 16) - in_low;
    return {low_bytes(load_word(name), in_low), low_bytes(load_word(name + 8), in_high)};
}
inline name_prefix prefix_of(std::string_view name) {
    char padded[16] = {};
    std::memcpy(padded, name.data(), std::min<std::size_t>(name.size(), 16));
    return prefix_at(padded, 16);
}

// Stations by name in a flat open-addressing hash table: the names live in one string, the slots
// in one vector, so a lookup touches one or two cache lines and never allocates.
class station_table {
public:
    // The stats of `name` (whose first bytes are `start`), added empty if it is new.
    [[gnu::always_inline]] station_stats& at(std::string_view name, name_prefix start) {
        for (std::size_t i = index(start);; i = (i + 1) & (slots_.size() - 1)) {
            slot& s = slots_[i];
            if (s.start == start && s.name_size == name.size() &&
                (name.size() <= 16 ||
                 std::memcmp(names_.data() + s.name_offset + 16, name.data() + 16, name.size() - 16) == 0))
                return s.stats;
            if (s.name_size == 0) return insert(i, name, start);
        }
    }
    station_stats& at(std::string_view name) { return at(name, prefix_of(name)); }
    void merge(const station_table& other) {
        for (const slot& s : other.slots_)
            if (s.name_size != 0) at(other.name_of(s), s.start).add(s.stats);
    }
    std::size_t size() const { return used_; }
    std::int64_t rows() const {
        std::int64_t n = 0;
        for (const slot& s : slots_) n += s.stats.count;
        return n;
    }
    // The stations sorted by name (bytewise, as std::string compares).
    std::vector<std::pair<std::string_view, station_stats>> sorted() const {
        std::vector<std::pair<std::string_view, station_stats>> out;
        out.reserve(used_);
        for (const slot& s : slots_)
            if (s.name_size != 0) out.emplace_back(name_of(s), s.stats);
        std::ranges::sort(out, {}, &std::pair<std::string_view, station_stats>::first);
        return out;
    }

    // What travels back from a worker: the stations, not the empty slots.
    template <class Archive>
    void save(Archive& archive) const {
        archive(static_cast<std::uint64_t>(used_));
        for (const slot& s : slots_)
            if (s.name_size != 0) archive(std::string(name_of(s)), s.stats);
    }
    template <class Archive>
    void load(Archive& archive) {
        *this = station_table();
        std::uint64_t count = 0;
        archive(count);
        std::string name;
        station_stats stats;
        for (std::uint64_t i = 0; i < count; ++i) {
            archive(name, stats);
            at(name).add(stats);
        }
    }

private:
    struct slot {
        name_prefix start;
        std::uint32_t name_offset = 0;
        std::uint32_t name_size = 0;  // 0: a free slot (station names are never empty)
        station_stats stats;
    };
    std::size_t index(name_prefix start) const {
        // One multiply; its high bits, which every byte of the name reaches, pick the slot.
        return static_cast<std::size_t>(((start.low ^ std::rotl(start.high, 29)) * 0x9e3779b97f4a7c15ull) >> shift_);
    }
    std::string_view name_of(const slot& s) const { return {names_.data() + s.name_offset, s.name_size}; }
    [[gnu::noinline]] station_stats& insert(std::size_t i, std::string_view name, name_prefix start) {
        if (4 * (used_ + 1) > slots_.size()) {  // at most a quarter full: short probes
            grow();
            return at(name, start);
        }
        slots_[i] = {start, static_cast<std::uint32_t>(names_.size()), static_cast<std::uint32_t>(name.size()), {}};
        names_.append(name);
        ++used_;
        return slots_[i].stats;
    }
    void grow() {
        std::vector<slot> old(2 * slots_.size());
        std::swap(old, slots_);
        --shift_;
        for (const slot& s : old)
            if (s.name_size != 0) {
                std::size_t i = index(s.start);
                while (slots_[i].name_size != 0) i = (i + 1) & (slots_.size() - 1);
                slots_[i] = s;
            }
    }

    std::vector<slot> slots_ = std::vector<slot>(1024);
    int shift_ = 64 - 10;  // 64 - log2(slots_.size())
    std::string names_;
    std::size_t used_ = 0;
};

// ---- Map and reduce: what runs in the workers ------------------------------------------------

// `tenths` as text with one decimal: -123 -> "-12.3".
std::string decimal(std::int64_t tenths) {
    std::string out = tenths < 0 ? "-" : "";
    const std::int64_t magnitude = tenths < 0 ? -tenths : tenths;
    return out + std::to_string(magnitude / 10) + '.' + char('0' + magnitude % 10);
}

[[noreturn]] void malformed(const fronta::file_chunk& chunk, std::string_view text, const char* line, const char* why) {
    const std::size_t at = static_cast<std::size_t>(line - text.data());
    std::string shown(text.substr(at, std::min<std::size_t>(text.substr(at).find('\n'), 60)));
    for (char& c : shown)
        if (static_cast<unsigned char>(c) < 0x20) c = '?';
    throw std::runtime_error("malformed line at byte offset " + std::to_string(chunk.offset + at) + " of " +
                             chunk.path + ": " + why + ": \"" + shown + "\"");
}

// Bit 8k+7 set where byte k of `word` is `byte` (exact for the lowest match; bits above it may be
// set falsely, which is fine: only the lowest is used).
inline std::uint64_t bytes_equal(std::uint64_t word, char byte) {
    const std::uint64_t x = word ^ (0x0101010101010101ull * static_cast<unsigned char>(byte));
    return (x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull;
}

// One line from `p` byte by byte, checking everything: the lines near the end of a chunk, and any
// line the fast path does not like (which then throws here, with the reason).
const char* parse_line_carefully(const fronta::file_chunk& chunk, std::string_view text, const char* p,
                                 station_table& table) {
    const char* const end = text.data() + text.size();
    const auto digit = [](char c) { return static_cast<unsigned char>(c - '0') < 10; };
    const char* const line = p;
    while (p < end && *p != ';' && *p != '\n') ++p;
    if (p == end || *p == '\n') malformed(chunk, text, line, "no ';' between station and temperature");
    if (p == line) malformed(chunk, text, line, "empty station name");
    const std::string_view name(line, static_cast<std::size_t>(p - line));
    ++p;  // the ';'
    const bool negative = p < end && *p == '-';
    p += negative;
    std::int32_t tenths;
    if (end - p >= 3 && digit(p[0]) && p[1] == '.' && digit(p[2])) {
        tenths = (p[0] - '0') * 10 + (p[2] - '0');
        p += 3;
    } else if (end - p >= 4 && digit(p[0]) && digit(p[1]) && p[2] == '.' && digit(p[3])) {
        tenths = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[3] - '0');
        p += 4;
    } else {
        malformed(chunk, text, line, "the temperature must look like -12.3 (one decimal, at most 99.9)");
    }
    if (p < end && *p++ != '\n')  // the file's last line may lack its newline
        malformed(chunk, text, line, "the temperature must look like -12.3 (one decimal, at most 99.9)");
    table.at(name).add(negative ? -tenths : tenths);
    return p;
}

// The stations of one chunk. A line is `name;temperature\n`: a name of at least one byte without
// ';' or newline, and a temperature like -12.3 (one decimal, one or two digits before the point).
// The last line of the file may lack its newline. Anything else throws, naming the line's offset.
//
// fast_line reads a line as words: the name's first 16 bytes, in which it finds the ';' and masks
// the name without branching on its length, and the 8 bytes after the ';', from which it checks and
// reads the number with bit tricks alone ("merykitty", from the One Billion Row Challenge). It
// reads at most 24 bytes past a short name's start, never at or past `end`, and leaves whatever it
// is unsure of (false) to parse_line_carefully, which also does the lines near a chunk's end.
[[gnu::always_inline]] inline bool fast_line(const char*& p, const char* end, station_table& table) {
    const char* const line = p;
#ifdef __SSE2__
    // The ';' and newlines of the first 16 bytes as bit masks; the bytes before the ';', zero
    // padded, are the name's prefix (an and with 16 bytes of a sliding window of ones and zeros).
    static constexpr unsigned char ones_then_zeros[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                          0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    const __m128i head = _mm_loadu_si128(reinterpret_cast<const __m128i*>(line));
    const auto semicolons = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(head, _mm_set1_epi8(';'))));
    const auto newlines = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(head, _mm_set1_epi8('\n'))));
    const int name_size = std::countr_zero(semicolons | 0x10000u);  // 16: not in 16 bytes
    const __m128i name =
        _mm_and_si128(head, _mm_loadu_si128(reinterpret_cast<const __m128i*>(ones_then_zeros + 16 - name_size)));
    const name_prefix start{static_cast<std::uint64_t>(_mm_cvtsi128_si64(name)),
                            static_cast<std::uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(name, name)))};
    const bool name_ok = (newlines & ((1u << name_size) - 1)) == 0;
#else
    static constexpr std::uint64_t first_bytes[9] =
        {0, 0xff, 0xffff, 0xffffff, 0xffffffff, 0xffffffffff, 0xffffffffffff, 0xffffffffffffff, ~std::uint64_t{0}};
    // The ';' is byte `in_low` of the first word (8: not there), or byte `in_high` of the second;
    // the bytes before it, zero padded, are the name's prefix.
    const std::uint64_t low = load_word(line), high = load_word(line + 8);
    const int in_low = std::countr_zero(bytes_equal(low, ';')) >> 3;
    const int in_high = (std::countr_zero(bytes_equal(high, ';')) >> 3) & -(in_low >> 3);  // 0 unless in_low == 8
    const name_prefix start{low & first_bytes[in_low], high & first_bytes[in_high]};
    const int name_size = in_low + in_high;  // 16: not in 16 bytes
    const bool name_ok = (bytes_equal(start.low, '\n') | bytes_equal(start.high, '\n')) == 0;
#endif
    const char* semicolon = line + name_size;
    if (name_size == 16) [[unlikely]] {    // a long name
        const char* const last = end - 9;  // room for the number's word after the ';'
        while (semicolon < last && *semicolon != ';' && *semicolon != '\n') ++semicolon;
        if (semicolon >= last || *semicolon != ';') return false;
    }
    const std::uint64_t word = load_word(semicolon + 1);
    // The number -?d?d.d\n. A '-' and the '.' are the only bytes of it whose bit 4 is clear:
    // `sign` is all ones for a '-', and `dot` is the bit 4 of the first such byte after byte 0
    // (28, as if at byte 3, if none: the checks below then fail).
    const std::uint64_t sign = static_cast<std::uint64_t>(static_cast<std::int64_t>(~word << 59) >> 63);
    const int dot = std::countr_zero((~word & 0x10101000) | 0x10000000);
    const int shift = 28 - dot;  // 0, 8 or 16: puts the '.' at byte 3
    // Aligned: byte 0 zero, bytes 1 and 2 the digits before the point (byte 1 zero for one digit,
    // made '0' for the checks), byte 3 the '.', byte 4 the tenths, byte 5 the newline.
    const std::uint64_t aligned = (word & ~(sign & 0xff)) << shift;
    const int digits_from = (shift >> 3) + static_cast<int>(sign & 1);  // the first digit's byte
    const std::uint64_t checked = aligned | (std::uint64_t{0x3000} & -static_cast<std::uint64_t>(digits_from >> 1));
    const bool ok = (semicolon != line) & name_ok & (((word ^ '-') & sign & 0xff) == 0) &
                    ((checked & 0x0000ff00ff0000ffull) == 0x00000a002e000000ull) &
                    ((checked & 0x000000f000f0f000ull) == 0x0000003000303000ull) &
                    (((checked + 0x0000000600060600ull) & 0x000000f000f0f000ull) == 0x0000003000303000ull);
    if (!ok) [[unlikely]]
        return false;
    const auto magnitude = static_cast<std::int32_t>((((aligned & 0x0f000f0f00ull) * 0x640a0001ull) >> 32) & 0x3ff);
    const auto minus = static_cast<std::int32_t>(sign);
    table.at({line, static_cast<std::size_t>(semicolon - line)}, start).add((magnitude ^ minus) - minus);
    p = semicolon + (dot >> 3) + 4;
    return true;
}

station_table parse_chunk(fronta::file_chunk chunk) {
    const std::string_view text = chunk.text();
    station_table table;
    const char* p = text.data();
    const char* const end = p + text.size();
    while (p < end)
        if (end - p < 32 || !fast_line(p, end, table)) p = parse_line_carefully(chunk, text, p, table);
    return table;
}
FRONTA_REMOTE(parse_chunk);

// Associative and commutative, as map_reduce needs: merging adds counts and sums, takes min and max.
station_table merge_tables(station_table a, station_table b) {
    if (a.size() < b.size()) std::swap(a, b);
    a.merge(b);
    return a;
}
FRONTA_REMOTE(merge_tables);

// One line per station, `name=min/mean/max`, sorted by name; the mean rounded half up to tenths.
std::string answer_text(const station_table& table) {
    std::string out;
    for (const auto& [name, s] : table.sorted()) {
        const std::int64_t twice = 2 * s.sum + s.count, divisor = 2 * s.count;  // floor((sum/count) + 1/2)
        const std::int64_t mean = twice / divisor - (twice % divisor != 0 && twice < 0);
        out.append(name).append("=").append(decimal(s.min)).append("/").append(decimal(mean));
        out.append("/").append(decimal(s.max)).append("\n");
    }
    return out;
}

// ---- The command line, the executor, the runs ------------------------------------------------

namespace {

using clock_type = std::chrono::steady_clock;
double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

struct settings {
    std::uint64_t rows = 50'000'000;
    bool generate = true;  // false: --file without --rows names a file that exists, used as it is
    std::filesystem::path file;
    std::string executor = "threads";
    std::size_t workers = 2;
    double chunk_mb = 16;
    bool generate_only = false;
    std::string output;
    bool json = false;
    std::filesystem::path trace;  // --trace: the Chrome trace; the HTML report goes beside it
};

constexpr const char* usage =
    "usage: billion_rows [--rows N] [--file PATH] [--executor threads|processes|mpi] [--workers N]\n"
    "                    [--chunk-mb M] [--generate-only] [--output PATH] [--json] [--trace PATH]\n"
    "  --rows N         rows to generate (default 50000000); the same N gives the same file\n"
    "  --file PATH      the input (default: " BILLION_ROWS_DATA_DIR
    "/measurements-N.txt), generated\n"
    "                   if missing or not of the size N rows make; with --file and no --rows, a file\n"
    "                   that exists is used as it is\n"
    "  --executor KIND  where the chunks are parsed (default threads)\n"
    "  --workers N      workers of the timed run (default 2); a one-worker run is timed too\n"
    "  --chunk-mb M     about M MiB per chunk (default 16)\n"
    "  --generate-only  write the file and exit\n"
    "  --output PATH    write the whole answer there, one line per station: name=min/mean/max\n"
    "  --json           also print one line of JSON with the measurements\n"
    "  --trace PATH     trace every task (fronta::tracing) into PATH (Chrome trace; PATH.jsonl beside\n"
    "                   it) and write the HTML report next to it (PATH with .html)\n";

settings parse_arguments(int argc, char** argv) {
    settings s;
    bool file_given = false, rows_given = false;
    const auto number = [](const std::string& flag, const std::string& text) {
        std::size_t used = 0;
        double value = -1;
        try {
            value = std::stod(text, &used);
        } catch (const std::exception&) {
        }
        if (used != text.size() || !(value >= 0))
            throw std::invalid_argument(flag + " wants a number, not '" + text + "'");
        return value;
    };
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--generate-only") {
            s.generate_only = true;
        } else if (flag == "--json") {
            s.json = true;
        } else if (flag == "--help" || flag == "-h") {
            std::fputs(usage, stdout);
            std::exit(0);
        } else if (i + 1 < argc &&
                   (flag == "--rows" || flag == "--file" || flag == "--executor" || flag == "--workers" ||
                    flag == "--chunk-mb" || flag == "--output" || flag == "--trace")) {
            const std::string value = argv[++i];
            if (flag == "--rows") {
                s.rows = static_cast<std::uint64_t>(number(flag, value));
                rows_given = true;
            } else if (flag == "--file") {
                s.file = value;
                file_given = true;
            } else if (flag == "--executor") {
                s.executor = value;
            } else if (flag == "--workers") {
                s.workers = static_cast<std::size_t>(number(flag, value));
                if (s.workers == 0) throw std::invalid_argument("--workers must be at least 1");
            } else if (flag == "--chunk-mb") {
                s.chunk_mb = number(flag, value);
                if (s.chunk_mb <= 0) throw std::invalid_argument("--chunk-mb must be above 0");
            } else if (flag == "--trace") {
                s.trace = value;
            } else {
                s.output = value;
            }
        } else {
            throw std::invalid_argument("unknown or incomplete argument '" + flag + "'\n" + usage);
        }
    }
    if (!file_given)
        s.file = std::filesystem::path(BILLION_ROWS_DATA_DIR) / ("measurements-" + std::to_string(s.rows) + ".txt");
    s.generate = !file_given || rows_given || !std::filesystem::exists(s.file);
    s.file = std::filesystem::absolute(s.file);  // workers may run elsewhere: MPI ranks, say
    return s;
}

fronta::executor make_executor(const std::string& kind, std::size_t workers) {
    if (kind == "threads") return fronta::thread_pool(workers);
    if (kind == "processes") return fronta::process_pool(workers);
#ifdef FRONTA_HAVE_MPI
    if (kind == "mpi") return fronta::mpi_pool(workers);
#else
    if (kind == "mpi") throw std::invalid_argument("this build has no MPI (install libopenmpi-dev and rebuild)");
#endif
    throw std::invalid_argument("unknown executor '" + kind + "' (threads, processes or mpi)");
}

struct timed_answer {
    station_table table;
    double seconds = 0;
};

// The whole computation, timed from cutting the file to the merged table (the pool's start is not
// counted: it is paid once per program, not per file).
timed_answer compute(const settings& s, std::size_t workers) {
    fronta::executor pool = make_executor(s.executor, workers);
    const auto start = clock_type::now();
    const auto chunks =
        fronta::file_chunks(s.file, {.chunk_bytes =
                                         std::max<std::size_t>(1, static_cast<std::size_t>(s.chunk_mb * (1 << 20)))});
    std::fflush(stdout);  // what was printed comes before the bar (stderr) when both go to one file
    station_table table = fronta::map_reduce(pool, parse_chunk, chunks, merge_tables, station_table{},
                                             {.progress = "chunks"});  // a bar on stderr, counting chunks
    return {std::move(table), seconds_since(start)};
}

void print_run(const settings& s, std::size_t workers, double seconds, std::int64_t rows, std::uint64_t bytes) {
    std::printf("%-9s %zu worker%s: %7.3f s  %7.1f M rows/s  %5.2f GB/s\n", s.executor.c_str(), workers,
                workers == 1 ? " " : "s", seconds, rows / seconds / 1e6, bytes / seconds / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // process and MPI workers are copies of this program: they stay in here
    try {
        const settings s = parse_arguments(argc, argv);
        if (s.generate) {
            const double generated = generator::ensure_file(s.file, s.rows, s.workers);
            if (generated > 0)
                std::printf("generated %s: %llu rows, %.2f GB in %.2f s (%.2f GB/s, %zu threads)\n", s.file.c_str(),
                            static_cast<unsigned long long>(s.rows), std::filesystem::file_size(s.file) / 1e9,
                            generated, std::filesystem::file_size(s.file) / 1e9 / generated, s.workers);
            else
                std::printf("reusing %s\n", s.file.c_str());
        }
        if (s.generate_only) return 0;
        const std::uint64_t bytes = std::filesystem::file_size(s.file);

        // Map the file once in this process and touch every page, so both runs start warm.
        if (bytes != 0) {
            const std::string_view all = fronta::file_chunk{s.file.string(), 0, bytes}.text();
            unsigned char sum = 0;
            for (std::size_t i = 0; i < all.size(); i += 4096) sum += static_cast<unsigned char>(all[i]);
            asm volatile("" : : "r"(sum));
        }
        // Every task of both runs, in a trace that Perfetto opens, and a report page of it.
        std::optional<fronta::tracing> trace;
        if (!s.trace.empty()) trace.emplace(s.trace);
        timed_answer baseline = compute(s, 1);
        const std::int64_t rows = baseline.table.rows();
        print_run(s, 1, baseline.seconds, rows, bytes);
        timed_answer answer;
        if (s.workers > 1) {
            answer = compute(s, s.workers);
            print_run(s, s.workers, answer.seconds, rows, bytes);
            std::printf("parallel efficiency: %.0f%% (one worker's time / (%zu x this time))\n",
                        100.0 * baseline.seconds / (double(s.workers) * answer.seconds), s.workers);
            // Other programs taking the cores make the efficiency look worse than it is: say so.
            double load = 0;
            const unsigned cores = std::thread::hardware_concurrency();
            if (getloadavg(&load, 1) == 1 && load > 0.5 * cores)
                std::printf("(the load average is %.1f on %u cores: other programs are taking CPU time)\n", load,
                            cores);
        } else {
            answer = std::move(baseline);
        }
        const std::string text = answer_text(answer.table);
        if (s.workers > 1 && answer_text(baseline.table) != text)
            throw std::logic_error("the one-worker and the " + std::to_string(s.workers) + "-worker answers differ");

        std::printf("%zu station%s, %lld rows%s\n", answer.table.size(), answer.table.size() == 1 ? "" : "s",
                    static_cast<long long>(rows), text.empty() ? "" : "; the first lines of the answer:");
        std::size_t shown = 0;
        for (std::size_t at = 0; at < text.size() && shown < 5; ++shown) {
            const std::size_t next = text.find('\n', at) + 1;
            std::printf("  %.*s", static_cast<int>(next - at), text.data() + at);
            at = next;
        }
        if (!s.output.empty()) {
            std::FILE* out = std::fopen(s.output.c_str(), "wb");
            if (out == nullptr || std::fwrite(text.data(), 1, text.size(), out) != text.size() || std::fclose(out) != 0)
                throw std::system_error(errno, std::generic_category(), "billion_rows: cannot write " + s.output);
        }
        if (trace) {
            const std::filesystem::path report = std::filesystem::path(s.trace).replace_extension(".html");
            trace->write_report(report);
            std::printf("trace: %s (open it in https://ui.perfetto.dev), records %s, report %s\n", s.trace.c_str(),
                        fronta::trace_records_path(s.trace).c_str(), report.c_str());
        }
        if (s.json)
            std::printf(
                "{\"executor\": \"%s\", \"workers\": %zu, \"rows\": %lld, \"bytes\": %llu, \"seconds\": %.6f, "
                "\"baseline_seconds\": %.6f, \"stations\": %zu}\n",
                s.executor.c_str(), s.workers, static_cast<long long>(rows), static_cast<unsigned long long>(bytes),
                answer.seconds, baseline.seconds, answer.table.size());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "billion_rows: %s\n", e.what());
        return 1;
    }
}
