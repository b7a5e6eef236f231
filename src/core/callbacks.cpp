// How callbacks fire: a per-thread trampoline that bounds the stack of completion chains, the hook
// that keeps user callbacks off threads that must never block, and where exceptions thrown by
// done callbacks go (a user-settable handler, stderr by default).
#include <cstdio>
#include <exception>
#include <functional>
#include <mutex>
#include <typeinfo>

#include "fronta/future.hpp"

namespace fronta {
namespace {
std::mutex handler_mutex;
std::function<void(std::exception_ptr)>& handler() {
    static std::function<void(std::exception_ptr)> h;
    return h;
}
}  // namespace

void set_callback_error_handler(std::function<void(std::exception_ptr)> new_handler) {
    std::lock_guard lock(handler_mutex);
    handler() = std::move(new_handler);
}

namespace detail {
namespace {

// Callback lists fire recursively up to this depth (a callback that completes a promise sees its
// continuations run inside set_value, as usual); deeper lists wait on the trampoline until the
// callback returns, or until it blocks in a fronta wait (run_pending_callbacks). Each level costs
// a few hundred bytes of stack plus the user's frames.
constexpr int max_callback_depth = 16;

struct trampoline {
    int depth = 0;
    callback_node* pending = nullptr;  // linked by next, each with its state in fired_with
    // What the callback running now may fire itself when it waits: only what was pushed since it
    // started, which lies in front of `floor`. What lies behind comes after it in depth-first order.
    callback_node* floor = nullptr;
};
thread_local trampoline this_thread_trampoline;

// Fires one node with `floor` moved to what is pending now, so its own waits fire only its own.
void fire_one(trampoline& t, callback_node* node, state_base* state) noexcept {
    callback_node* const outer_floor = t.floor;
    t.floor = t.pending;
    node->fire(node, state);
    t.floor = outer_floor;
}

void drain_until(trampoline& t, callback_node* floor) noexcept {
    while (t.pending != floor) {
        callback_node* node = t.pending;
        t.pending = node->next;
        state_base* state = node->fired_with;
        fire_one(t, node, state);  // what it pushes goes first, as recursion would run it
        if (state != nullptr) state->release();
    }
}

}  // namespace

void fire_callbacks(state_base* state, callback_node* first) noexcept {
    trampoline& t = this_thread_trampoline;
    if (t.depth >= max_callback_depth) {
        // Ahead of what is pending: the frame at the limit fires these before anything queued
        // earlier, so the order is the depth-first order recursion would give.
        callback_node* last = first;
        for (callback_node* node = first; node != nullptr; node = node->next) {
            node->fired_with = state;
            if (state != nullptr) state->add_ref();  // it must outlive whoever completed it
            last = node;
        }
        last->next = t.pending;
        t.pending = first;
        return;
    }
    ++t.depth;
    for (callback_node* node = first; node != nullptr;) {
        callback_node* next = node->next;  // firing may free the node
        callback_node* const mark = t.pending;
        fire_one(t, node, state);
        if (t.pending != mark) drain_until(t, mark);
        node = next;
    }
    --t.depth;
}

bool inside_callbacks() noexcept { return this_thread_trampoline.depth > 0; }

bool run_pending_callbacks() noexcept {
    trampoline& t = this_thread_trampoline;
    if (t.pending == t.floor) return false;
    drain_until(t, t.floor);
    return true;
}

callback_deferral*& current_callback_deferral() noexcept {
    thread_local callback_deferral* deferral = nullptr;
    return deferral;
}

void deliver_callbacks(state_base* state, callback_node* first) noexcept {
    callback_deferral* deferral = current_callback_deferral();
    if (deferral == nullptr) {
        fire_callbacks(state, first);
        return;
    }
    callback_node* user_first = nullptr;
    callback_node* user_last = nullptr;
    for (callback_node* node = first; node != nullptr;) {
        callback_node* next = node->next;
        if (node->only_wakes) {
            node->fire(node, state);
        } else {
            node->next = nullptr;
            (user_last ? user_last->next : user_first) = node;
            user_last = node;
        }
        node = next;
    }
    if (user_first == nullptr) return;
    state->add_ref();
    deferral->defer(state, user_first);
}

void report_callback_exception(std::exception_ptr error) noexcept {
    std::function<void(std::exception_ptr)> h;
    {
        std::lock_guard lock(handler_mutex);
        h = handler();
    }
    try {
        if (h) {
            h(error);
            return;
        }
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fronta: a done callback threw %s: %s\n", typeid(e).name(), e.what());
    } catch (...) {
        std::fprintf(stderr, "fronta: a done callback threw a non-std exception (or the handler did)\n");
    }
}
}  // namespace detail
}  // namespace fronta
