#pragma once
// What executors tell the tracer (src/observe/trace_recorder.cpp; public face: fronta/tracing.hpp).
// Kept to the standard library so the futures core can include it: a hook is one relaxed load of
// `tracing_active` while no trace runs, and a few clock reads and a 64-byte record while one does.

#include <atomic>
#include <cstdint>
#include <ctime>
#include <exception>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>

namespace fronta::detail {

/// True while a `fronta::tracing` (or FRONTA_TRACE) records.
extern std::atomic<bool> tracing_active;

inline bool tracing_on() noexcept { return tracing_active.load(std::memory_order_relaxed); }

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process of a machine, so worker processes'
/// times need no translation.
inline std::uint64_t trace_clock() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

/// What names a task in a trace, resolved only when the trace is written: a callable's type, or a
/// function's address (named by the registry or the symbol table), or an interned string.
struct trace_name {
    enum kind_t : std::uint8_t { none, type, function, interned };
    enum suffix_t : std::uint8_t { plain, map_chunk, map_reduce_chunk };
    const void* key = nullptr;
    std::uint32_t id = 0;  // interned: the string's number
    kind_t kind = none;
    suffix_t suffix = plain;
};

template <class F>
trace_name trace_name_of(const F& f, trace_name::suffix_t suffix = trace_name::plain) noexcept {
    using fn = std::decay_t<F>;
    if constexpr (std::is_pointer_v<fn> && std::is_function_v<std::remove_pointer_t<fn>>)
        return {reinterpret_cast<const void*>(f), 0, trace_name::function, suffix};
    else
        return {&typeid(fn), 0, trace_name::type, suffix};
}

/// Interns `name` for this process: equal strings, equal numbers.
std::uint32_t trace_intern(const std::string& name);

/// A task as an in-process executor (thread_pool, inline_executor) saw it.
struct local_task_trace {
    std::uint64_t submitted = 0;  // trace_clock() at submit; 0: not traced
    std::uint32_t submitter = 0;  // the submitting thread (trace_thread_id())
    std::uint32_t pool = 0;       // the executor's trace id
    trace_name name;
};

/// A task as a remote pool saw it; each time stamp is trace_clock(), 0 if it did not happen.
struct remote_task_trace {
    std::uint64_t submitted = 0;  // before serialization; 0: not traced
    std::uint64_t queued = 0;     // serialized, handed to the pool
    std::uint64_t sent = 0;       // written to a worker
    std::uint64_t received = 0;   // its reply read
    std::uint64_t run_start = 0;  // on the worker (from the reply's header)
    std::uint64_t run_end = 0;
    std::uint64_t bytes_out = 0;
    std::uint64_t bytes_in = 0;
    std::uint32_t submitter = 0;
    std::uint32_t pool = 0;
    std::uint32_t worker = 0;
    std::uint32_t name = 0;  // interned description
    std::uint8_t retries = 0;
};

/// How a task ended.
enum class trace_outcome : std::uint8_t { ok, failed, cancelled, timeout, worker_died };

/// This thread's number in traces (given on first use; names the thread by its pthread name).
std::uint32_t trace_thread_id() noexcept;

/// A pool (executor) for traces: `executor` is "thread_pool", "process_pool", ...; `settings` a
/// JSON object's text. Always registered (cheap, once per pool); written when a trace uses it.
std::uint32_t trace_register_pool(const char* executor, std::size_t workers, std::string settings);
/// A worker of a remote pool: `label` names it; pid, MPI rank (-1 if none) and host.
std::uint32_t trace_register_worker(std::uint32_t pool, std::string label, long pid, int rank, std::string host);

/// A local task ran (start and end: trace_clock()) or was cancelled (start == end == 0).
void trace_local_task(const local_task_trace& t, std::uint64_t start, std::uint64_t end, trace_outcome outcome,
                      const std::exception_ptr& error) noexcept;
/// A remote task completed, failed or was cancelled; `done` is when (after deserialization).
void trace_remote_task(const remote_task_trace& t, std::uint64_t done, trace_outcome outcome,
                       const std::exception_ptr& error) noexcept;
/// A pool event: "worker_started", "worker_died", "worker_replaced", "worker_retired".
void trace_pool_event(std::uint32_t pool, std::uint32_t worker, const char* event, std::string detail) noexcept;

/// `text` as the inside of a JSON string.
std::string json_escape(std::string_view text);

/// What an error's outcome is (timeout_error, worker_died, cancelled_error, else failed).
trace_outcome trace_outcome_of(const std::exception_ptr& error) noexcept;

}  // namespace fronta::detail
