#pragma once
// How fronta's core blocks a thread: a futex word with a "someone sleeps here" bit, so that the
// side that completes a future pays for a wake-up system call only when a thread really sleeps.
// The core knows nothing of pools; executors hook in through `blocking_observer`.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace fronta::detail {

using clock = std::chrono::steady_clock;
using deadline = clock::time_point;
inline constexpr deadline no_deadline = deadline::max();

/// Turns a relative timeout into a deadline without overflowing for huge durations.
template <class Rep, class Period>
deadline deadline_after(std::chrono::duration<Rep, Period> timeout) {
    const auto now = clock::now();
    if (timeout <= std::chrono::duration<Rep, Period>::zero()) return now;
    using fsec = std::chrono::duration<double>;
    if (fsec(timeout) >= fsec(deadline::max() - now)) return no_deadline;
    return now + std::chrono::ceil<clock::duration>(timeout);
}

/// Sleeps while `word == expected`; returns false only when `until` passed. Spurious returns happen.
bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, deadline until) noexcept;
void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept;
void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept;

/// A pool installs one on each of its worker threads: fronta calls it around every wait that may
/// sleep, so the pool can start a stand-in worker while one of its workers is blocked. This is how a
/// task that waits on a future of its own pool cannot deadlock it.
struct blocking_observer {
    virtual void before_block() noexcept = 0;
    virtual void after_block() noexcept = 0;

protected:
    ~blocking_observer() = default;
};

blocking_observer*& current_blocking_observer() noexcept;

/// Spins briefly (results often arrive within microseconds), then tells the observer and sleeps.
/// `word` reserves `sleeper_bit` for this protocol; notifiers must use `notify_sleepers`.
/// Returns the last value read, for which `ready` holds unless the deadline passed.
template <class Ready>
std::uint32_t park_until(std::atomic<std::uint32_t>& word, std::uint32_t sleeper_bit, Ready ready,
                         deadline until) {
    std::uint32_t value = word.load(std::memory_order_acquire);
    for (int spin = 0; spin < 256 && !ready(value); ++spin) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        value = word.load(std::memory_order_acquire);
    }
    if (ready(value)) return value;
    struct scope {
        blocking_observer* observer = current_blocking_observer();
        scope() { if (observer) observer->before_block(); }
        ~scope() { if (observer) observer->after_block(); }
    } blocking;
    while (!ready(value)) {
        if (!(value & sleeper_bit)) {
            if (!word.compare_exchange_weak(value, value | sleeper_bit, std::memory_order_acq_rel,
                                            std::memory_order_acquire))
                continue;
            value |= sleeper_bit;
        }
        const bool woken = futex_wait(word, value, until);
        value = word.load(std::memory_order_acquire);
        if (!woken) break;
    }
    return value;
}

/// Stores `update(old)` with the sleeper bit cleared and wakes the sleepers if there were any.
template <class Update>
std::uint32_t notify_sleepers(std::atomic<std::uint32_t>& word, std::uint32_t sleeper_bit,
                              Update update) noexcept {
    std::uint32_t old = word.load(std::memory_order_relaxed);
    while (!word.compare_exchange_weak(old, update(old) & ~sleeper_bit, std::memory_order_acq_rel,
                                       std::memory_order_relaxed)) {
    }
    if (old & sleeper_bit) futex_wake_all(word);
    return old;
}

}  // namespace fronta::detail
