// thread_pool: a lock-free queue for submitters, workers that spin briefly before they sleep on an
// event count, and stand-in threads for workers blocked in fronta waits (no deadlock on the pool's
// own futures). Control state (thread counts, stand-ins, shutdown) sits under one mutex and is
// touched only when a thread starts, blocks, parks or stops, never per task.
#include "fronta/thread_pool.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "fronta/detail/park.hpp"
#include "threads/callback_runner.hpp"
#include "threads/task_queue.hpp"

namespace fronta {
namespace {

std::string describe_exception(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "an exception not derived from std::exception";
    }
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Stand-ins for blocked workers. Beyond this many (or when no thread can be started), a task
// that blocks runs queued tasks itself while it waits, so nested waits of any depth go on.
constexpr std::size_t max_stand_ins = 256;

// How many fronta waits this thread is inside: more than one only while a waiting worker runs a
// queued task that waits in turn. Only the outermost counts the thread as blocked.
thread_local int block_depth = 0;

class thread_pool_impl final : public detail::task_sink,
                               public detail::blocking_observer,
                               public std::enable_shared_from_this<thread_pool_impl> {
public:
    explicit thread_pool_impl(thread_pool_options options)
        : target_(options.workers != 0 ? options.workers : std::max(1u, std::thread::hardware_concurrency())),
          prefix_(std::move(options.thread_name_prefix)), initializer_(std::move(options.initializer)) {}

    ~thread_pool_impl() override {
        for (auto& t : threads_) finish_thread(t);
        for (auto& t : own_threads_) finish_thread(t);
    }

    void start() {
        std::lock_guard lock(mutex_);
        for (std::size_t i = 0; i < target_; ++i) start_thread_locked();
    }

    /// Names this pool in traces (pools the library makes for itself have none).
    void set_trace_id(std::uint32_t id) noexcept { trace_id_ = id; }

    void enqueue(detail::task* t) override {
        t->traced.pool = trace_id_;
        // Count this submit in, then look at the stop bit: shutdown waits for submits counted in,
        // so no task can land in the queue after the workers' last look at it.
        if (admission_.fetch_add(submit_unit, std::memory_order_seq_cst) & stopping_bit) {
            admission_.fetch_sub(submit_unit, std::memory_order_seq_cst);
            reject(t);
        }
        queue_.push(t);
        admission_.fetch_sub(submit_unit, std::memory_order_release);
        if (sleepers_.load(std::memory_order_seq_cst) > 0 && spinning_.load(std::memory_order_seq_cst) == 0)
            wake_one();  // nobody awake is looking for work
        if (helpers_.load(std::memory_order_seq_cst) > 0) wake_helpers();
    }

    void shutdown(bool wait, bool cancel_futures) override {
        admission_.fetch_or(stopping_bit, std::memory_order_seq_cst);
        while (admission_.load(std::memory_order_seq_cst) >= submit_unit) std::this_thread::yield();
        if (cancel_futures) queue_.drain([](detail::task* t) { t->cancel(); });
        closed_.store(true, std::memory_order_seq_cst);
        wake_all();
        {
            std::lock_guard lock(mutex_);
            spare_cv_.notify_all();
        }
        if (wait) join_all();
    }

    std::size_t concurrency() const noexcept override { return target_; }

    bool before_block() noexcept override {
        if (block_depth++ > 0) return true;  // waiting inside a task it took while waiting: helps on
        std::lock_guard lock(mutex_);
        ++blocked_;
        bool covered = true;
        // Keep `target_` threads able to take work while this one waits.
        if (total_ - blocked_ - spare_ + waking_ < target_) {
            if (spare_ > waking_) {
                ++waking_;
                spare_cv_.notify_one();
            } else if (total_ < target_ + max_stand_ins) {
                try {
                    start_thread_locked();
                } catch (const std::exception&) {
                    covered = false;  // out of threads: this one helps instead
                }
            } else {
                covered = false;
            }
        }
        update_surplus_locked();
        return !covered;
    }
    void after_block() noexcept override {
        if (--block_depth > 0) return;
        std::lock_guard lock(mutex_);
        --blocked_;
        update_surplus_locked();
    }

    // A waiter that helps runs tasks here, with no lock of the pool held. What a task expects of
    // its thread (thread-locals, locks it holds across the wait) is then shared with the task it
    // waits in; it happens only past max_stand_ins, where the alternative was a deadlock.
    bool run_queued_task() noexcept override {
        detail::task* t = queue_.try_pop();
        if (t == nullptr) {
            std::this_thread::yield();  // a push is half done; it completes in a moment
            return false;
        }
        t->execute();
        return true;
    }
    bool has_queued_task() const noexcept override { return !queue_.empty(); }

    void start_helping(std::atomic<std::uint32_t>& word, std::uint32_t sleeper_bit) noexcept override {
        std::lock_guard lock(mutex_);
        try {
            helping_.push_back({&word, sleeper_bit});
        } catch (...) {  // cannot be woken by submits: it still runs what it finds between wake-ups
            return;
        }
        helpers_.fetch_add(1, std::memory_order_seq_cst);
    }
    void stop_helping(std::atomic<std::uint32_t>& word) noexcept override {
        std::lock_guard lock(mutex_);
        for (auto it = helping_.rbegin(); it != helping_.rend(); ++it) {
            if (it->word == &word) {
                helping_.erase(std::next(it).base());
                helpers_.fetch_sub(1, std::memory_order_seq_cst);
                return;
            }
        }
    }

private:
    static constexpr std::uint64_t stopping_bit = 1;
    static constexpr std::uint64_t submit_unit = 2;

    [[noreturn]] void reject(detail::task* t) {
        std::string broken;
        {
            std::lock_guard lock(mutex_);
            broken = broken_;
        }
        if (!broken.empty()) {
            t->fail(std::make_exception_ptr(broken_executor(broken)));
            throw broken_executor(broken);
        }
        t->cancel();
        throw shutdown_error("thread_pool: submit after shutdown(); create a new pool or submit before shutting down");
    }

    void start_thread_locked() {
        const std::size_t index = started_++;
        threads_.emplace_back([self = shared_from_this(), index] { self->worker_main(index); });
        ++total_;
        update_surplus_locked();
    }

    void update_surplus_locked() noexcept {
        surplus_.store(total_ - blocked_ - spare_ > target_, std::memory_order_relaxed);
    }

    void worker_main(std::size_t index) {
        const std::string name = prefix_ + "-" + std::to_string(index);
        pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
        detail::current_blocking_observer() = this;
        if (initializer_) {
            try {
                initializer_();
            } catch (...) {
                break_pool("thread_pool: the initializer failed on worker " + name + ": " +
                           describe_exception(std::current_exception()));
            }
        }
        for (;;) {
            if (surplus_.load(std::memory_order_relaxed)) park_if_surplus();
            if (detail::task* t = queue_.try_pop()) {
                t->execute();
                continue;
            }
            if (closed_.load(std::memory_order_acquire) && queue_.empty()) break;
            if (spin_for_work()) continue;
            sleep_until_work();
        }
        std::lock_guard lock(mutex_);
        --total_;
        update_surplus_locked();
        detail::current_blocking_observer() = nullptr;
    }

    // A stand-in whose blocked worker came back: park until needed again or shutdown.
    void park_if_surplus() {
        std::unique_lock lock(mutex_);
        if (total_ - blocked_ - spare_ <= target_ || closed_.load()) return;
        ++spare_;
        update_surplus_locked();
        spare_cv_.wait(lock, [this] { return closed_.load() || waking_ > 0; });
        if (waking_ > 0) --waking_;
        --spare_;
        update_surplus_locked();
    }

    // Tasks often arrive back to back: a short spin saves a sleep and the submitter's wake-up call.
    bool spin_for_work() {
        spinning_.fetch_add(1, std::memory_order_seq_cst);
        bool found = false;
        for (int spin = 0; spin < 200 && !found; ++spin) {
            if (spin < 64) {
                // Reading the queue's tail takes the line from the submitter: look only now and then.
                for (int i = 0; i < 8; ++i) cpu_relax();
            } else {
                std::this_thread::yield();  // on a busy machine, let the submitter run
            }
            found = queue_.has_work_hint() || closed_.load(std::memory_order_relaxed);
        }
        // The last spinner to find work wakes a sleeper, so a burst of tasks ramps all workers up.
        if (spinning_.fetch_sub(1, std::memory_order_seq_cst) == 1 && found && !queue_.empty() &&
            sleepers_.load(std::memory_order_seq_cst) > 0)
            wake_one();
        return found;
    }

    void sleep_until_work() {
        const std::uint32_t seen = epoch_.load(std::memory_order_seq_cst);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        if (queue_.empty() && !closed_.load(std::memory_order_seq_cst) && !surplus_.load(std::memory_order_relaxed))
            detail::futex_wait(epoch_, seen, detail::no_deadline);
        sleepers_.fetch_sub(1, std::memory_order_seq_cst);
    }

    // Wakes the waiters that help: each sleeps on the word it waits for, with its sleeper bit set.
    void wake_helpers() noexcept {
        std::lock_guard lock(mutex_);
        for (const auto& h : helping_)
            detail::notify_sleepers(*h.word, h.sleeper_bit, [](std::uint32_t w) { return w; });
    }

    void wake_one() noexcept {
        epoch_.fetch_add(1, std::memory_order_seq_cst);
        detail::futex_wake_one(epoch_);
    }
    void wake_all() noexcept {
        epoch_.fetch_add(1, std::memory_order_seq_cst);
        detail::futex_wake_all(epoch_);
    }

    void break_pool(std::string message) {
        {
            std::lock_guard lock(mutex_);
            if (!broken_.empty()) return;
            broken_ = message;
        }
        admission_.fetch_or(stopping_bit, std::memory_order_seq_cst);
        while (admission_.load(std::memory_order_seq_cst) >= submit_unit) std::this_thread::yield();
        queue_.drain([&](detail::task* t) { t->fail(std::make_exception_ptr(broken_executor(message))); });
        closed_.store(true, std::memory_order_seq_cst);
        wake_all();
        std::lock_guard lock(mutex_);
        spare_cv_.notify_all();
    }

    void join_all() {
        std::lock_guard join_lock(join_mutex_);
        for (;;) {
            std::vector<std::thread> batch;
            {
                std::lock_guard lock(mutex_);
                batch.swap(threads_);
            }
            if (batch.empty()) return;
            for (auto& t : batch) {
                if (t.get_id() == std::this_thread::get_id())
                    own_threads_.push_back(std::move(t));  // shutdown from inside a task: cannot join itself
                else
                    t.join();
            }
        }
    }

    static void finish_thread(std::thread& t) {
        if (!t.joinable()) return;
        if (t.get_id() == std::this_thread::get_id())
            t.detach();  // the last reference was dropped by this worker on its way out
        else
            t.join();
    }

    const std::size_t target_;
    const std::string prefix_;
    std::uint32_t trace_id_ = 0;
    const std::function<void()> initializer_;

    detail::task_queue queue_;
    alignas(64) std::atomic<std::uint64_t> admission_{0};  // submits in progress × 2 | stopping
    alignas(64) std::atomic<std::uint32_t> epoch_{0};      // event count the idle workers sleep on
    alignas(64) std::atomic<int> sleepers_{0};             // read by every submit: changes rarely
    std::atomic<int> helpers_{0};                          // so is this: waiters that help (helping_)
    alignas(64) std::atomic<int> spinning_{0};
    std::atomic<bool> closed_{false};   // no more submits can arrive: workers exit once it is empty
    std::atomic<bool> surplus_{false};  // more threads than target_ are free: one should park

    std::mutex mutex_;
    std::condition_variable spare_cv_;
    std::size_t total_ = 0;    // threads in the worker loop
    std::size_t blocked_ = 0;  // of which blocked in a fronta wait
    std::size_t spare_ = 0;    // of which parked stand-ins
    std::size_t waking_ = 0;   // parked stand-ins asked to come back
    std::size_t started_ = 0;
    std::string broken_;
    struct helper {
        std::atomic<std::uint32_t>* word;
        std::uint32_t sleeper_bit;
    };
    std::vector<helper> helping_;  // waiters that run queued tasks (no stand-in could start)
    std::vector<std::thread> threads_;
    std::mutex join_mutex_;
    std::vector<std::thread> own_threads_;
};

std::shared_ptr<detail::task_sink> make_pool(thread_pool_options options) {
    auto impl = std::make_shared<thread_pool_impl>(std::move(options));
    impl->start();
    return impl;
}

// A pool a program asked for: registered for traces with its settings.
std::shared_ptr<detail::task_sink> make_user_pool(thread_pool_options options) {
    const std::size_t workers =
        options.workers != 0 ? options.workers : std::max(1u, std::thread::hardware_concurrency());
    std::string settings = "{\"workers\":" + std::to_string(workers) + ",\"thread_name_prefix\":\"" +
                           detail::json_escape(options.thread_name_prefix) +
                           "\",\"initializer\":" + (options.initializer ? "true" : "false") + "}";
    auto pool = make_pool(std::move(options));
    static_cast<thread_pool_impl&>(*pool).set_trace_id(
        detail::trace_register_pool("thread_pool", workers, std::move(settings)));
    return pool;
}

// The callbacks of one completed state, as one task of a callback runner's pool.
class callback_batch final : public detail::task {
public:
    callback_batch(detail::state_base* state, detail::callback_node* first) noexcept : state_(state), first_(first) {}
    void execute() noexcept override { run(); }
    // Never dropped, even by a pool that refuses it: the callbacks hold what they must release,
    // and a continuation that never ran would leave its future pending forever.
    void cancel() noexcept override { run(); }
    void fail(std::exception_ptr) noexcept override { run(); }

    void run() noexcept {
        detail::fire_callbacks(state_, first_);
        state_->release();
        delete this;
    }

private:
    detail::state_base* state_;
    detail::callback_node* first_;
};

}  // namespace

namespace detail {

void callback_runner::defer(state_base* state, callback_node* first) noexcept {
    auto* batch = new (std::nothrow) callback_batch(state, first);
    if (batch != nullptr && !pool_) {
        try {
            pool_ = make_pool({.workers = 1, .thread_name_prefix = prefix_, .initializer = {}});
        } catch (const std::exception& e) {
            std::fprintf(stderr, "fronta: cannot start the thread for callbacks (%s); running them on the dispatcher\n",
                         e.what());
        }
    }
    if (batch == nullptr || !pool_) {
        // Out of memory or threads: late callbacks on the dispatcher beat lost ones.
        if (batch != nullptr) {
            batch->run();
        } else {
            fire_callbacks(state, first);
            state->release();
        }
        return;
    }
    try {
        pool_->enqueue(batch);
    } catch (...) {  // a stopped pool refused it, and ran it (cancel) first
    }
}

void callback_runner::stop() noexcept {
    if (!pool_) return;
    try {
        pool_->shutdown_all(true, false);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fronta: stopping the thread for callbacks failed: %s\n", e.what());
    }
}

}  // namespace detail

thread_pool::thread_pool() : thread_pool(thread_pool_options{}) {}
thread_pool::thread_pool(std::size_t workers)
    : thread_pool(with_workers<thread_pool_options>(workers, "thread_pool")) {}
thread_pool::thread_pool(thread_pool_options options) : executor_base(make_user_pool(std::move(options))) {}

thread_pool& thread_pool::operator=(thread_pool&& other) noexcept {
    take_ownership(std::move(other));
    return *this;
}

thread_pool::~thread_pool() { end_ownership(); }

}  // namespace fronta
