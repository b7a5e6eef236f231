#pragma once
// Watches many states at once and lists them in the order they complete: the engine of `wait`,
// `as_completed` and `map_unordered`. One node per watched state, allocated up front; every
// completion costs O(1), so watching n futures costs O(n) in total.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>

#include "fronta/detail/park.hpp"
#include "fronta/detail/shared_state.hpp"

namespace fronta::detail {

class completion_list {
public:
    explicit completion_list(std::size_t capacity) : nodes_(new node[capacity]), capacity_(capacity) {}
    completion_list(const completion_list&) = delete;
    completion_list& operator=(const completion_list&) = delete;

    ~completion_list() {
        for (std::size_t i = 0; i < capacity_; ++i) {
            node& n = nodes_[i];
            if (n.watched != nullptr && n.watched->remove_callback(&n))
                in_flight_.fetch_sub(1, std::memory_order_relaxed);
        }
        // The rest are firing right now on other threads; they touch this object until they
        // decrement `in_flight_`, which takes a few instructions.
        while (in_flight_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
    }

    std::size_t capacity() const noexcept { return capacity_; }

    /// Watches `watched` in slot `slot` (free, or drained since its last use); false if it was
    /// already done (nothing registered).
    bool watch(state_base* watched, std::size_t slot) noexcept {
        node& n = nodes_[slot];
        n.owner = this;
        n.fire = &on_complete;
        n.only_wakes = true;
        in_flight_.fetch_add(1, std::memory_order_relaxed);
        if (watched->add_callback(&n)) {
            n.watched = watched;
            return true;
        }
        in_flight_.fetch_sub(1, std::memory_order_relaxed);
        return false;
    }

    /// Calls `on_slot(slot)` for every completion since the last call, oldest first.
    template <class F>
    std::size_t drain(F&& on_slot) {
        node* list = ready_.exchange(nullptr, std::memory_order_acquire);
        node* ordered = nullptr;
        while (list != nullptr) {  // the stack is newest first
            node* next = list->next_ready;
            list->next_ready = ordered;
            ordered = list;
            list = next;
        }
        std::size_t count = 0;
        while (ordered != nullptr) {
            node* next = ordered->next_ready;
            ordered->watched = nullptr;  // fired: nothing to unregister, and the slot may be reused
            ++count;
            on_slot(static_cast<std::size_t>(ordered - nodes_.get()));
            ordered = next;
        }
        return count;
    }

    /// A value that changes with every completion, for `wait_for_change`.
    std::uint32_t generation() const noexcept { return signal_.load(std::memory_order_acquire) & ~sleeper_bit; }

    /// Blocks until a completion after `seen` was signalled or `until` passed; false on timeout.
    bool wait_for_change(std::uint32_t seen, deadline until) {
        const auto changed = [seen](std::uint32_t w) { return (w & ~sleeper_bit) != seen; };
        return changed(park_until(signal_, sleeper_bit, changed, until));
    }

private:
    static constexpr std::uint32_t sleeper_bit = 1;

    struct node : callback_node {
        completion_list* owner = nullptr;
        state_base* watched = nullptr;
        node* next_ready = nullptr;
    };

    static void on_complete(callback_node* self, state_base*) noexcept {
        auto* n = static_cast<node*>(self);
        completion_list* owner = n->owner;
        node* head = owner->ready_.load(std::memory_order_relaxed);
        do {
            n->next_ready = head;
        } while (!owner->ready_.compare_exchange_weak(head, n, std::memory_order_release, std::memory_order_relaxed));
        notify_sleepers(owner->signal_, sleeper_bit, [](std::uint32_t w) { return w + 2; });
        owner->in_flight_.fetch_sub(1, std::memory_order_release);  // last touch of *owner
    }

    std::unique_ptr<node[]> nodes_;
    std::size_t capacity_;
    std::atomic<node*> ready_{nullptr};
    std::atomic<std::uint32_t> signal_{0};
    std::atomic<std::size_t> in_flight_{0};
};

}  // namespace fronta::detail
