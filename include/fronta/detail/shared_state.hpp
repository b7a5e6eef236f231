#pragma once
// The state a future and its producer share: status word, result, and the callbacks to run once it
// is done. Reference counted by hand so one allocation can hold the state and the task together.

#include <atomic>
#include <cstdint>
#include <exception>
#include <new>
#include <thread>
#include <type_traits>
#include <utility>

#include "fronta/detail/park.hpp"
#include "fronta/errors.hpp"

namespace fronta::detail {

enum class status : std::uint32_t { pending = 0, running = 1, cancelled = 2, finished = 3 };

class state_base;

// Something to run once a state is done: a user's done callback, a waiter of `wait` or
// `as_completed`, a continuation. Doubly linked so a waiter that gives up can unlink itself.
struct callback_node {
    union {
        callback_node* prev = nullptr;  // while in its state's list
        state_base* fired_with;         // once taken out of it and waiting in a trampoline
    };
    callback_node* next = nullptr;
    // Called exactly once: with the completed state, or with nullptr if the state is destroyed
    // before it completed (the node must then only release its own resources).
    void (*fire)(callback_node* self, state_base* state) noexcept = nullptr;
    // True for nodes that only wake a thread and run no user code (the waiters of `wait`,
    // `as_completed`, `map`): they may fire on any thread, even one that must never block.
    bool only_wakes = false;
};

/// Called with the exception a done callback threw; see `fronta::set_callback_error_handler`.
void report_callback_exception(std::exception_ptr error) noexcept;

/// Fires `first` and the nodes linked after it with `state` (null: the state died unfinished), in
/// order, on this thread. Bounded stack: completing a continuation inside a callback fires its own
/// callbacks through here again; past a small nesting depth those are queued on a per-thread
/// trampoline and fired, still depth first, when the callback that completed it returns. So a
/// `then` chain of any length completes, and is destroyed, in constant stack.
void fire_callbacks(state_base* state, callback_node* first) noexcept;

/// Where a thread that must never run user code sends the callbacks of the states it completes.
/// A remote pool's dispatcher installs one (`current_callback_deferral`) for its whole life: the
/// waiters among the callbacks still fire at once, the others go to `defer` in the order added,
/// with one reference to `state` that `defer`'s receiver gives back after firing them.
struct callback_deferral {
    virtual void defer(state_base* state, callback_node* first) noexcept = 0;

protected:
    ~callback_deferral() = default;
};
callback_deferral*& current_callback_deferral() noexcept;

/// What completion does with the detached callback list: fires it here, or, on a thread with a
/// deferral installed, fires the waiters here and defers the rest.
void deliver_callbacks(state_base* state, callback_node* first) noexcept;

class state_base {
public:
    state_base() = default;
    state_base(const state_base&) = delete;
    state_base& operator=(const state_base&) = delete;

    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy();
    }
    std::uint32_t use_count() const noexcept { return refs_.load(std::memory_order_acquire); }

    status current_status() const noexcept {
        return static_cast<status>(word_.load(std::memory_order_acquire) & status_mask);
    }
    bool done() const noexcept { return current_status() >= status::cancelled; }
    bool has_exception() const noexcept {
        return current_status() == status::cancelled || (current_status() == status::finished && error_ != nullptr);
    }

    /// pending -> cancelled. True also when already cancelled; false when running or finished.
    bool cancel() noexcept {
        std::uint32_t word = word_.load(std::memory_order_acquire);
        for (;;) {
            const auto s = static_cast<status>(word & status_mask);
            if (s == status::cancelled) return true;
            if (s != status::pending || (word & claimed_bit)) return false;
            if (word_.compare_exchange_weak(word, static_cast<std::uint32_t>(status::cancelled),
                                            std::memory_order_acq_rel, std::memory_order_acquire)) {
                if (word & sleeper_bit) futex_wake_all(word_);
                run_callbacks();
                return true;
            }
        }
    }

    /// pending -> running: true. Cancelled: false (Python's semantics). Otherwise an error.
    bool set_running_or_notify_cancel() {
        std::uint32_t word = word_.load(std::memory_order_acquire);
        for (;;) {
            const auto s = static_cast<status>(word & status_mask);
            if (s == status::cancelled) return false;
            if (s != status::pending || (word & claimed_bit))
                throw invalid_state_error(
                    "set_running_or_notify_cancel() called on a future that is already running or done");
            if (word_.compare_exchange_weak(word, (word & ~status_mask) | static_cast<std::uint32_t>(status::running),
                                            std::memory_order_acq_rel, std::memory_order_acquire))
                return true;
        }
    }

    /// Blocks until done or the deadline; true if done.
    bool wait(deadline until) const {
        auto& word = const_cast<std::atomic<std::uint32_t>&>(word_);
        const auto value = park_until(
            word, sleeper_bit,
            [](std::uint32_t w) { return (w & status_mask) >= static_cast<std::uint32_t>(status::cancelled); }, until);
        return (value & status_mask) >= static_cast<std::uint32_t>(status::cancelled);
    }

    /// Appends `node`; false (and nothing stored) if the state is already done.
    bool add_callback(callback_node* node) noexcept {
        lock_callbacks();
        if (callbacks_closed_) {
            unlock_callbacks();
            return false;
        }
        node->prev = tail_;
        node->next = nullptr;
        (tail_ ? tail_->next : head_) = node;
        tail_ = node;
        unlock_callbacks();
        return true;
    }

    /// Unlinks `node` unless completion already took it (then it fires or has fired).
    bool remove_callback(callback_node* node) noexcept {
        lock_callbacks();
        if (callbacks_closed_) {
            unlock_callbacks();
            return false;
        }
        (node->prev ? node->prev->next : head_) = node->next;
        (node->next ? node->next->prev : tail_) = node->prev;
        node->prev = node->next = nullptr;
        unlock_callbacks();
        return true;
    }

    /// Notes, from a callback of this state, that the one handle left belongs to a single reader
    /// (a task that takes this future as an argument): that reader may move the value out. The
    /// caller knows no other handle can appear: it is the last callback, and every other
    /// reference is the producer's or the firing's own, which never read the value.
    void mark_sole_reader() noexcept { sole_reader_.store(true, std::memory_order_release); }
    bool sole_reader() const noexcept { return sole_reader_.load(std::memory_order_acquire); }

    /// The stored exception; for a cancelled state a fresh `cancelled_error`. Only once done.
    std::exception_ptr exception_after_done() const {
        if (current_status() == status::cancelled) return std::make_exception_ptr(cancelled_error());
        return error_;
    }

    /// Claims the right to store the result; throws if a result was stored or it was cancelled.
    void claim_for_result() {
        std::uint32_t word = word_.load(std::memory_order_acquire);
        for (;;) {
            const auto s = static_cast<status>(word & status_mask);
            if (s >= status::cancelled || (word & claimed_bit))
                throw invalid_state_error(s == status::cancelled ? "cannot set the result of a cancelled future"
                                                                 : "the future's result was already set");
            if (word_.compare_exchange_weak(word, word | claimed_bit, std::memory_order_acq_rel,
                                            std::memory_order_acquire))
                return;
        }
    }

    /// After a successful claim: stores the exception and completes.
    void finish_with_exception(std::exception_ptr error) noexcept {
        error_ = std::move(error);
        finish();
    }

    /// After a successful claim and once the value is stored: publishes it and runs the callbacks.
    void finish() noexcept {
        const auto old = word_.exchange(static_cast<std::uint32_t>(status::finished), std::memory_order_acq_rel);
        if (old & sleeper_bit) futex_wake_all(word_);
        run_callbacks();
    }

protected:
    virtual ~state_base() {
        // Never completed, yet someone registered a callback (e.g. a dropped `then` chain). The
        // nodes release what they hold, which may end further states: through the trampoline.
        if (head_ != nullptr) fire_callbacks(nullptr, head_);
    }
    virtual void destroy() noexcept { delete this; }

    static constexpr std::uint32_t status_mask = 3;
    static constexpr std::uint32_t sleeper_bit = 4;
    static constexpr std::uint32_t claimed_bit = 8;

    std::atomic<std::uint32_t> word_{static_cast<std::uint32_t>(status::pending)};

private:
    void lock_callbacks() noexcept {
        for (int spins = 0; callback_lock_.exchange(true, std::memory_order_acquire); ++spins)
            if (spins > 64) std::this_thread::yield();
    }
    void unlock_callbacks() noexcept { callback_lock_.store(false, std::memory_order_release); }

    void run_callbacks() noexcept {
        lock_callbacks();
        callbacks_closed_ = true;
        callback_node* node = head_;
        head_ = tail_ = nullptr;
        unlock_callbacks();
        if (node != nullptr) deliver_callbacks(this, node);
    }

    std::atomic<std::uint32_t> refs_{1};
    std::atomic<bool> callback_lock_{false};
    bool callbacks_closed_ = false;
    std::atomic<bool> sole_reader_{false};
    callback_node* head_ = nullptr;
    callback_node* tail_ = nullptr;
    std::exception_ptr error_;
};

/// The state of a `future<T>`: adds the value.
template <class T>
class state : public state_base {
public:
    state() noexcept {}  // the value is constructed by set_value
    ~state() override {
        if (current_status() == status::finished && !has_exception()) value_.~T();
    }

    template <class... Args>
    void set_value(Args&&... args) {
        claim_for_result();
        try {
            ::new (static_cast<void*>(std::addressof(value_))) T(std::forward<Args>(args)...);
        } catch (...) {
            // A throwing copy or move of the result fails the future, not the producer.
            finish_with_exception(std::current_exception());
            return;
        }
        finish();
    }

    void set_exception(std::exception_ptr error) {
        if (!error) throw invalid_state_error("set_exception() needs a non-null exception_ptr");
        claim_for_result();
        finish_with_exception(std::move(error));
    }

    /// Only once done without an exception.
    static constexpr const char* taken_message =
        "the future's value was already moved out, by take() or by get() on an rvalue (std::move(f).get()); "
        "a value leaves its future only once: read it with get() on an lvalue instead";
    const T& value_ref() const {
        if (taken_.load(std::memory_order_acquire)) throw invalid_state_error(taken_message);
        return value_;
    }
    T take_value() {
        if (taken_.exchange(true, std::memory_order_acq_rel)) throw invalid_state_error(taken_message);
        return std::move(value_);
    }

private:
    union {
        T value_;
    };
    std::atomic<bool> taken_{false};
};

template <>
class state<void> : public state_base {
public:
    void set_value() {
        claim_for_result();
        finish();
    }
    void set_exception(std::exception_ptr error) {
        if (!error) throw invalid_state_error("set_exception() needs a non-null exception_ptr");
        claim_for_result();
        finish_with_exception(std::move(error));
    }
};

/// An owning pointer to a state: one reference.
template <class State>
class state_ref {
public:
    state_ref() = default;
    explicit state_ref(State* adopted) noexcept : ptr_(adopted) {}
    static state_ref share(State* existing) noexcept {
        existing->add_ref();
        return state_ref(existing);
    }
    state_ref(const state_ref& other) noexcept : ptr_(other.ptr_) {
        if (ptr_) ptr_->add_ref();
    }
    state_ref(state_ref&& other) noexcept : ptr_(std::exchange(other.ptr_, nullptr)) {}
    state_ref& operator=(state_ref other) noexcept {
        std::swap(ptr_, other.ptr_);
        return *this;
    }
    ~state_ref() {
        if (ptr_) ptr_->release();
    }
    State* get() const noexcept { return ptr_; }
    State* operator->() const noexcept { return ptr_; }
    State& operator*() const noexcept { return *ptr_; }
    State* release() noexcept { return std::exchange(ptr_, nullptr); }
    explicit operator bool() const noexcept { return ptr_ != nullptr; }

private:
    State* ptr_ = nullptr;
};

}  // namespace fronta::detail
