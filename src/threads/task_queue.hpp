#pragma once
// The queue between submitters and workers: Dmitry Vyukov's intrusive multi-producer queue.
// A push is one atomic exchange, so submitting never waits for a worker; workers pop one task at
// a time under a small spin lock (the critical section is a few loads and stores).

#include <atomic>
#include <thread>

#include "fronta/detail/task.hpp"

namespace fronta::detail {

class task_queue {
public:
    task_queue() = default;
    task_queue(const task_queue&) = delete;
    task_queue& operator=(const task_queue&) = delete;

    /// Any thread. Takes ownership of `t` until it is popped.
    void push(task* t) noexcept {
        t->next.store(nullptr, std::memory_order_relaxed);
        task* previous = tail_.exchange(t, std::memory_order_seq_cst);
        previous->next.store(t, std::memory_order_release);
    }

    /// True when nothing is queued (a push in progress may count as queued).
    bool empty() const noexcept { return tail_.load(std::memory_order_seq_cst) == &stub_; }

    /// A cheaper look for idle workers: reads the consumers' side and, only when the queue looked
    /// empty, the one link a submitter writes when it makes the queue non-empty. Never touches a
    /// task that another worker may be freeing.
    bool has_work_hint() const noexcept {
        return head_.load(std::memory_order_acquire) != &stub_ || stub_.next.load(std::memory_order_acquire) != nullptr;
    }

    /// Any thread; null if empty, or if a concurrent push has not linked its task yet.
    task* try_pop() noexcept {
        lock();
        task* t = pop_locked();
        unlock();
        return t;
    }

    /// Empties the queue into `out` (for shutdown with cancel_futures, or a broken pool).
    template <class Sink>
    void drain(Sink&& out) {
        lock();
        while (!empty()) {
            if (task* t = pop_locked())
                out(t);
            else
                std::this_thread::yield();  // a push is half done; it completes in a moment
        }
        unlock();
    }

private:
    struct stub_task final : task {
        void execute() noexcept override {}
        void cancel() noexcept override {}
        void fail(std::exception_ptr) noexcept override {}
    };

    task* pop_locked() noexcept {
        task* head = head_.load(std::memory_order_relaxed);
        task* next = head->next.load(std::memory_order_acquire);
        if (head == &stub_) {
            if (next == nullptr) return nullptr;
            head_.store(next, std::memory_order_release);
            head = next;
            next = next->next.load(std::memory_order_acquire);
        }
        if (next != nullptr) {
            head_.store(next, std::memory_order_release);
            return head;
        }
        if (head != tail_.load(std::memory_order_acquire)) return nullptr;  // push in progress
        push(&stub_);
        next = head->next.load(std::memory_order_acquire);
        if (next != nullptr) {
            head_.store(next, std::memory_order_release);
            return head;
        }
        return nullptr;
    }

    void lock() noexcept {
        for (int spins = 0; locked_.exchange(true, std::memory_order_acquire); ++spins) {
            while (locked_.load(std::memory_order_relaxed)) {
                if (++spins > 64) std::this_thread::yield();
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
            }
        }
    }
    void unlock() noexcept { locked_.store(false, std::memory_order_release); }

    alignas(64) stub_task stub_;                   // written by a submitter only when the queue was empty
    alignas(64) std::atomic<task*> tail_{&stub_};  // producers' side
    alignas(64) std::atomic<bool> locked_{false};  // consumers' side
    std::atomic<task*> head_{&stub_};
};

}  // namespace fronta::detail
