// The registry of tasks that wait for input futures (futures as arguments), kept by every sink so
// that shutdown treats them as the pending tasks they are.
#include <vector>

#include "fronta/detail/park.hpp"
#include "fronta/detail/task.hpp"
#include "fronta/errors.hpp"

namespace fronta::detail {

void task_sink::throw_closed() {
    throw shutdown_error("submit after shutdown(); create a new executor or submit before shutting down");
}

bool task_sink::enter(waiting_entry* e) {
    std::lock_guard lock(waiting_mutex_);
    if (closed_.load(std::memory_order_relaxed)) return false;
    e->prev_ = nullptr;
    e->next_ = waiting_head_;
    if (waiting_head_ != nullptr) waiting_head_->prev_ = e;
    waiting_head_ = e;
    ++waiting_count_;
    return true;
}

void task_sink::leave(waiting_entry* e) noexcept {
    bool stop = false;
    bool cancel = false;
    {
        std::lock_guard lock(waiting_mutex_);
        (e->prev_ != nullptr ? e->prev_->next_ : waiting_head_) = e->next_;
        if (e->next_ != nullptr) e->next_->prev_ = e->prev_;
        e->prev_ = e->next_ = nullptr;
        if (--waiting_count_ == 0 && closed_.load(std::memory_order_relaxed)) {
            drained_.notify_all();
            stop = stop_when_drained_;
            cancel = cancel_when_drained_;
            stop_when_drained_ = false;
        }
    }
    if (!stop) return;
    try {
        shutdown(false, cancel);  // what shutdown_all(false, ...) left to the last task out
    } catch (...) {               // shutting down without waiting reports nothing worth losing a task over
    }
}

std::size_t task_sink::waiting() const {
    std::lock_guard lock(waiting_mutex_);
    return waiting_count_;
}

void task_sink::shutdown_all(bool wait, bool cancel_futures) {
    std::vector<waiting_entry*> cancelled;
    {
        std::lock_guard lock(waiting_mutex_);
        closed_.store(true, std::memory_order_release);
        if (cancel_futures) {
            // Those whose claim fails are being queued right now by their last input: they leave
            // by themselves in a moment, and are cancelled in the queue with the rest.
            for (waiting_entry* e = waiting_head_; e != nullptr;) {
                waiting_entry* next = e->next_;
                if (e->claim()) {
                    (e->prev_ != nullptr ? e->prev_->next_ : waiting_head_) = e->next_;
                    if (e->next_ != nullptr) e->next_->prev_ = e->prev_;
                    e->prev_ = e->next_ = nullptr;
                    --waiting_count_;
                    cancelled.push_back(e);
                }
                e = next;
            }
        }
    }
    for (waiting_entry* e : cancelled) {
        e->cancel_claimed();
        e->release();
    }
    {
        std::unique_lock lock(waiting_mutex_);
        if (waiting_count_ != 0) {
            // Inside a done callback, the callback that would queue a waiting task may come after
            // this one on this very thread: waiting for it would never end. Then, as without
            // `wait`, the last waiting task out stops the executor.
            if (!wait || inside_callbacks()) {
                // Python's shutdown(wait=False) still runs pending tasks: the executor stops once
                // the last waiting task is queued (see leave).
                stop_when_drained_ = true;
                cancel_when_drained_ = cancel_when_drained_ || cancel_futures;
                return;
            }
            drained_.wait(lock, [this] { return waiting_count_ == 0; });
        }
    }
    shutdown(wait, cancel_futures);
}

}  // namespace fronta::detail
