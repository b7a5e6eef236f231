// What the trace recorder (trace_recorder.cpp) and the trace writer (trace_writer.cpp) share:
// the 64-byte record, the threads' buffers of them, and the registry of pools, workers, threads and
// interned names. Formats in docs/design.md, "Traces".
//
//   task ends ──> 64-byte record ──> this thread's buffer (blocks of 1024; no lock, no sharing)
//                                            │ every flush_interval
//   writer thread: drain every buffer ──> run.json (Chrome Trace Event) + run.jsonl (records)
//
// A thread appends to its own buffer and publishes each record with one release store; the writer
// reads up to what was published and frees blocks the thread has moved past. Pools, workers,
// threads and interned names are registered always (once each, cheap); a trace writes a line for
// each the first time one of its records refers to it.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "fronta/detail/trace_hooks.hpp"
#include "fronta/tracing.hpp"

namespace fronta::trace_impl {

using detail::trace_clock;
using detail::trace_name;
using detail::trace_outcome;

// ---- phases: a duration in 32 bits, exact to the nanosecond below a second ----------------------
// The top two bits say the unit (ns, µs, ms, s); values are rounded down, so a slice never ends
// after the true end and slices that follow each other on a track never overlap.
inline std::uint32_t pack_duration(std::uint64_t ns) noexcept {
    constexpr std::uint64_t limit = std::uint64_t{1} << 30;
    std::uint32_t unit = 0;
    while (ns >= limit && unit < 3) {
        ns /= 1000;
        ++unit;
    }
    if (ns >= limit) ns = limit - 1;
    return static_cast<std::uint32_t>(unit << 30 | ns);
}
inline std::uint64_t unpack_duration(std::uint32_t packed) noexcept {
    std::uint64_t ns = packed & ((std::uint32_t{1} << 30) - 1);
    for (std::uint32_t unit = packed >> 30; unit > 0; --unit) ns *= 1000;
    return ns;
}
inline std::uint64_t gap(std::uint64_t from, std::uint64_t to) noexcept { return to > from ? to - from : 0; }

// ---- the record ------------------------------------------------------------------------------
enum : std::uint8_t { bit_completer_is_submitter = 1, bit_has_error = 2 };

struct record {
    std::uint64_t submit;  // trace_clock() at submit
    std::uint64_t start;   // when the run began (the submit time for a task that never ran)
    std::uint32_t serialize, transfer, run, reply, deserialize;  // pack_duration
    std::uint32_t worker;                                        // who ran it (0: nobody)
    std::uint32_t submitter;                                     // the submitting thread
    std::uint32_t pool_flags;  // pool:24 | outcome:3 | name kind:2 | suffix:2 | remote:1
    std::uint32_t bytes_in;    // saturated at 4 GiB - 1
    std::uint8_t retries;
    std::uint8_t bits;
    std::uint16_t spare;
    std::uint64_t a;  // local: the name key; remote: interned name (low 32) | bytes out (high 32)
    // A record with bit_has_error is followed by one whose `a` is the interned error message.

    std::uint32_t pool() const noexcept { return pool_flags & 0xffffff; }
    trace_outcome outcome() const noexcept { return static_cast<trace_outcome>(pool_flags >> 24 & 7); }
    trace_name::kind_t name_kind() const noexcept { return static_cast<trace_name::kind_t>(pool_flags >> 27 & 3); }
    trace_name::suffix_t suffix() const noexcept { return static_cast<trace_name::suffix_t>(pool_flags >> 29 & 3); }
    bool remote() const noexcept { return (pool_flags >> 31) != 0; }
};
static_assert(sizeof(record) == 64, "a traced task costs 64 bytes until it is written");

struct block {
    static constexpr std::uint32_t capacity = 1024;
    record records[capacity];
    std::atomic<std::uint32_t> filled{0};
    std::atomic<block*> next{nullptr};
};

struct thread_buffer {
    block* writing;  // the owner thread only
    block* reading;  // the collector, under its mutex
    std::uint32_t read = 0;
    std::atomic<bool> orphaned{false};  // its thread ended
};

// ---- what is registered once, traced or not -------------------------------------------------------
struct pool_info {
    std::string executor, name, settings;
    std::size_t workers = 0;
};
struct actor_info {  // a thread, or a worker of a remote pool
    bool remote = false;
    std::uint32_t pool = 0;
    std::string label, host;
    long pid = 0, tid = 0;
    int rank = -1;
};
struct pool_event {
    std::uint32_t pool, worker;
    std::uint64_t time;
    const char* event;
    std::string detail;
};

std::string own_host();

struct collector {
    std::mutex mutex;
    std::vector<thread_buffer*> buffers;
    std::vector<pool_event> events;
    std::vector<pool_info> pools;    // id - 1
    std::vector<actor_info> actors;  // id - 1
    std::unordered_map<std::string, std::uint32_t> interned_ids;
    std::vector<std::string> interned;  // id - 1
    tracing::session* active = nullptr;
    const std::string host = own_host();
    bool environment_looked = false;

    static constexpr std::uint32_t no_id = 0;
};

/// The one registry of the process (never destroyed: threads may record during exit).
collector& the_collector();

/// Hands every published record to `out` (a pointer to the record and how many follow it in its
/// block), or skips them all with a null `out`. Under the collector's mutex.
template <class Out>
void drain(collector& c, Out&& out) {
    for (std::size_t i = 0; i < c.buffers.size();) {
        thread_buffer* b = c.buffers[i];
        const bool orphaned = b->orphaned.load(std::memory_order_acquire);
        for (;;) {
            block* r = b->reading;
            const std::uint32_t filled = r->filled.load(std::memory_order_acquire);
            if (b->read < filled) {
                out(r->records + b->read, filled - b->read);
                b->read = filled;
            }
            if (filled < block::capacity) break;
            block* next = r->next.load(std::memory_order_acquire);
            if (next == nullptr) break;
            delete r;
            b->reading = next;
            b->read = 0;
        }
        if (orphaned && b->read == b->reading->filled.load(std::memory_order_acquire)) {
            delete b->reading;
            delete b;
            c.buffers[i] = c.buffers.back();
            c.buffers.pop_back();
            continue;
        }
        ++i;
    }
}

/// FRONTA_TRACE: starts the program's trace if it asks for one (trace_writer.cpp). Called once,
/// when the first pool registers, with the collector's mutex not held.
void start_environment_trace(collector& c);

}  // namespace fronta::trace_impl
