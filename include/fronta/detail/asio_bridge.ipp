// The bridge between fronta futures and Asio, written once for both Asios: <fronta/asio.hpp>
// includes it for standalone Asio and <fronta/boost_asio.hpp> for Boost.Asio, each after defining
//   FRONTA_ASIO_NS                the Asio namespace: asio or boost::asio
//   FRONTA_ASIO_BRIDGE            the namespace to define inside fronta: asio or boost_asio
//   FRONTA_ASIO_SYSTEM_ERROR      that Asio's system_error type
//   FRONTA_ASIO_ERROR_CODE        that Asio's error_code type
//   FRONTA_ASIO_HAS_CANCELLATION  1 where Asio has per-operation cancellation slots (1.19 and later)
// No include guard, on purpose; the including header has one. See docs/design.md, "Asio".
//
// How a wait works. `async_get(f, token)` registers a done callback on f. When f completes (on
// whatever thread completes it: a pool worker, a dispatcher's callback thread), the callback only
// posts the completion to the handler's associated executor, which runs the handler. Meanwhile an
// outstanding-work guard on that executor keeps its io_context's run() from returning, and no
// thread blocks. Each execution context has a registry of its pending waits (a service of that
// context): when the context shuts down (io_context destroyed with waits pending), the registry
// destroys their handlers, as Asio does with its own pending operations, and a future completing
// later finds nothing to post to. Posting happens under the registry's lock, so it never races
// with the context going away.

namespace fronta::FRONTA_ASIO_BRIDGE {

namespace detail {

namespace net = ::FRONTA_ASIO_NS;

template <class T>
struct wait_signature {
    using type = void(std::exception_ptr, T);
};
template <>
struct wait_signature<void> {
    using type = void(std::exception_ptr);
};

// A pending wait as its context's registry sees it: linked in the registry's list until someone
// claims it (its future completed, it was cancelled, or the context shut down).
struct pending_wait {
    pending_wait* prev = nullptr;
    pending_wait* next = nullptr;
    std::shared_ptr<pending_wait> self;  // the registry's reference, while linked

    virtual ~pending_wait() = default;
    // The context shut down before the wait completed: destroy the handler without running it.
    virtual void abandon() noexcept = 0;
};

class wait_registry {
public:
    // False when the context has already shut down (the wait is then dropped, like any operation
    // started on a context that is gone).
    bool link(std::shared_ptr<pending_wait> op) {
        const std::lock_guard lock(mutex_);
        if (closed_) return false;
        pending_wait* raw = op.get();
        raw->self = std::move(op);
        raw->next = head_;
        if (head_ != nullptr) head_->prev = raw;
        head_ = raw;
        return true;
    }

    // If `op` is still pending, unlinks it and runs `post(reference to op)` under the lock (the
    // context is alive until the lock is released). False when someone claimed it before.
    template <class Post>
    bool claim(pending_wait& op, Post&& post) {
        const std::lock_guard lock(mutex_);
        if (op.self == nullptr) return false;
        std::forward<Post>(post)(unlink(op));
        return true;
    }

    // The context's shutdown: no wait is linked or posted from now on; the pending ones are
    // abandoned outside the lock (destroying a handler may destroy other waits).
    void shutdown() noexcept {
        std::vector<std::shared_ptr<pending_wait>> pending;
        {
            const std::lock_guard lock(mutex_);
            closed_ = true;
            while (head_ != nullptr) pending.push_back(unlink(*head_));
        }
        for (auto& op : pending) op->abandon();
    }

private:
    std::shared_ptr<pending_wait> unlink(pending_wait& op) noexcept {
        if (op.prev != nullptr)
            op.prev->next = op.next;
        else
            head_ = op.next;
        if (op.next != nullptr) op.next->prev = op.prev;
        op.prev = op.next = nullptr;
        return std::move(op.self);
    }

    std::mutex mutex_;
    pending_wait* head_ = nullptr;
    bool closed_ = false;
};

// The registry as a service of an execution context, so the context's shutdown reaches it.
class wait_service final : public net::execution_context::service {
public:
    static inline net::execution_context::id id;
    explicit wait_service(net::execution_context& context) : net::execution_context::service(context) {}
    const std::shared_ptr<wait_registry>& registry() const noexcept { return registry_; }

private:
    void shutdown() override { registry_->shutdown(); }
    std::shared_ptr<wait_registry> registry_ = std::make_shared<wait_registry>();
};

template <class Executor>
std::shared_ptr<wait_registry> registry_of(const Executor& ex) {
    static_assert(net::execution::is_executor<Executor>::value,
                  "fronta::asio::async_get: the handler's associated executor must be a standard Asio "
                  "executor (io_context::executor_type, strand<...>, any_io_executor, ...)");
    if constexpr (net::can_query<Executor, net::execution::context_t>::value) {
        net::execution_context& context = net::query(ex, net::execution::context);
        return net::use_service<wait_service>(context).registry();
    } else {
        // An executor of no context (asio::use_future's runs the handler where it is posted): no
        // shutdown can come, so the wait has a registry of its own.
        return std::make_shared<wait_registry>();
    }
}

template <class T, class Handler, class Work>
class wait_op final : public pending_wait {
public:
    wait_op(Handler handler, Work work, future<T> fut, std::shared_ptr<wait_registry> registry)
        : future_(std::move(fut)),
          registry_(std::move(registry)),
          handler_(std::move(handler)),
          work_(std::move(work)) {}

    static void start(Handler handler, Work work, std::shared_ptr<wait_registry> registry, future<T> fut) {
        auto op = std::make_shared<wait_op>(std::move(handler), std::move(work), std::move(fut), registry);
#if FRONTA_ASIO_HAS_CANCELLATION
        auto slot = net::get_associated_cancellation_slot(*op->handler_);
        if (slot.is_connected()) slot.template emplace<cancel_request>(std::weak_ptr<wait_op>(op));
#endif
        if (!registry->link(op)) return;  // the context is shut down: the handler is destroyed unrun
        // The future's callback only posts; it runs on the thread that completes the future.
        op->future_.add_done_callback([op](const future<T>&) { op->complete(); });
    }

    void abandon() noexcept override {
        // Only the shutdown that unlinked this wait gets here; no other thread touches these now.
        handler_.reset();
        work_.reset();
    }

private:
#if FRONTA_ASIO_HAS_CANCELLATION
    struct cancel_request {
        std::weak_ptr<wait_op> op;
        void operator()(net::cancellation_type type) const {
            if ((type & (net::cancellation_type::terminal | net::cancellation_type::partial |
                         net::cancellation_type::total)) == net::cancellation_type::none)
                return;
            if (const auto waiting = op.lock()) {
                waiting->aborted_.store(true, std::memory_order_release);
                // A task that has not started is cancelled; its completion posts the abort. One
                // that runs (or is done) is left alone, and the wait completes with the abort now.
                waiting->future_.cancel();
                waiting->complete();
            }
        }
    };
#endif

    // Posts the handler to its executor, once (the first of completion and cancellation wins).
    void complete() {
        registry_->claim(*this, [this](std::shared_ptr<pending_wait> self) {
            Work work = std::move(*work_);
            work_.reset();
            Handler handler = std::move(*handler_);
            handler_.reset();
            net::post(std::move(work),
                      [op = std::static_pointer_cast<wait_op>(std::move(self)), handler = std::move(handler)]() mutable {
                          op->deliver(handler);
                      });
        });
    }

    void deliver(Handler& handler) {
#if FRONTA_ASIO_HAS_CANCELLATION
        net::get_associated_cancellation_slot(handler).clear();
#endif
        std::exception_ptr error;
        if (aborted_.load(std::memory_order_acquire))
            error = std::make_exception_ptr(FRONTA_ASIO_SYSTEM_ERROR(net::error::operation_aborted));
        else
            error = future_.exception();  // done: does not wait
        if constexpr (std::is_void_v<T>) {
            std::move(handler)(error);
        } else {
            static_assert(std::is_default_constructible_v<T>,
                          "fronta::asio::async_get(future<T>): the completion void(std::exception_ptr, T) "
                          "passes a T() with an exception, as asio::co_spawn does, so T must be default "
                          "constructible (wrap it: f.then([](T v) { return std::optional<T>(std::move(v)); }))");
            if (error) {
                std::move(handler)(error, T());
                return;
            }
            T value{};
            try {
                // Moves the value out when no other handle can read it (or T is move-only),
                // copies it otherwise; done, so it does not wait.
                value = std::move(future_).get();
            } catch (...) {
                std::move(handler)(std::current_exception(), T());
                return;
            }
            std::move(handler)(std::exception_ptr(), std::move(value));
        }
    }

    future<T> future_;
    std::shared_ptr<wait_registry> registry_;
    std::optional<Handler> handler_;
    std::optional<Work> work_;
    std::atomic<bool> aborted_{false};
};

// The initiation of a wait. `Executor` is where the handler runs when it has no associated
// executor of its own (also the executor `use_promise` and friends ask the initiation for).
template <class Executor>
struct initiate_wait {
    using executor_type = Executor;
    Executor executor;
    executor_type get_executor() const noexcept { return executor; }

    template <class Handler, class T>
    void operator()(Handler&& handler, future<T> fut) const {
        const auto ex = net::get_associated_executor(handler, executor);
        auto work = net::prefer(ex, net::execution::outstanding_work.tracked);
        wait_op<T, std::decay_t<Handler>, decltype(work)>::start(std::forward<Handler>(handler), std::move(work),
                                                                 registry_of(ex), std::move(fut));
    }
};

// A promise as an Asio completion handler: `op(..., fronta::asio::use_future)` returns the
// fronta::future of the operation's result. An error_code or exception_ptr first argument becomes
// the future's exception; the other arguments its value (none: void, one: it, more: a tuple).
template <class... Args>
struct future_result;
template <>
struct future_result<> {
    using type = void;
};
template <class A>
struct future_result<A> {
    using type = std::decay_t<A>;
};
template <class A, class B, class... More>
struct future_result<A, B, More...> {
    using type = std::tuple<std::decay_t<A>, std::decay_t<B>, std::decay_t<More>...>;
};

template <class First>
constexpr bool is_error_argument = std::is_same_v<std::decay_t<First>, FRONTA_ASIO_ERROR_CODE> ||
                                   std::is_same_v<std::decay_t<First>, std::exception_ptr>;

template <class... Args>
struct result_of_signature : future_result<Args...> {
    static constexpr bool has_error = false;
};
template <class First, class... Rest>
    requires is_error_argument<First>
struct result_of_signature<First, Rest...> : future_result<Rest...> {
    static constexpr bool has_error = true;
};

template <class Signature>
class promise_handler;
template <class R, class... Args>
class promise_handler<R(Args...)> {
public:
    using value_type = typename result_of_signature<Args...>::type;
    explicit promise_handler(fronta::promise<value_type> p) : promise_(std::move(p)) {}

    void operator()(Args... args) { fulfil(std::move(args)...); }

private:
    template <class First, class... Rest>
    void fulfil(First&& first, Rest&&... rest) {
        if constexpr (is_error_argument<First>) {
            if (first) {
                if constexpr (std::is_same_v<std::decay_t<First>, std::exception_ptr>)
                    promise_.set_exception(first);
                else
                    promise_.set_exception(std::make_exception_ptr(FRONTA_ASIO_SYSTEM_ERROR(first)));
                return;
            }
            set(std::forward<Rest>(rest)...);
        } else {
            set(std::forward<First>(first), std::forward<Rest>(rest)...);
        }
    }
    void fulfil() { promise_.set_value(); }
    template <class... Values>
    void set(Values&&... values) {
        if constexpr (sizeof...(Values) <= 1)
            promise_.set_value(std::forward<Values>(values)...);
        else
            promise_.set_value(value_type(std::forward<Values>(values)...));
    }

    fronta::promise<value_type> promise_;
};

template <class Executor>
struct initiate_run {
    Executor* executor;

    template <class Handler, class F, class... Args>
    void operator()(Handler&& handler, F&& f, Args&&... args) const {
        using result = typename decltype(executor->submit(std::forward<F>(f), std::forward<Args>(args)...))::value_type;
        future<result> fut;
        try {
            fut = executor->submit(std::forward<F>(f), std::forward<Args>(args)...);
        } catch (...) {  // a shut-down executor, a task that cannot be shipped: through the handler
            fronta::promise<result> failed;
            failed.set_exception(std::current_exception());
            fut = failed.get_future();
        }
        initiate_wait<net::system_executor>{net::system_executor()}(std::forward<Handler>(handler), std::move(fut));
    }
};

template <class Executor, class F, class... Args>
using run_result_t =
    typename decltype(std::declval<Executor&>().submit(std::declval<F>(), std::declval<Args>()...))::value_type;

}  // namespace detail

/// As `async_get(fut, token)` (below), with `executor` where the handler runs when it has no associated
/// executor of its own (as `asio::post(executor, token)`): a plain callback then runs on it, and
/// `use_promise` makes a promise of it.
template <class Executor, class T, class CompletionToken>
    requires(detail::net::execution::is_executor<Executor>::value)
auto async_get(const Executor& executor, future<T> fut, CompletionToken&& token) {
    if (!fut.valid()) throw invalid_state_error("async_get: this future is empty (default-constructed or moved from)");
    return detail::net::async_initiate<CompletionToken, typename detail::wait_signature<T>::type>(
        detail::initiate_wait<Executor>{executor}, token, std::move(fut));
}

/// Waits for `fut` as an Asio asynchronous operation. Completes with `void(std::exception_ptr, T)`
/// (`void(std::exception_ptr)` for `future<void>`): the value, or the future's exception (its own
/// type: `co_await` with `use_awaitable` rethrows it). Works with every completion token:
/// `asio::use_awaitable`, a callback, `asio::use_future`, `asio::experimental::deferred`,
/// `asio::experimental::use_promise`.
///
/// The handler runs on its associated executor (the awaiting coroutine's, or the one bound with
/// `asio::bind_executor`; a plain callback with none runs on Asio's system executor), never on the
/// thread that completed the future, and never inside `async_get`. Nothing blocks while it waits;
/// the executor's context counts it as outstanding work. The value is moved out when no other
/// handle to the future can read it, or when T is move-only; copied otherwise.
///
/// Cancellation (Asio 1.19+): when the handler's cancellation slot is emitted (a
/// `cancellation_signal`, `awaitable_operators`' `||`, ...), the wait completes with a
/// `system_error` of `error::operation_aborted`, and the future is cancelled if its task has not
/// started (`future::cancel`); a running task runs on, its result stays in the future.
///
/// Destroying the context with waits pending destroys their handlers without running them, as Asio
/// does with its own pending operations; a future completing afterwards posts nothing.
template <class T, class CompletionToken>
auto async_get(future<T> fut, CompletionToken&& token) {
    return async_get(detail::net::system_executor(), std::move(fut), std::forward<CompletionToken>(token));
}


/// `loop.run_in_executor(executor, f, *args)`: submits `f(args...)` to a fronta executor and
/// completes through `token` (the last argument) as `async_get` does. The task is submitted when
/// the operation starts: at once for a callback, when awaited for `use_awaitable` and `deferred`.
/// `executor` must outlive that moment. A submission that throws (a shut-down executor, a task a
/// remote pool cannot ship) completes the operation with that exception.
template <class Executor, class F, class... ArgsThenToken>
    requires(sizeof...(ArgsThenToken) >= 1)
auto run_in_executor(Executor& executor, F&& f, ArgsThenToken&&... args_then_token) {
    auto all = std::forward_as_tuple(std::forward<ArgsThenToken>(args_then_token)...);
    constexpr std::size_t count = sizeof...(ArgsThenToken) - 1;
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
        using token_type = std::tuple_element_t<count, std::tuple<ArgsThenToken...>>;
        using result = detail::run_result_t<Executor, F, std::tuple_element_t<I, std::tuple<ArgsThenToken...>>...>;
        return detail::net::async_initiate<token_type, typename detail::wait_signature<result>::type>(
            detail::initiate_run<Executor>{&executor}, std::get<count>(all), std::forward<F>(f),
            std::get<I>(std::move(all))...);
    }(std::make_index_sequence<count>{});
}

/// The completion token of the other direction: `timer.async_wait(fronta::asio::use_future)`
/// returns a `fronta::future` of the operation's result, to `co_await` in a fronta coroutine, to
/// pass to `wait`/`as_completed`, or to chain with `then`. An `error_code` or `exception_ptr` first
/// argument becomes the future's exception (`system_error` for an error code); the remaining
/// arguments its value: none gives `future<void>`, one its value, more a `std::tuple`. The future
/// completes on the thread that runs the operation's handler (an io_context thread); an operation
/// destroyed unfinished (its context destroyed) leaves `broken_promise` in it.
struct use_future_t {};
inline constexpr use_future_t use_future{};

}  // namespace fronta::FRONTA_ASIO_BRIDGE

namespace FRONTA_ASIO_NS {
template <class R, class... Args>
class async_result<fronta::FRONTA_ASIO_BRIDGE::use_future_t, R(Args...)> {
    using handler = fronta::FRONTA_ASIO_BRIDGE::detail::promise_handler<R(Args...)>;

public:
    using return_type = fronta::future<typename handler::value_type>;

    template <class Initiation, class... InitArgs>
    static return_type initiate(Initiation&& initiation, fronta::FRONTA_ASIO_BRIDGE::use_future_t, InitArgs&&... args) {
        fronta::promise<typename handler::value_type> promise;
        return_type result = promise.get_future();
        std::forward<Initiation>(initiation)(handler(std::move(promise)), std::forward<InitArgs>(args)...);
        return result;
    }
};
}  // namespace FRONTA_ASIO_NS
