// Linux futex calls behind fronta's blocking waits. steady_clock is CLOCK_MONOTONIC in libstdc++
// and libc++ on Linux, so deadlines can be handed to the kernel as absolute monotonic times.
#include "fronta/detail/park.hpp"

#include <cerrno>
#include <climits>
#include <ctime>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace fronta::detail {

bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, deadline until) noexcept {
    static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
    auto* address = reinterpret_cast<std::uint32_t*>(&word);
    if (until == no_deadline) {
        syscall(SYS_futex, address, FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
        return true;
    }
    const auto since_epoch = until.time_since_epoch();
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(secs.count());
    ts.tv_nsec = static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - secs).count());
    const long rc =
        syscall(SYS_futex, address, FUTEX_WAIT_BITSET_PRIVATE, expected, &ts, nullptr, FUTEX_BITSET_MATCH_ANY);
    return !(rc == -1 && errno == ETIMEDOUT);
}

void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept {
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept {
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

blocking_observer*& current_blocking_observer() noexcept {
    thread_local blocking_observer* observer = nullptr;
    return observer;
}

}  // namespace fronta::detail
