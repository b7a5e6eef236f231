// thread_pool: one FIFO queue under one mutex, workers that spin briefly before they sleep, and
// stand-in threads for workers blocked in fronta waits (no deadlock on the pool's own futures).
#include "fronta/thread_pool.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <mutex>
#include <thread>
#include <vector>

#include "fronta/detail/park.hpp"

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

// Stand-ins for blocked workers; beyond this many, a task that blocks waits for a worker.
constexpr std::size_t max_stand_ins = 256;

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

    void enqueue(detail::task* t) override {
        std::unique_lock lock(mutex_);
        if (!broken_.empty()) {
            std::string message = broken_;
            lock.unlock();
            t->fail(std::make_exception_ptr(broken_executor(message)));
            throw broken_executor(message);
        }
        if (stopping_) {
            lock.unlock();
            t->cancel();
            throw shutdown_error("thread_pool: submit after shutdown(); create a new pool or submit before shutting down");
        }
        t->next = nullptr;
        (tail_ ? tail_->next : head_) = t;
        tail_ = t;
        queued_.fetch_add(1, std::memory_order_release);
        const bool wake = idle_ > 0;
        lock.unlock();
        if (wake) work_cv_.notify_one();
    }

    void shutdown(bool wait, bool cancel_futures) override {
        detail::task* cancelled = nullptr;
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            if (cancel_futures) cancelled = take_queue_locked();
        }
        work_cv_.notify_all();
        spare_cv_.notify_all();
        run_list(cancelled, [](detail::task* t) { t->cancel(); });
        if (wait) join_all();
    }

    std::size_t concurrency() const noexcept override { return target_; }

    void before_block() noexcept override {
        std::lock_guard lock(mutex_);
        ++blocked_;
        // Keep `target_` threads able to take work while this one waits.
        if (total_ - blocked_ - spare_ + waking_ < target_) {
            if (spare_ > waking_) {
                ++waking_;
                spare_cv_.notify_one();
            } else if (total_ < target_ + max_stand_ins) {
                try {
                    start_thread_locked();
                } catch (const std::exception& e) {
                    std::fprintf(stderr, "fronta: thread_pool could not start a stand-in worker: %s\n", e.what());
                }
            }
        }
    }
    void after_block() noexcept override {
        std::lock_guard lock(mutex_);
        --blocked_;
    }

private:
    void start_thread_locked() {
        const std::size_t index = started_++;
        threads_.emplace_back([self = shared_from_this(), index] { self->worker_main(index); });
        ++total_;
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
        std::unique_lock lock(mutex_);
        for (;;) {
            if (total_ - blocked_ - spare_ > target_ && !stopping_) {  // surplus stand-in: park
                ++spare_;
                spare_cv_.wait(lock, [this] { return stopping_ || waking_ > 0; });
                if (waking_ > 0) --waking_;
                --spare_;
                continue;
            }
            if (head_ != nullptr) {
                detail::task* t = head_;
                head_ = t->next;
                if (head_ == nullptr) tail_ = nullptr;
                queued_.fetch_sub(1, std::memory_order_relaxed);
                lock.unlock();
                t->execute();
                lock.lock();
                continue;
            }
            if (stopping_) break;
            // Tasks often arrive back to back: a short spin saves a sleep and a wake-up call.
            lock.unlock();
            for (int spin = 0; spin < 200 && queued_.load(std::memory_order_acquire) == 0; ++spin) {
                if (spin < 64) {
#if defined(__x86_64__) || defined(__i386__)
                    __builtin_ia32_pause();
#endif
                } else {
                    std::this_thread::yield();
                }
            }
            lock.lock();
            if (head_ != nullptr || stopping_) continue;
            ++idle_;
            work_cv_.wait(lock);
            --idle_;
        }
        --total_;
        detail::current_blocking_observer() = nullptr;
    }

    void break_pool(std::string message) {
        detail::task* failed = nullptr;
        {
            std::lock_guard lock(mutex_);
            if (!broken_.empty()) return;
            broken_ = std::move(message);
            stopping_ = true;
            failed = take_queue_locked();
        }
        work_cv_.notify_all();
        spare_cv_.notify_all();
        run_list(failed, [this](detail::task* t) { t->fail(std::make_exception_ptr(broken_executor(broken_))); });
    }

    detail::task* take_queue_locked() {
        detail::task* list = head_;
        head_ = tail_ = nullptr;
        queued_.store(0, std::memory_order_relaxed);
        return list;
    }

    template <class F>
    static void run_list(detail::task* list, F&& action) {
        while (list != nullptr) {
            detail::task* next = list->next;
            action(list);
            list = next;
        }
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
                if (t.get_id() == std::this_thread::get_id()) {
                    own_threads_.push_back(std::move(t));  // shutdown from inside a task: cannot join itself
                } else {
                    t.join();
                }
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
    const std::function<void()> initializer_;

    std::mutex mutex_;
    std::condition_variable work_cv_;
    std::condition_variable spare_cv_;
    detail::task* head_ = nullptr;
    detail::task* tail_ = nullptr;
    std::atomic<std::size_t> queued_{0};  // mirrors the queue length for lock-free spinning
    std::size_t total_ = 0;    // threads in the worker loop
    std::size_t blocked_ = 0;  // of which blocked in a fronta wait
    std::size_t spare_ = 0;    // of which parked stand-ins
    std::size_t waking_ = 0;   // parked stand-ins asked to come back
    std::size_t idle_ = 0;     // of which sleeping for lack of work
    std::size_t started_ = 0;
    bool stopping_ = false;
    std::string broken_;
    std::vector<std::thread> threads_;
    std::mutex join_mutex_;
    std::vector<std::thread> own_threads_;
};

std::shared_ptr<detail::task_sink> make_pool(thread_pool_options options) {
    auto impl = std::make_shared<thread_pool_impl>(std::move(options));
    impl->start();
    return impl;
}

}  // namespace

thread_pool::thread_pool() : thread_pool(thread_pool_options{}) {}
thread_pool::thread_pool(std::size_t workers) : thread_pool([workers] {
        if (workers == 0)
            throw std::invalid_argument(
                "thread_pool(0): a pool needs at least one worker; use thread_pool() for one per hardware thread");
        thread_pool_options options;
        options.workers = workers;
        return options;
    }()) {}
thread_pool::thread_pool(thread_pool_options options) : executor_base(make_pool(std::move(options))) {}

thread_pool& thread_pool::operator=(thread_pool&& other) noexcept {
    if (this != &other) {
        if (sink_) sink_->shutdown(true, false);
        sink_ = std::move(other.sink_);
    }
    return *this;
}

thread_pool::~thread_pool() {
    if (sink_) sink_->shutdown(true, false);
}

}  // namespace fronta
