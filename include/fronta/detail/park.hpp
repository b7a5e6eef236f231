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
    /// True when the pool could not keep its workers' number of threads taking tasks (no stand-in
    /// could start): the waiter then runs the pool's queued tasks itself until its wait ends.
    virtual bool before_block() noexcept = 0;
    virtual void after_block() noexcept = 0;

    /// For a waiter that helps: runs one queued task on this thread; false if none was taken.
    virtual bool run_queued_task() noexcept = 0;
    virtual bool has_queued_task() const noexcept = 0;
    /// A helping waiter sleeps on `word` between tasks: a submit wakes it by clearing
    /// `sleeper_bit` there (see notify_sleepers), as long as it is registered.
    virtual void start_helping(std::atomic<std::uint32_t>& word, std::uint32_t sleeper_bit) noexcept = 0;
    virtual void stop_helping(std::atomic<std::uint32_t>& word) noexcept = 0;

protected:
    ~blocking_observer() = default;
};

blocking_observer*& current_blocking_observer() noexcept;

/// Fires the callbacks this thread's trampoline holds (see `fire_callbacks` in shared_state.hpp):
/// a callback deep in a chain that waits on a continuation it just completed must not sleep while
/// that continuation waits on its own thread. True if it fired any.
bool run_pending_callbacks() noexcept;

/// True on a thread that is running done callbacks now (inside fire_callbacks): a wait there
/// cannot count on the callbacks after the running one.
bool inside_callbacks() noexcept;

/// Spins briefly (results often arrive within microseconds), then tells the observer and sleeps.
/// `word` reserves `sleeper_bit` for this protocol; notifiers must use `notify_sleepers`.
/// Returns the last value read, for which `ready` holds unless the deadline passed.
template <class Ready>
std::uint32_t park_until(std::atomic<std::uint32_t>& word, std::uint32_t sleeper_bit, Ready ready, deadline until) {
    std::uint32_t value = word.load(std::memory_order_acquire);
    for (int spin = 0; spin < 256 && !ready(value); ++spin) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        value = word.load(std::memory_order_acquire);
    }
    if (ready(value)) return value;
    if (run_pending_callbacks()) {
        value = word.load(std::memory_order_acquire);
        if (ready(value)) return value;
    }
    struct scope {
        std::atomic<std::uint32_t>& word;
        blocking_observer* observer = current_blocking_observer();
        bool helping = false;
        scope(std::atomic<std::uint32_t>& w, std::uint32_t bit) : word(w) {
            if (observer && (helping = observer->before_block())) observer->start_helping(word, bit);
        }
        ~scope() {
            if (helping) observer->stop_helping(word);
            if (observer) observer->after_block();
        }
    } blocking(word, sleeper_bit);
    while (!ready(value)) {
        if (blocking.helping && blocking.observer->has_queued_task()) {
            // No stand-in could start: this thread takes the queued work itself. The task may be
            // long; the wait then ends after it, even past the deadline.
            blocking.observer->run_queued_task();
            value = word.load(std::memory_order_acquire);
            if (until != no_deadline && clock::now() >= until) break;
            continue;
        }
        if (!(value & sleeper_bit)) {
            if (!word.compare_exchange_weak(value, value | sleeper_bit, std::memory_order_acq_rel,
                                            std::memory_order_acquire))
                continue;
            value |= sleeper_bit;
            // A submit that came before the bit was set may have found nothing to clear: look again.
            if (blocking.helping) continue;
        }
        const bool woken = futex_wait(word, value, until);
        value = word.load(std::memory_order_acquire);
        if (!woken) break;
    }
    return value;
}

/// Stores `update(old)` with the sleeper bit cleared and wakes the sleepers if there were any.
template <class Update>
std::uint32_t notify_sleepers(std::atomic<std::uint32_t>& word, std::uint32_t sleeper_bit, Update update) noexcept {
    std::uint32_t old = word.load(std::memory_order_relaxed);
    while (!word.compare_exchange_weak(old, update(old) & ~sleeper_bit, std::memory_order_acq_rel,
                                       std::memory_order_relaxed)) {
    }
    if (old & sleeper_bit) futex_wake_all(word);
    return old;
}

}  // namespace fronta::detail
