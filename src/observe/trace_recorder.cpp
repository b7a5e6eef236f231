// The trace recorder: the hooks executors call (fronta/detail/trace_hooks.hpp). A finished task
// becomes a 64-byte record in its thread's own buffer; pools, workers, threads and names are
// registered here once each. The writer (trace_writer.cpp) drains the buffers; what both share is
// in trace_record.hpp. Formats in docs/design.md, "Traces".
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include "fronta/detail/trace_hooks.hpp"
#include "fronta/errors.hpp"
#include "fronta/remote/registry.hpp"
#include "observe/trace_record.hpp"

namespace fronta::detail {
std::atomic<bool> tracing_active{false};
}

namespace fronta::trace_impl {

std::string own_host() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0) return "localhost";
    return name;
}

collector& the_collector() {
    static collector* c = new collector;  // never destroyed: threads may record during exit
    return *c;
}

}  // namespace fronta::trace_impl

namespace fronta {
namespace {

using namespace trace_impl;

std::uint32_t pool_flags(std::uint32_t pool, trace_outcome outcome, trace_name::kind_t kind,
                         trace_name::suffix_t suffix, bool remote) noexcept {
    return (pool & 0xffffff) | static_cast<std::uint32_t>(outcome) << 24 | static_cast<std::uint32_t>(kind) << 27 |
           static_cast<std::uint32_t>(suffix) << 29 | (remote ? 1u << 31 : 0u);
}
std::uint32_t saturate(std::uint64_t n) noexcept {
    return n > 0xffffffffu ? 0xffffffffu : static_cast<std::uint32_t>(n);
}

// Set (a trivial thread_local, so it outlives the holder) once this thread's buffer is given up:
// a task that ends in a later thread_local destructor goes unrecorded rather than into a buffer
// the writer may free at any moment.
thread_local bool buffer_given_up = false;

struct buffer_holder {
    thread_buffer* buffer = nullptr;
    ~buffer_holder() {
        buffer_given_up = true;
        if (buffer != nullptr) buffer->orphaned.store(true, std::memory_order_release);
        buffer = nullptr;
    }
};
thread_local buffer_holder this_thread_buffer;
thread_local std::uint32_t this_thread_id = 0;

thread_buffer* own_buffer() noexcept {
    if (buffer_given_up) return nullptr;
    thread_buffer* b = this_thread_buffer.buffer;
    if (b != nullptr) return b;
    auto* first = new (std::nothrow) block;
    if (first == nullptr) return nullptr;
    b = new (std::nothrow) thread_buffer{first, first};
    if (b == nullptr) {
        delete first;
        return nullptr;
    }
    try {
        collector& c = the_collector();
        std::lock_guard lock(c.mutex);
        c.buffers.push_back(b);
    } catch (...) {
        delete b;
        delete first;
        return nullptr;
    }
    this_thread_buffer.buffer = b;
    return b;
}

/// Room for `n` (1 or 2) records at `w->records[at]`, in one block: this thread's, or a fresh one
/// if they do not fit. Nothing is visible to the writer until `w->filled` is stored past them.
bool reserve(std::uint32_t n, block*& w, std::uint32_t& at) noexcept {
    thread_buffer* b = own_buffer();
    if (b == nullptr) return false;
    w = b->writing;
    at = w->filled.load(std::memory_order_relaxed);
    if (at + n > block::capacity) {
        auto* fresh = new (std::nothrow) block;
        if (fresh == nullptr) return false;  // out of memory: the task goes unrecorded
        if (at < block::capacity) {          // pad the rest: the reader skips records of pool 0xffffff
            for (std::uint32_t i = at; i < block::capacity; ++i) w->records[i].pool_flags = 0xffffff;
            w->filled.store(block::capacity, std::memory_order_release);
        }
        w->next.store(fresh, std::memory_order_release);
        b->writing = w = fresh;
        at = 0;
    }
    return true;
}

/// Appends `n` (1 or 2) records; both land in one block, published together.
void push(const record* r, std::uint32_t n) noexcept {
    block* w;
    std::uint32_t at;
    if (!reserve(n, w, at)) return;
    for (std::uint32_t i = 0; i < n; ++i) w->records[at + i] = r[i];
    w->filled.store(at + n, std::memory_order_release);
}

std::string describe(const std::exception_ptr& error) {
    if (!error) return {};
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        std::string text = remote::type_name(typeid(e)) + ": " + e.what();
        if (text.size() > 2000) text.resize(2000);
        return text;
    } catch (...) {
        return "an exception that is not a std::exception";
    }
}

long own_tid() noexcept { return static_cast<long>(syscall(SYS_gettid)); }

}  // namespace

// ---- hooks -----------------------------------------------------------------------------------
namespace detail {

std::uint32_t trace_intern(const std::string& name) {
    // Remote pools intern each task's description at submit: the same few names over and over.
    // The last one this thread interned is answered without the collector's mutex, which the
    // writer holds while it formats a flush (numbers are never reused, so the answer stays right).
    thread_local std::string last_name;
    thread_local std::uint32_t last_id = 0;
    if (last_id != 0 && name == last_name) return last_id;
    collector& c = the_collector();
    std::uint32_t id;
    {
        std::lock_guard lock(c.mutex);
        auto found = c.interned_ids.find(name);
        if (found != c.interned_ids.end()) {
            id = found->second;
        } else {
            c.interned.push_back(name);
            id = static_cast<std::uint32_t>(c.interned.size());
            c.interned_ids.emplace(name, id);
        }
    }
    last_name = name;
    last_id = id;
    return id;
}

std::uint32_t trace_thread_id() noexcept {
    if (this_thread_id != 0) return this_thread_id;
    try {
        actor_info a;
        a.pid = getpid();
        a.tid = own_tid();
        char name[32] = {};
        if (pthread_getname_np(pthread_self(), name, sizeof name) != 0 || name[0] == '\0')
            std::snprintf(name, sizeof name, "thread %ld", a.tid);
        a.label = a.tid == a.pid ? std::string("main") : std::string(name);
        collector& c = the_collector();
        std::lock_guard lock(c.mutex);
        c.actors.push_back(std::move(a));
        this_thread_id = static_cast<std::uint32_t>(c.actors.size());
    } catch (...) {
        return 0;
    }
    return this_thread_id;
}

std::uint32_t trace_register_pool(const char* executor, std::size_t workers, std::string settings) {
    collector& c = the_collector();
    bool look = false;
    std::uint32_t id;
    {
        std::lock_guard lock(c.mutex);
        pool_info p;
        p.executor = executor;
        p.workers = workers;
        p.settings = std::move(settings);
        c.pools.push_back(std::move(p));
        id = static_cast<std::uint32_t>(c.pools.size());
        c.pools.back().name = std::string(executor) + " " + std::to_string(id);
        look = !c.environment_looked;
        c.environment_looked = true;
    }
    if (look) start_environment_trace(c);
    return id;
}

std::uint32_t trace_register_worker(std::uint32_t pool, std::string label, long pid, int rank, std::string host) {
    collector& c = the_collector();
    std::lock_guard lock(c.mutex);
    actor_info a;
    a.remote = true;
    a.pool = pool;
    a.label = std::move(label);
    a.pid = pid;
    a.tid = pid;
    a.rank = rank;
    a.host = host.empty() ? c.host : std::move(host);
    c.actors.push_back(std::move(a));
    return static_cast<std::uint32_t>(c.actors.size());
}

namespace {
std::uint32_t intern_error(const std::exception_ptr& error) noexcept {
    try {
        return trace_intern(describe(error));
    } catch (...) {
        return 0;
    }
}
}  // namespace

void trace_local_task(const local_task_trace& t, std::uint64_t start, std::uint64_t end, trace_outcome outcome,
                      const std::exception_ptr& error) noexcept {
    if (!tracing_on()) return;
    if (start == 0) start = end = trace_clock();
    const std::uint32_t worker = outcome == trace_outcome::cancelled ? 0 : trace_thread_id();
    if (!error || outcome == trace_outcome::cancelled) {
        // The common case, written in place: every field once, no copy (the hot path).
        block* w;
        std::uint32_t at;
        if (!reserve(1, w, at)) return;
        record& r = w->records[at];
        r.submit = t.submitted;
        r.start = start;
        r.serialize = r.transfer = r.reply = r.deserialize = 0;
        r.run = pack_duration(gap(start, end));
        r.worker = worker;
        r.submitter = t.submitter;
        r.pool_flags = pool_flags(t.pool, outcome, t.name.kind, t.name.suffix, false);
        r.bytes_in = 0;
        r.retries = 0;
        r.bits = 0;
        r.spare = 0;
        r.a = reinterpret_cast<std::uintptr_t>(t.name.key);
        w->filled.store(at + 1, std::memory_order_release);
        return;
    }
    record r[2]{};
    r[0].submit = t.submitted;
    r[0].start = start;
    r[0].run = pack_duration(gap(start, end));
    r[0].worker = worker;
    r[0].submitter = t.submitter;
    r[0].pool_flags = pool_flags(t.pool, outcome, t.name.kind, t.name.suffix, false);
    r[0].a = reinterpret_cast<std::uintptr_t>(t.name.key);
    std::uint32_t n = 1;
    if (error && outcome != trace_outcome::cancelled) {
        r[0].bits |= bit_has_error;
        r[1].pool_flags = 0;
        r[1].a = intern_error(error);
        n = 2;
    }
    push(r, n);
}

void trace_remote_task(const remote_task_trace& t, std::uint64_t done, trace_outcome outcome,
                       const std::exception_ptr& error) noexcept {
    if (!tracing_on()) return;
    record r[2]{};
    r[0].submit = t.submitted;
    r[0].serialize = pack_duration(gap(t.submitted, t.queued));
    if (t.sent == 0) {  // never sent: cancelled or failed in the queue
        r[0].start = done;
    } else if (t.received == 0) {  // sent, no reply: it ran until it died, timed out or was stopped
        r[0].start = t.sent;
        r[0].run = pack_duration(gap(t.sent, done));
        r[0].worker = t.worker;
    } else {
        std::uint64_t a = t.run_start, b = t.run_end;
        const std::uint64_t window = gap(t.sent, t.received);
        if (a < t.sent || b > t.received || b < a) {  // another host's clock: centre the run in its window
            const std::uint64_t run = std::min(gap(a, b), window);
            a = t.sent + (window - run) / 2;
            b = a + run;
        }
        r[0].start = a;
        r[0].transfer = pack_duration(a - t.sent);
        r[0].run = pack_duration(b - a);
        r[0].reply = pack_duration(t.received - b);
        r[0].deserialize = pack_duration(gap(t.received, done));
        r[0].worker = t.worker;
    }
    r[0].submitter = t.submitter;
    r[0].bytes_in = saturate(t.bytes_in);
    r[0].retries = t.retries;
    r[0].pool_flags = pool_flags(t.pool, outcome, trace_name::interned, trace_name::plain, true);
    r[0].a = static_cast<std::uint64_t>(t.name) | static_cast<std::uint64_t>(saturate(t.bytes_out)) << 32;
    if (trace_thread_id() == t.submitter) r[0].bits |= bit_completer_is_submitter;
    std::uint32_t n = 1;
    if (error && outcome != trace_outcome::cancelled) {
        r[0].bits |= bit_has_error;
        r[1].a = intern_error(error);
        n = 2;
    }
    push(r, n);
}

void trace_pool_event(std::uint32_t pool, std::uint32_t worker, const char* event, std::string detail) noexcept {
    if (!tracing_on()) return;
    try {
        collector& c = the_collector();
        std::lock_guard lock(c.mutex);
        if (c.active == nullptr) return;
        c.events.push_back({pool, worker, trace_clock(), event, std::move(detail)});
    } catch (...) {
    }
}

trace_outcome trace_outcome_of(const std::exception_ptr& error) noexcept {
    if (!error) return trace_outcome::ok;
    try {
        std::rethrow_exception(error);
    } catch (const timeout_error&) {
        return trace_outcome::timeout;
    } catch (const worker_died&) {
        return trace_outcome::worker_died;
    } catch (const cancelled_error&) {
        return trace_outcome::cancelled;
    } catch (...) {
        return trace_outcome::failed;
    }
}

}  // namespace detail

}  // namespace fronta
