#pragma once
// What the tests of both Asio bridges share (asio_test.cpp, boost_asio_test.cpp), free of either
// Asio (they cannot be included together): a gate to hold tasks, a handler part that counts its
// copies, and running an io_context to the end of its work with a bound.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace fronta::test {

// A gate tasks wait on until the test opens it: the way to keep a task running or queued.
class gate {
public:
    void open() {
        const std::lock_guard lock(mutex_);
        open_ = true;
        cv_.notify_all();
    }
    void pass() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return open_; });
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool open_ = false;
};

// Counts its copies alive: handlers that hold one and are destroyed leave the count at zero.
struct counted {
    static inline std::atomic<int> alive{0};
    counted() { ++alive; }
    counted(const counted&) { ++alive; }
    counted(counted&&) noexcept { ++alive; }
    ~counted() { --alive; }
};

// Runs the io_context until it has no more work; a test whose waits never complete fails here
// (after 60 s) instead of hanging the suite. Then readies it for another run, unless another
// thread may still be inside run() (restart() must not race with it).
template <class IoContext>
void run_all(IoContext& io, bool restart = true) {
    using namespace std::chrono_literals;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!io.stopped() && std::chrono::steady_clock::now() < deadline) io.run_for(100ms);
    ASSERT_TRUE(io.stopped()) << "the io_context still had work after 60 s";
    if (restart) io.restart();
}

}  // namespace fronta::test
