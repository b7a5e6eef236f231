#pragma once
/// @file future.hpp
/// @brief `fronta::future<T>`: a handle to a result that may not exist yet, with the semantics of
/// Python's `concurrent.futures.Future`.
///
/// A future is a cheap, copyable handle: copies share one state, compare equal and hash alike, so the
/// same future can sit in several containers and `wait`/`as_completed` hand back the very handles
/// you gave them.
/// @code
/// fronta::thread_pool pool(2);
/// fronta::future<double> f = pool.submit([](double x) { return x * x; }, 5.0);
/// f.add_done_callback([](const fronta::future<double>& done) { std::cout << done.get() << '\n'; });
/// double r = f.get();                      // 25, or rethrows what the task threw
/// auto g = f.then([](double v) { return v + 1; });
/// @endcode
///
/// Taking the value: `get()` on an lvalue returns `const T&` into the shared state (valid while any
/// handle exists). `std::move(f).get()` returns `T`: moved out when this is the last handle, copied
/// otherwise. `take()` always moves the value out; it is how a move-only value (`std::unique_ptr`)
/// leaves the future, and afterwards `get()` on any handle throws `invalid_state_error`.

#include <chrono>
#include <concepts>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>

#include "fronta/detail/describe.hpp"
#include "fronta/detail/shared_state.hpp"
#include "fronta/errors.hpp"

namespace fronta {

template <class T>
class future;

/// Replaces what happens to an exception thrown by a done callback or continuation. The default
/// prints it to stderr; it never reaches the future, the producer or the pool.
/// @code
/// fronta::set_callback_error_handler([](std::exception_ptr e) { log_exception(e); });
/// @endcode
void set_callback_error_handler(std::function<void(std::exception_ptr)> handler);

namespace detail {

template <class T>
struct is_future : std::false_type {};
template <class T>
struct is_future<future<T>> : std::true_type {};

template <class T>
struct coroutine_promise;

struct adopt_state_t {};

/// Whether a T can really be copied: std::is_copy_constructible, except that a standard container
/// claims it even when its elements cannot be copied (a std::vector<std::unique_ptr<int>>), and
/// copying it then fails to compile. Such values are moved out instead.
template <class T, class = void>
struct copyable_value : std::is_copy_constructible<T> {};
template <class T>
struct copyable_value<T, std::void_t<typename T::value_type, typename T::allocator_type>>
    : std::bool_constant<std::is_copy_constructible_v<T> &&
                         copyable_value<std::remove_const_t<typename T::value_type>>::value> {};
template <class T>
inline constexpr bool copyable_value_v = copyable_value<T>::value;

}  // namespace detail

template <class T>
class future {
    static_assert(!std::is_reference_v<T>,
                  "future<T&> is not supported: return a pointer or std::reference_wrapper<T> instead");
    static_assert(std::is_same_v<T, void> || std::is_destructible_v<T>, "future<T> needs a destructible T");

public:
    using value_type = T;
    using state_type = detail::state<T>;
    /// Lets a function returning `future<T>` be a coroutine: `co_await` inside, `co_return` a T.
    using promise_type = detail::coroutine_promise<T>;

    /// An empty handle: `valid()` is false and every other member throws `invalid_state_error`.
    future() noexcept = default;
    future(detail::adopt_state_t, detail::state_ref<state_type> state) noexcept : state_(std::move(state)) {}

    bool valid() const noexcept { return static_cast<bool>(state_); }
    /// True once finished or cancelled.
    bool done() const { return checked().done(); }
    /// True while a worker runs the task.
    bool running() const { return checked().current_status() == detail::status::running; }
    bool cancelled() const { return checked().current_status() == detail::status::cancelled; }
    /// Cancels a pending task. False when it is running or finished; true when already cancelled.
    bool cancel() const { return checked().cancel(); }

    /// Blocks until done; returns the value (`const T&`) or rethrows the task's exception as it was
    /// thrown. A cancelled future throws `cancelled_error`.
    decltype(auto) get() const& {
        checked().wait(detail::no_deadline);
        return ready_value();
    }
    /// As `get()`, but returns `T` and moves the value out when this is the last handle.
    T get() && {
        checked().wait(detail::no_deadline);
        return std::move(*this).ready_value_moved();
    }
    /// Waits at most `timeout`; throws `timeout_error` if the result is not ready by then.
    template <class Rep, class Period>
    decltype(auto) get(std::chrono::duration<Rep, Period> timeout) const& {
        wait_or_throw(timeout, "get");
        return ready_value();
    }
    template <class Rep, class Period>
    T get(std::chrono::duration<Rep, Period> timeout) && {
        wait_or_throw(timeout, "get");
        return std::move(*this).ready_value_moved();
    }

    /// Waits, then moves the value out of the shared state; it can be taken once.
    T take()
        requires(!std::is_void_v<T>)
    {
        checked().wait(detail::no_deadline);
        rethrow_if_failed();
        return state_->take_value();
    }

    /// Waits; the exception the task threw, or null on success. `cancelled_error` if cancelled.
    std::exception_ptr exception() const {
        checked().wait(detail::no_deadline);
        return state_->exception_after_done();
    }
    template <class Rep, class Period>
    std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
        wait_or_throw(timeout, "exception");
        return state_->exception_after_done();
    }

    /// Blocks until done, without touching the result.
    void wait() const { checked().wait(detail::no_deadline); }
    /// Blocks until done or `timeout`; true if done.
    template <class Rep, class Period>
    bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
        return checked().wait(detail::deadline_after(timeout));
    }

    /// Calls `callback(future)` once done: in the thread that completes the future, or right here if
    /// it is already done (a `process_pool` or `mpi_pool` future: on that pool's callback thread).
    /// Callbacks run in the order added; what they throw goes to the handler set by
    /// `set_callback_error_handler`, never into the future or the executor.
    template <class F>
        requires std::invocable<F&, const future&>
    void add_done_callback(F&& callback) const {
        struct holder : detail::callback_node {
            std::decay_t<F> fn;
            explicit holder(F&& f) : fn(std::forward<F>(f)) {}
        };
        auto* node = new holder(std::forward<F>(callback));
        node->fire = [](detail::callback_node* self, detail::state_base* done_state) noexcept {
            auto* h = static_cast<holder*>(self);
            if (done_state != nullptr) {
                try {
                    const future handle(detail::adopt_state_t{},
                                        detail::state_ref<state_type>::share(static_cast<state_type*>(done_state)));
                    h->fn(handle);
                } catch (...) {
                    detail::report_callback_exception(std::current_exception());
                }
            }
            delete h;
        };
        if (!checked().add_callback(node)) node->fire(node, state_.get());
    }

    /// A future of `f` applied to this one's value, run where this future's callbacks run (see
    /// `add_done_callback`). `f` may take the value (`const T&`, or `T&&` to move it out), nothing
    /// for `future<void>`, or the future itself to handle failures. With a value-taking `f`, an
    /// exception or cancellation of this future passes to the new one without calling `f`. Chains
    /// of any length complete, or die unfinished, in bounded stack.
    template <class F>
    auto then(F&& f) const;

    /// `co_await fut` suspends until done and resumes where its callbacks run (see `add_done_callback`).
    auto operator co_await() const& { return awaiter<false>{*this}; }
    auto operator co_await() && { return awaiter<true>{std::move(*this)}; }

    friend bool operator==(const future& a, const future& b) noexcept { return a.state_.get() == b.state_.get(); }

    /// The shared state, for executors and waiting functions.
    state_type* state() const noexcept { return state_.get(); }

private:
    template <bool Rvalue>
    struct awaiter : detail::callback_node {
        future fut;
        std::coroutine_handle<> continuation;
        explicit awaiter(future f) : fut(std::move(f)) { fut.checked(); }
        bool await_ready() const { return fut.done(); }
        bool await_suspend(std::coroutine_handle<> handle) {
            continuation = handle;
            fire = [](detail::callback_node* self, detail::state_base* done_state) noexcept {
                if (done_state != nullptr) static_cast<awaiter*>(self)->continuation.resume();
            };
            return fut.state_->add_callback(this);
        }
        decltype(auto) await_resume() {
            if constexpr (Rvalue)
                return std::move(fut).get();
            else
                return fut.ready_value();
        }
    };

    state_type& checked() const {
        if (!state_) throw invalid_state_error("this future is empty (default-constructed or moved from)");
        return *state_;
    }
    template <class Rep, class Period>
    void wait_or_throw(std::chrono::duration<Rep, Period> timeout, const char* what) const {
        if (!checked().wait(detail::deadline_after(timeout)))
            throw timeout_error(std::string("future::") + what + "(): no result within " + detail::describe(timeout));
    }
    void rethrow_if_failed() const {
        if (state_->has_exception()) std::rethrow_exception(state_->exception_after_done());
    }
    decltype(auto) ready_value() const {
        rethrow_if_failed();
        if constexpr (std::is_void_v<T>)
            return;
        else
            return static_cast<const T&>(state_->value_ref());
    }
    T ready_value_moved() && {
        rethrow_if_failed();
        if constexpr (std::is_void_v<T>) {
            return;
        } else if constexpr (!detail::copyable_value_v<T>) {
            return state_->take_value();
        } else {
            // Moving is safe only when no other handle can still read the value.
            if (state_->use_count() == 1) return state_->take_value();
            return state_->value_ref();
        }
    }

    detail::state_ref<state_type> state_;
};

namespace detail {

// Coroutines returning future<T> start eagerly and finish the future with co_return or a throw.
template <class T>
struct coroutine_promise_base {
    state_ref<detail::state<T>> result{new detail::state<T>()};
    future<T> get_return_object() {
        result->set_running_or_notify_cancel();
        return future<T>(adopt_state_t{}, result);
    }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void unhandled_exception() { result->set_exception(std::current_exception()); }
};

template <class T>
struct coroutine_promise : coroutine_promise_base<T> {
    template <class U = T>
        requires std::convertible_to<U&&, T>
    void return_value(U&& value) {
        this->result->set_value(std::forward<U>(value));
    }
};

template <>
struct coroutine_promise<void> : coroutine_promise_base<void> {
    void return_void() { this->result->set_value(); }
};

// How `then` calls f: with the value, by moving it out, with nothing (void), or with the future.
template <class T, class F>
constexpr int continuation_kind() {
    if constexpr (std::is_void_v<T>) {
        if constexpr (std::invocable<F&>)
            return 0;
        else if constexpr (std::invocable<F&, const future<T>&>)
            return 3;
        else
            return -1;
    } else {
        if constexpr (std::invocable<F&, const T&>)
            return 1;
        else if constexpr (std::invocable<F&, T&&>)
            return 2;
        else if constexpr (std::invocable<F&, const future<T>&>)
            return 3;
        else
            return -1;
    }
}

template <class T, class F, int Kind>
struct continuation_result;
template <class T, class F>
struct continuation_result<T, F, 0> {
    using type = std::invoke_result_t<F&>;
};
template <class T, class F>
struct continuation_result<T, F, 1> {
    using type = std::invoke_result_t<F&, const T&>;
};
template <class T, class F>
struct continuation_result<T, F, 2> {
    using type = std::invoke_result_t<F&, T&&>;
};
template <class T, class F>
struct continuation_result<T, F, 3> {
    using type = std::invoke_result_t<F&, const future<T>&>;
};

/// Runs `fn(args...)` and stores its result or exception in `target` (already claimed as running).
template <class R, class Fn, class... Args>
void fulfil(state<R>& target, Fn&& fn, Args&&... args) noexcept {
    try {
        if constexpr (std::is_void_v<R>) {
            std::invoke(std::forward<Fn>(fn), std::forward<Args>(args)...);
            target.set_value();
        } else {
            target.set_value(std::invoke(std::forward<Fn>(fn), std::forward<Args>(args)...));
        }
    } catch (...) {
        target.set_exception(std::current_exception());
    }
}

}  // namespace detail

template <class T>
template <class F>
auto future<T>::then(F&& f) const {
    using fn_type = std::decay_t<F>;
    constexpr int kind = detail::continuation_kind<T, fn_type>();
    static_assert(kind >= 0,
                  "then(f): f must be callable with the value (const T& or T&&), with nothing for "
                  "future<void>, or with the future itself");
    using R = typename detail::continuation_result<T, fn_type, kind>::type;
    static_assert(!std::is_reference_v<R>, "then(f): f must return a value, not a reference");

    struct continuation : detail::state<R>, detail::callback_node {
        fn_type fn;
        explicit continuation(F&& f) : fn(std::forward<F>(f)) {}
    };
    auto* next = new continuation(std::forward<F>(f));
    next->add_ref();  // held by the callback registration until it fires
    next->fire = [](detail::callback_node* self, detail::state_base* done_state) noexcept {
        auto* c = static_cast<continuation*>(self);
        detail::state_ref<detail::state<R>> keep(c);
        if (done_state == nullptr) {
            c->set_exception(std::make_exception_ptr(broken_promise()));
            return;
        }
        if (!c->set_running_or_notify_cancel()) return;
        auto* source = static_cast<state_type*>(done_state);
        if constexpr (kind == 3) {
            const future handle(detail::adopt_state_t{}, detail::state_ref<state_type>::share(source));
            detail::fulfil(*c, c->fn, handle);
        } else if (source->has_exception()) {
            c->set_exception(source->exception_after_done());
        } else if constexpr (kind == 0) {
            detail::fulfil(*c, c->fn);
        } else {
            try {  // reading the value throws if another handle took it
                if constexpr (kind == 1)
                    detail::fulfil(*c, c->fn, source->value_ref());
                else
                    detail::fulfil(*c, c->fn, source->take_value());
            } catch (...) {
                c->set_exception(std::current_exception());
            }
        }
    };
    future<R> result(detail::adopt_state_t{}, detail::state_ref<detail::state<R>>(next));
    if (!checked().add_callback(next)) next->fire(next, state_.get());
    return result;
}

}  // namespace fronta

template <class T>
struct std::hash<fronta::future<T>> {
    std::size_t operator()(const fronta::future<T>& f) const noexcept { return std::hash<const void*>{}(f.state()); }
};
