#pragma once
/// @file as_completed.hpp
/// @brief `fronta::as_completed`: iterate over futures in the order they complete, like
/// `concurrent.futures.as_completed`.
/// @code
/// for (const fronta::future<int>& f : fronta::as_completed(futures))
///     std::cout << f.get() << '\n';
/// // with a timeout measured from the call: throws fronta::timeout_error if some are still pending
/// for (auto& f : fronta::as_completed(futures, std::chrono::seconds(5))) use(f);
/// @endcode
/// Futures already done come first, in input order; then each as it completes. Every element of
/// the input is yielded once. O(n) in total for n futures.

#include <chrono>
#include <cstddef>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "fronta/detail/completion_list.hpp"
#include "fronta/wait.hpp"

namespace fronta {

/// The input range `as_completed` returns. Move-only; iterate it once.
template <class Future>
class as_completed_range {
public:
    class iterator {
    public:
        using value_type = Future;
        using difference_type = std::ptrdiff_t;
        using reference = const Future&;
        using iterator_concept = std::input_iterator_tag;

        iterator() = default;
        reference operator*() const { return owner_->futures_[owner_->current_]; }
        const Future* operator->() const { return &**this; }
        iterator& operator++() {
            owner_->advance();
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& it, std::default_sentinel_t) { return it.owner_->finished(); }

    private:
        friend class as_completed_range;
        explicit iterator(as_completed_range* owner) : owner_(owner) {}
        as_completed_range* owner_ = nullptr;
    };

    as_completed_range(std::vector<Future> futures, detail::deadline until, std::string timeout_text)
        : futures_(std::move(futures)), until_(until), timeout_text_(std::move(timeout_text)), ready_(futures_.size()) {
        watcher_ = std::make_unique<detail::completion_list>(futures_.size());
        std::vector<bool> early(futures_.size());
        for (std::size_t i = 0; i < futures_.size(); ++i)
            if (futures_[i].done()) {
                early[i] = true;
                ready_[ready_end_++] = i;
            }
        for (std::size_t i = 0; i < futures_.size(); ++i)
            if (!early[i] && !watcher_->watch(futures_[i].state(), i)) ready_[ready_end_++] = i;
    }
    as_completed_range(as_completed_range&&) noexcept = default;
    as_completed_range& operator=(as_completed_range&&) noexcept = default;

    /// Blocks until the first future is done (throws `timeout_error` on timeout).
    iterator begin() {
        if (!started_) {
            started_ = true;
            advance();
        }
        return iterator(this);
    }
    std::default_sentinel_t end() const noexcept { return {}; }
    /// How many futures have not been yielded yet.
    std::size_t remaining() const noexcept { return futures_.size() - yielded_; }

    /// True once every future was yielded (or a timeout ended the iteration).
    bool finished() const noexcept { return current_ == npos; }

private:
    void advance() {
        if (ready_begin_ == ready_end_) {
            while (ready_end_ < futures_.size()) {
                const auto seen = watcher_->generation();
                watcher_->drain([this](std::size_t i) { ready_[ready_end_++] = i; });
                if (ready_begin_ != ready_end_) break;
                if (!watcher_->wait_for_change(seen, until_)) {
                    watcher_->drain([this](std::size_t i) { ready_[ready_end_++] = i; });
                    if (ready_begin_ != ready_end_) break;
                    current_ = npos;
                    throw timeout_error("as_completed(): " + std::to_string(futures_.size() - ready_end_) + " of " +
                                        std::to_string(futures_.size()) + " futures were not done within " +
                                        timeout_text_);
                }
            }
        }
        if (ready_begin_ == ready_end_) {
            current_ = npos;
            return;
        }
        current_ = ready_[ready_begin_++];
        ++yielded_;
    }

    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    std::vector<Future> futures_;
    detail::deadline until_;
    std::string timeout_text_;
    std::vector<std::size_t> ready_;  // indices in completion order; filled once each
    std::size_t ready_begin_ = 0;
    std::size_t ready_end_ = 0;
    std::size_t current_ = npos;
    std::size_t yielded_ = 0;
    bool started_ = false;
    std::unique_ptr<detail::completion_list> watcher_;  // last: unregisters before the rest goes
};

/// Yields each future as it completes, without a time limit.
template <future_range Range>
auto as_completed(Range&& futures) {
    using future_type = std::remove_cvref_t<std::ranges::range_reference_t<Range>>;
    return as_completed_range<future_type>(detail::collect_futures(std::forward<Range>(futures), "as_completed"),
                                           detail::no_deadline, "no limit");
}

/// Yields each future as it completes; iteration throws `timeout_error` once `timeout` (counted
/// from this call) has passed with futures left.
template <future_range Range, class Rep, class Period>
auto as_completed(Range&& futures, std::chrono::duration<Rep, Period> timeout) {
    using future_type = std::remove_cvref_t<std::ranges::range_reference_t<Range>>;
    return as_completed_range<future_type>(detail::collect_futures(std::forward<Range>(futures), "as_completed"),
                                           detail::deadline_after(timeout), detail::describe(timeout));
}

}  // namespace fronta
