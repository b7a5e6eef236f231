// The remote engine's lone-task path: lending an idle worker to submitters (see engine.hpp).
#include "remote/engine.hpp"

namespace fronta::remote {

// ---- the lone-task path ----------------------------------------------------------------------
// While the pool has nothing else to do, the dispatcher lends one idle worker to submitters. A
// submit that finds it claims it (under mutex_), pushes the task straight into its channel and,
// back outside the lock, polls for the reply for a short while: a short task's reply is there
// within microseconds, and the submitting thread completes the future itself before submit
// returns (no user callback can be attached yet). Otherwise it hands the task to the dispatcher
// (handed_), which adopts it as if it had sent it. Either way the worker goes back: lent again if
// the dispatcher has not asked for it meanwhile, else to the dispatcher. Tasks with a timeout take
// the dispatcher's path, and so do those the transport does not take directly.

worker* engine::lend_to(remote_task* t, std::uint64_t& id) {
    worker* w = idle_worker_;
    if (w == nullptr || !link_->direct_allowed(*t) || limit_for(*t).count() != 0) return nullptr;
    std::string payload = to_bytes(t->call);
    if (!t->started) {
        if (!t->start()) return nullptr;  // cancelled: the dispatcher cancels it
        t->started = true;
    }
    id = next_task_id_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (t->traced.submitted != 0) {
        t->traced.sent = fronta::detail::trace_clock();
        t->traced.worker = w->trace_id;
    }
    if (!link_->push_direct(*w, id, payload)) return nullptr;
    idle_worker_ = nullptr;
    w->claimed.store(true, std::memory_order_release);
    return w;
}

void engine::finish_lone_task(worker& w, remote_task* t, std::uint64_t id) {
    const auto sent = clock::now();
    direct_outcome outcome = link_->await_direct(w, *t, id);
    bool sleeping = false;
    {
        std::lock_guard lock(mutex_);
        if (outcome.done) {
            ++w.lone_done;
            w.claimed.store(false, std::memory_order_release);
        } else {
            // The worker stays claimed until the dispatcher has adopted the task: it must not send
            // it another task first (the worker runs them in order).
            handed_.push_back({&w, {t, id}, sent, std::move(outcome.corrupt)});
        }
        if (outcome.done && lend_open_ && inbox_.empty() && !stopping_ && options_.max_tasks_per_child == 0) {
            idle_worker_ = &w;  // the dispatcher has not asked for it: keep it lent
        } else {
            handed_pending_.store(true, std::memory_order_release);
            sleeping = sleeping_;
            sleeping_ = false;
        }
    }
    if (sleeping) wake();
}

void engine::lend_idle_worker(bool stopping) {
    if (!link_->supports_direct() || stopping || !queue_.empty() || !broken_message().empty()) return;
    for (auto& w : workers_) {
        if (takes_tasks(*w) && !w->busy() && depth(*w) > 0) {
            std::lock_guard lock(mutex_);
            idle_worker_ = w.get();
            lend_open_ = true;
            lent_ = w.get();
            return;
        }
    }
}

void engine::reclaim_lent_worker() {
    if (lent_ == nullptr && !handed_pending_.load(std::memory_order_acquire)) return;
    std::vector<handed_task> refused;
    {
        std::lock_guard lock(mutex_);
        lend_open_ = false;
        idle_worker_ = nullptr;
        lent_ = nullptr;
        handed_pending_.store(false, std::memory_order_relaxed);
        for (auto& h : handed_) {
            if (h.to->tasks.empty()) h.to->head_started = h.sent;
            h.to->tasks.push_back(h.task);
            h.to->claimed.store(false, std::memory_order_release);
            last_activity_ = clock::now();
            if (!h.corrupt.empty()) refused.push_back(std::move(h));
        }
        handed_.clear();
        for (auto& w : workers_) {
            if (w->lone_done == 0) continue;
            w->tasks_done += w->lone_done;
            w->lone_done = 0;
            if (w->tasks.empty()) w->idle_since = clock::now();
        }
    }
    for (auto& h : refused) corrupt(*h.to, h.corrupt);
}

}  // namespace fronta::remote
