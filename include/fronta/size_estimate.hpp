#pragma once
/// @file size_estimate.hpp
/// @brief `fronta::size_estimate(value)`: about how many bytes of memory a value holds, for
/// `map_options::max_in_flight_bytes` on in-process executors (process and MPI pools count the
/// serialized bytes instead).
///
/// The estimate is `sizeof` plus what the value owns: the elements of a container or string (its
/// size, not its capacity), the members of a pair, tuple or optional, what a unique_ptr points to.
/// Memory it only shares (a shared_ptr's or a `shared_array`'s) is not counted: it is not freed
/// when the value goes. For a type of your own that owns memory another way, specialise
/// `fronta::size_estimator`:
/// @code
/// template <> struct fronta::size_estimator<image> {
///     std::size_t operator()(const image& im) const { return sizeof im + im.width * im.height * 4; }
/// };
/// @endcode

#include <cstddef>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace fronta {

template <class T>
struct size_estimator;

/// About how many bytes `value` holds (see above).
template <class T>
std::size_t size_estimate(const T& value) {
    return size_estimator<T>{}(value);
}

namespace detail {
template <class T>
inline constexpr bool tuple_like = requires { std::tuple_size<T>::value; } && !std::ranges::range<T>;
template <class T>
struct is_unique_ptr : std::false_type {};
template <class T, class D>
struct is_unique_ptr<std::unique_ptr<T, D>> : std::true_type {};
template <class T>
struct is_optional : std::false_type {};
// A contiguous range of numbers: its size times theirs (other elements may have estimates of their own).
template <class R>
concept flat_range =
    std::ranges::sized_range<R> && std::ranges::contiguous_range<R> &&
    (std::is_arithmetic_v<std::ranges::range_value_t<R>> || std::is_enum_v<std::ranges::range_value_t<R>>);
// Types that say they share their elements (fronta::shared_array) count as their handle only.
template <class T>
inline constexpr bool shares_memory = requires { typename T::shares_memory; };
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
}  // namespace detail

/// The default estimate; specialise it for a type of your own.
template <class T>
struct size_estimator {
    std::size_t operator()(const T& value) const {
        if constexpr (std::ranges::view<T> || detail::shares_memory<T>) {
            return sizeof(T);  // a view or a shared array owns none of the elements
        } else if constexpr (detail::is_unique_ptr<T>::value) {
            return sizeof(T) + (value ? size_estimate(*value) : 0);
        } else if constexpr (detail::is_optional<T>::value) {
            return value ? size_estimate(*value) + (sizeof(T) - sizeof(*value)) : sizeof(T);
        } else if constexpr (detail::flat_range<const T>) {
            return sizeof(T) + std::ranges::size(value) * sizeof(std::ranges::range_value_t<const T>);
        } else if constexpr (std::ranges::input_range<const T>) {
            std::size_t total = sizeof(T);
            for (const auto& element : value) total += size_estimate(element);
            return total;
        } else if constexpr (detail::tuple_like<T>) {
            return std::apply([](const auto&... member) { return (std::size_t{0} + ... + size_estimate(member)); },
                              value) +
                   (sizeof(T) -
                    std::apply([](const auto&... member) { return (std::size_t{0} + ... + sizeof(member)); }, value));
        } else {
            return sizeof(T);
        }
    }
};

}  // namespace fronta
