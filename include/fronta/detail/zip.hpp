#pragma once
// `map(f, xs, ys, ...)`: the inputs of a map over several ranges, one tuple per position, ending
// with the shortest (as Python's map(fn, *iterables); std::views::zip is C++23), and f applied
// to the members of each tuple.

#include <cstddef>
#include <functional>
#include <iterator>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>

namespace fronta::detail {

template <std::ranges::input_range... Views>
    requires(std::ranges::view<Views> && ...)
class zip_view : public std::ranges::view_interface<zip_view<Views...>> {
public:
    class iterator {
    public:
        using value_type = std::tuple<std::ranges::range_value_t<Views>...>;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::input_iterator_tag;

        iterator() = default;
        iterator(std::tuple<std::ranges::iterator_t<Views>...> at, std::tuple<std::ranges::sentinel_t<Views>...> ends)
            : at_(std::move(at)), ends_(std::move(ends)) {}

        value_type operator*() const {
            return std::apply([](const auto&... it) { return value_type(*it...); }, at_);
        }
        iterator& operator++() {
            std::apply([](auto&... it) { (++it, ...); }, at_);
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& it, std::default_sentinel_t) {
            return it.any_at_end(std::index_sequence_for<Views...>());
        }

    private:
        template <std::size_t... I>
        bool any_at_end(std::index_sequence<I...>) const {
            return ((std::get<I>(at_) == std::get<I>(ends_)) || ...);
        }
        std::tuple<std::ranges::iterator_t<Views>...> at_;
        std::tuple<std::ranges::sentinel_t<Views>...> ends_;
    };

    zip_view() = default;
    explicit zip_view(Views... views) : views_(std::move(views)...) {}

    iterator begin() {
        return std::apply(
            [](auto&... v) {
                return iterator(std::tuple(std::ranges::begin(v)...), std::tuple(std::ranges::end(v)...));
            },
            views_);
    }
    std::default_sentinel_t end() const noexcept { return {}; }

private:
    std::tuple<Views...> views_;
};

template <class... Ranges>
auto zip(Ranges&&... ranges) {
    return zip_view<std::views::all_t<Ranges>...>(std::views::all(std::forward<Ranges>(ranges))...);
}

/// f applied to the members of a tuple, in this process.
template <class F>
struct apply_members {
    F f;
    template <class Tuple>
    decltype(auto) operator()(Tuple&& members) {
        return std::apply(f, std::forward<Tuple>(members));
    }
};

/// The tuple that map(f, xs, ys, ...) passes for one position: a value of each range among Args
/// (all of them, or all but the trailing options).
template <std::size_t Ranges, class... Args>
struct zip_values {
    template <std::size_t... I>
    static auto make(std::index_sequence<I...>)
        -> std::tuple<std::ranges::range_value_t<std::views::all_t<std::tuple_element_t<I, std::tuple<Args...>>>>...>;
    using type = decltype(make(std::make_index_sequence<Ranges>()));
};

/// True when the last of Args is map_options (the options of map(f, xs, ys, options)).
template <class Options, class... Args>
inline constexpr bool ends_with_v =
    std::is_same_v<std::remove_cvref_t<std::tuple_element_t<sizeof...(Args) - 1, std::tuple<Args...>>>, Options>;

}  // namespace fronta::detail
