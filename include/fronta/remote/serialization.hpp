#pragma once
/// @file remote/serialization.hpp
/// @brief How values cross a process or machine boundary: cereal's binary archives, into and out
/// of byte strings. Anything cereal can serialize ships: numbers, strings, std containers, and your
/// types with a `serialize(Archive&)` member or free function.
/// @code
/// struct point { double x, y; template <class A> void serialize(A& a) { a(x, y); } };
/// std::string bytes = fronta::remote::to_bytes(point{1, 2});
/// point p = fronta::remote::from_bytes<point>(bytes);
/// @endcode

#include <array>
#include <cereal/archives/binary.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/chrono.hpp>
#include <cereal/types/complex.hpp>
#include <cereal/types/deque.hpp>
#include <cereal/types/list.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/memory.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/unordered_set.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <limits>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <string_view>
#include <type_traits>

#include "fronta/remote/payload.hpp"

namespace fronta::remote::detail {
/// Faults in the pages of [data, data + bytes) in one call (if the kernel can), before they are
/// written: on a virtual machine each first touch of a page traps, and one call is much cheaper.
void prefault(void* data, std::size_t bytes) noexcept;

// Reads from a view of bytes it does not own.
class view_source : public std::streambuf {
public:
    void target(std::string_view in) {
        char* begin = const_cast<char*>(in.data());
        setg(begin, begin, begin + in.size());
    }
    const char* current() const noexcept { return gptr(); }
    std::size_t available() const noexcept { return static_cast<std::size_t>(egptr() - gptr()); }
    void skip(std::size_t n) noexcept { setg(eback(), gptr() + n, egptr()); }
};

// The archive that from_bytes reads with on this thread, and the bytes under it: large arrays
// are copied straight out of them.
struct direct_input {
    const cereal::BinaryInputArchive* archive = nullptr;
    view_source* source = nullptr;
};
inline thread_local direct_input current_input;

inline view_source* direct_source(const cereal::BinaryInputArchive& archive) noexcept {
    return current_input.archive == &archive ? current_input.source : nullptr;
}
}  // namespace fronta::remote::detail

namespace cereal {
/// A large vector of numbers read from a binary archive: the same bytes as cereal's own load, but
/// the new storage is faulted in at once and, when fronta reads from memory and the numbers are
/// aligned there, filled by one copy without zeroing it first.
template <class T, class A>
inline std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>> load(BinaryInputArchive& archive,
                                                                                  std::vector<T, A>& vector) {
    size_type size;
    archive(make_size_tag(size));
    if (size > std::numeric_limits<std::size_t>::max() / sizeof(T))
        throw Exception("a vector of " + std::to_string(size) + " elements");
    const auto count = static_cast<std::size_t>(size);
    const std::size_t bytes = count * sizeof(T);
    if (bytes >= (std::size_t{1} << 20)) {
        auto* source = fronta::remote::detail::direct_source(archive);
        const bool direct = source != nullptr && source->available() >= bytes &&
                            reinterpret_cast<std::uintptr_t>(source->current()) % alignof(T) == 0;
        vector = std::vector<T, A>(vector.get_allocator());
        vector.reserve(count);
        fronta::remote::detail::prefault(vector.data(), bytes);
        if (direct) {
            const T* first = reinterpret_cast<const T*>(source->current());
            vector.assign(first, first + count);  // within the capacity: one copy, no zeroing
            source->skip(bytes);
            return;
        }
    }
    vector.resize(count);
    archive(binary_data(vector.data(), bytes));
}
}  // namespace cereal

namespace fronta::remote {

namespace detail {
template <class T>
struct holds_raw_pointer : std::is_pointer<T> {};
template <template <class...> class Template, class... T>
struct holds_raw_pointer<Template<T...>> : std::disjunction<holds_raw_pointer<std::remove_cv_t<T>>...> {};
template <class T, std::size_t N>
struct holds_raw_pointer<std::array<T, N>> : holds_raw_pointer<std::remove_cv_t<T>> {};
template <class T, std::size_t N>
struct holds_raw_pointer<T[N]> : holds_raw_pointer<std::remove_cv_t<T>> {};
}  // namespace detail

/// True when `T` is a raw pointer or a standard container, pair or tuple of them, at any depth.
/// cereal claims to serialize raw pointers and fails with a static_assert when it tries; fronta
/// refuses them up front, with a message that says what to pass instead.
template <class T>
inline constexpr bool holds_raw_pointer_v = detail::holds_raw_pointer<std::remove_cv_t<T>>::value;

/// True when cereal's binary archives can write and read `T`.
template <class T>
inline constexpr bool is_serializable_v =
    std::is_void_v<T> || std::conjunction_v<std::negation<detail::holds_raw_pointer<std::remove_cv_t<T>>>,
                                            cereal::traits::is_output_serializable<T, cereal::BinaryOutputArchive>,
                                            cereal::traits::is_input_serializable<T, cereal::BinaryInputArchive>>;

/// Raised when bytes cannot be turned back into values: truncated, corrupt, or of another type.
class deserialization_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

namespace detail {

// Appends to a std::string (without the copies of std::ostringstream) or to output_bytes (which
// moves to shared memory when it grows large).
template <class Out>
class append_sink : public std::streambuf {
public:
    void target(Out* out) noexcept { out_ = out; }

protected:
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        out_->append(s, static_cast<std::size_t>(n));
        return n;
    }
    int_type overflow(int_type c) override {
        if (c != traits_type::eof()) out_->push_back(static_cast<char>(c));
        return c;
    }

private:
    Out* out_ = nullptr;
};
using string_sink = append_sink<std::string>;
using output_sink = append_sink<output_bytes>;

// Building a std::ostream or std::istream costs more than serializing a small message, so each
// thread keeps one of each; a serialize() that serializes something itself gets fresh ones.
template <class Buffer, class Stream>
class cached_stream {
public:
    template <class Target>
    explicit cached_stream(Target&& target) {
        thread_local struct slot {
            Buffer buffer;
            Stream stream{&buffer};
            bool busy = false;
        } cache;
        if (!cache.busy) {
            cache.busy = true;
            used_ = &cache.busy;
            buffer_ = &cache.buffer;
            stream_ = &cache.stream;
            stream_->clear();
        } else {
            own_buffer_.emplace();
            own_stream_.emplace(&*own_buffer_);
            buffer_ = &*own_buffer_;
            stream_ = &*own_stream_;
        }
        buffer_->target(std::forward<Target>(target));
    }
    ~cached_stream() {
        if (used_) *used_ = false;
    }
    cached_stream(const cached_stream&) = delete;
    cached_stream& operator=(const cached_stream&) = delete;
    Stream& stream() noexcept { return *stream_; }
    Buffer& buffer() noexcept { return *buffer_; }

private:
    bool* used_ = nullptr;
    Buffer* buffer_ = nullptr;
    Stream* stream_ = nullptr;
    std::optional<Buffer> own_buffer_;
    std::optional<Stream> own_stream_;
};

}  // namespace detail

/// Appends the serialized `values` to `out`.
template <class... T>
void append_bytes(std::string& out, const T&... values) {
    detail::cached_stream<detail::string_sink, std::ostream> cached(&out);
    cereal::BinaryOutputArchive archive(cached.stream());
    archive(values...);
}

/// Appends the serialized `values` to `out`, straight into shared memory once it is large.
template <class... T>
void append_bytes(output_bytes& out, const T&... values) {
    detail::cached_stream<detail::output_sink, std::ostream> cached(&out);
    cereal::BinaryOutputArchive archive(cached.stream());
    archive(values...);
}

template <class... T>
std::string to_bytes(const T&... values) {
    std::string out;
    append_bytes(out, values...);
    return out;
}

/// Reads values of the given types from `in`; throws `deserialization_error` when `in` is short or
/// has bytes left over.
template <class... T>
void read_bytes(std::string_view in, T&... values) {
    detail::cached_stream<detail::view_source, std::istream> cached(in);
    std::istream& stream = cached.stream();
    try {
        cereal::BinaryInputArchive archive(stream);
        struct direct_scope {  // large arrays may be copied straight out of `in`
            detail::direct_input previous = detail::current_input;
            direct_scope(const cereal::BinaryInputArchive* a, detail::view_source* s) noexcept {
                detail::current_input = {a, s};
            }
            ~direct_scope() { detail::current_input = previous; }
        } scope(&archive, &cached.buffer());
        archive(values...);
    } catch (const cereal::Exception& e) {
        throw deserialization_error(std::string("cannot read the message: ") + e.what());
    } catch (const std::length_error& e) {
        throw deserialization_error(std::string("cannot read the message (a length is corrupt): ") + e.what());
    } catch (const std::bad_alloc&) {
        throw deserialization_error("cannot read the message: a length field asks for more memory than there is");
    }
    if (stream.rdbuf()->in_avail() != 0)
        throw deserialization_error("cannot read the message: " + std::to_string(stream.rdbuf()->in_avail()) +
                                    " bytes left over (the two sides disagree on the types)");
}

template <class T>
T from_bytes(std::string_view in) {
    T value{};
    read_bytes(in, value);
    return value;
}

}  // namespace fronta::remote
