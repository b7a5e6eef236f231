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
#include <istream>
#include <ostream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <string_view>
#include <type_traits>

namespace fronta::remote {

/// True when cereal's binary archives can write and read `T`.
template <class T>
inline constexpr bool is_serializable_v =
    std::is_void_v<T> || (cereal::traits::is_output_serializable<T, cereal::BinaryOutputArchive>::value &&
                          cereal::traits::is_input_serializable<T, cereal::BinaryInputArchive>::value);

/// Raised when bytes cannot be turned back into values: truncated, corrupt, or of another type.
class deserialization_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

namespace detail {

// Appends to a std::string without the copies of std::ostringstream.
class string_sink : public std::streambuf {
public:
    explicit string_sink(std::string& out) : out_(out) {}

protected:
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        out_.append(s, static_cast<std::size_t>(n));
        return n;
    }
    int_type overflow(int_type c) override {
        if (c != traits_type::eof()) out_.push_back(static_cast<char>(c));
        return c;
    }

private:
    std::string& out_;
};

// Reads from a view of bytes it does not own.
class view_source : public std::streambuf {
public:
    explicit view_source(std::string_view in) {
        char* begin = const_cast<char*>(in.data());
        setg(begin, begin, begin + in.size());
    }
};

}  // namespace detail

/// Appends the serialized `values` to `out`.
template <class... T>
void append_bytes(std::string& out, const T&... values) {
    detail::string_sink sink(out);
    std::ostream stream(&sink);
    cereal::BinaryOutputArchive archive(stream);
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
    detail::view_source source(in);
    std::istream stream(&source);
    try {
        cereal::BinaryInputArchive archive(stream);
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
