// The trace writer: fronta::tracing (fronta/tracing.hpp) and FRONTA_TRACE. A session owns the two
// files and a writer thread that, every flush_interval, drains the threads' buffers of records
// (trace_recorder.cpp fills them; trace_record.hpp is what both share) and formats them: the
// Chrome trace (run.json) and the records file (run.jsonl); at the end the counters, the summaries
// of tasks past max_tasks and the end line. Formats in docs/design.md, "Traces".
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "fronta/detail/trace_hooks.hpp"
#include "fronta/remote/registry.hpp"
#include "fronta/report.hpp"
#include "fronta/tracing.hpp"
#include "observe/trace_record.hpp"

namespace fronta {
namespace {

using namespace trace_impl;

std::string program_path() {
    char buffer[4096];
    const ssize_t n = readlink("/proc/self/exe", buffer, sizeof buffer - 1);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string("?");
}

// ---- text ------------------------------------------------------------------------------------
struct out_text {
    std::string s;
    void put(std::string_view text) { s.append(text); }
    void put(char ch) { s.push_back(ch); }
    void num(std::uint64_t n) {
        char buf[24];
        s.append(buf, std::to_chars(buf, buf + sizeof buf, n).ptr);
    }
    void num(std::int64_t n) {
        char buf[24];
        s.append(buf, std::to_chars(buf, buf + sizeof buf, n).ptr);
    }
    void num(int n) { num(static_cast<std::int64_t>(n)); }
    void num(unsigned n) { num(static_cast<std::uint64_t>(n)); }
    /// Nanoseconds as microseconds with three decimals (exact).
    void micros(std::int64_t ns) {
        if (ns < 0) {
            s.push_back('-');
            ns = -ns;
        }
        num(static_cast<std::uint64_t>(ns / 1000));
        const auto rest = static_cast<unsigned>(ns % 1000);
        const char digits[4] = {'.', static_cast<char>('0' + rest / 100), static_cast<char>('0' + rest / 10 % 10),
                                static_cast<char>('0' + rest % 10)};
        s.append(digits, 4);
    }
    void str(std::string_view text) {
        s.push_back('"');
        s.append(detail::json_escape(text));
        s.push_back('"');
    }
};

}  // namespace

// ---- the session -------------------------------------------------------------------------------
struct tracing::session {
    tracing_options options;
    std::filesystem::path records_path;
    std::FILE* chrome = nullptr;
    std::FILE* lines = nullptr;
    bool first_event = true;
    std::uint64_t t0 = 0;
    long pid = getpid();
    std::string host;
    bool from_environment = false;

    std::mutex writing;  // one writer at a time: the writer thread, flush(), close()
    std::thread writer;
    std::mutex wake_mutex;
    std::condition_variable wake;
    bool stopping = false;
    bool closed = false;
    int write_error = 0;

    // What the trace wrote a line for already.
    std::vector<bool> pool_written, worker_written, thread_written;
    std::unordered_set<long> named_pids;
    std::unordered_set<std::uint64_t> named_tracks;            // pid << 32 | tid
    std::unordered_map<const void*, std::string> names[3][3];  // [kind][suffix]

    // Transfer and reply slices of each remote worker, on tracks of the client where they nest:
    // one lane per slice in flight at once.
    struct lanes {
        std::vector<std::uint64_t> transfer_end, reply_end;
    };
    std::unordered_map<std::uint32_t, lanes> worker_lanes;

    // For the counters written at the end: submit, start, end of each task written.
    struct span {
        std::uint64_t submit, start, end;
    };
    std::unordered_map<std::uint32_t, std::vector<span>> spans;

    // Tasks past max_tasks, counted per (pool, function).
    struct summary {
        std::uint64_t count = 0, failures = 0, retries = 0, bytes_out = 0, bytes_in = 0;
        double total_run_us = 0;
        std::array<std::uint64_t, 48> run_hist{};  // bucket b: run in [2^(b-1), 2^b) µs
    };
    std::map<std::pair<std::uint32_t, std::string>, summary> summaries;

    std::atomic<std::size_t> recorded{0};
    std::size_t written = 0;
    std::uint64_t next_task = 0;
    std::uint64_t last_time = 0;

    out_text json_out, lines_out;

    ~session() {
        if (chrome) std::fclose(chrome);
        if (lines) std::fclose(lines);
    }

    std::int64_t rel(std::uint64_t t) const { return static_cast<std::int64_t>(t) - static_cast<std::int64_t>(t0); }

    // One Chrome event: `body` without braces.
    void event_begin() {
        json_out.put(first_event ? "{" : ",\n{");
        first_event = false;
    }

    void name_process(long p, const std::string& name, int sort) {
        if (!named_pids.insert(p).second) return;
        event_begin();
        json_out.put("\"ph\":\"M\",\"name\":\"process_name\",\"pid\":");
        json_out.num(p);
        json_out.put(",\"tid\":0,\"ts\":0,\"args\":{\"name\":");
        json_out.str(name);
        json_out.put("}}");
        event_begin();
        json_out.put("\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":");
        json_out.num(p);
        json_out.put(",\"tid\":0,\"ts\":0,\"args\":{\"sort_index\":");
        json_out.num(sort);
        json_out.put("}}");
    }
    void name_thread(long p, long t, const std::string& name) {
        if (!named_tracks.insert(static_cast<std::uint64_t>(p) << 32 ^ static_cast<std::uint64_t>(t)).second) return;
        event_begin();
        json_out.put("\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":");
        json_out.num(p);
        json_out.put(",\"tid\":");
        json_out.num(t);
        json_out.put(",\"ts\":0,\"args\":{\"name\":");
        json_out.str(name);
        json_out.put("}}");
    }

    // Whether registered number `id` (1..known) is met for the first time; marks it met.
    static bool first_time(std::vector<bool>& written, std::uint32_t id, std::size_t known) {
        if (id == 0 || id > known) return false;
        if (written.size() < known) written.resize(known);
        if (written[id - 1]) return false;
        written[id - 1] = true;
        return true;
    }
    static std::string pool_name(const collector& c, std::uint32_t pool, const char* none = "") {
        return pool != 0 && pool <= c.pools.size() ? c.pools[pool - 1].name : std::string(none);
    }
    void name_client() { name_process(pid, "fronta client (pid " + std::to_string(pid) + ")", 0); }

    // Lines for a pool / worker / thread the first time a record refers to it (registry locked).
    void write_pool(collector& c, std::uint32_t id) {
        if (!first_time(pool_written, id, c.pools.size())) return;
        const pool_info& p = c.pools[id - 1];
        lines_out.put("{\"type\":\"pool\",\"pool\":");
        lines_out.num(id);
        lines_out.put(",\"name\":");
        lines_out.str(p.name);
        lines_out.put(",\"executor\":");
        lines_out.str(p.executor);
        lines_out.put(",\"workers\":");
        lines_out.num(static_cast<std::uint64_t>(p.workers));
        lines_out.put(",\"settings\":");
        lines_out.put(p.settings.empty() ? "{}" : p.settings);
        lines_out.put("}\n");
    }
    long actor_pid(const actor_info& a) const {
        // A rank on another host may share a pid with a process here: give it a number of its own.
        if (a.remote && a.pid > 0 && (a.host.empty() || a.host == host)) return a.pid;
        if (!a.remote) return a.pid;
        return 0x40000000L + a.rank + 1;
    }
    void write_worker(collector& c, std::uint32_t id, std::uint32_t pool) {
        if (!first_time(worker_written, id, c.actors.size())) return;
        const actor_info& a = c.actors[id - 1];
        const std::uint32_t its_pool = a.remote ? a.pool : pool;
        write_pool(c, its_pool);
        lines_out.put("{\"type\":\"worker\",\"worker\":");
        lines_out.num(id);
        lines_out.put(",\"pool\":");
        lines_out.num(its_pool);
        lines_out.put(",\"label\":");
        lines_out.str(a.label);
        lines_out.put(",\"pid\":");
        lines_out.num(a.pid);
        lines_out.put(",\"tid\":");
        lines_out.num(a.remote ? 0L : a.tid);
        lines_out.put(",\"rank\":");
        lines_out.num(a.rank);
        lines_out.put(",\"host\":");
        lines_out.str(a.host.empty() ? host : a.host);
        lines_out.put("}\n");
        const std::string its_pool_name = pool_name(c, its_pool);
        if (a.remote) {
            const long p = actor_pid(a);
            const std::string where = a.rank >= 0 ? " rank " + std::to_string(a.rank) + " (pid " +
                                                        std::to_string(a.pid) + " on " + a.host + ")"
                                                  : " worker (pid " + std::to_string(a.pid) + ")";
            name_process(p, its_pool_name + where, 10 + static_cast<int>(id));
            name_thread(p, p, a.label);
        } else {
            name_client();
            name_thread(pid, a.tid, (its_pool_name.empty() ? std::string() : its_pool_name + ": ") + a.label);
        }
    }
    void write_thread(collector& c, std::uint32_t id) {
        if (!first_time(thread_written, id, c.actors.size())) return;
        const actor_info& a = c.actors[id - 1];
        lines_out.put("{\"type\":\"thread\",\"thread\":");
        lines_out.num(id);
        lines_out.put(",\"pid\":");
        lines_out.num(a.pid);
        lines_out.put(",\"tid\":");
        lines_out.num(a.tid);
        lines_out.put(",\"label\":");
        lines_out.str(a.label);
        lines_out.put("}\n");
        name_client();
        name_thread(pid, a.tid, a.label);
    }

    const std::string& function_name(collector& c, const record& r) {
        if (r.remote() || r.name_kind() == trace_name::interned) {
            static const std::string unknown = "?";
            const auto id = static_cast<std::uint32_t>(r.a & 0xffffffff);
            return id != 0 && id <= c.interned.size() ? c.interned[id - 1] : unknown;
        }
        const auto kind = std::min<unsigned>(r.name_kind(), 2);
        const auto suffix = std::min<unsigned>(r.suffix(), 2);
        const void* key = reinterpret_cast<const void*>(r.a);
        auto& cache = names[kind][suffix];
        auto found = cache.find(key);
        if (found != cache.end()) return found->second;
        std::string name;
        if (kind == trace_name::function) {
            if (const auto* e = remote::registry::instance().find_function(reinterpret_cast<std::uintptr_t>(key)))
                name = e->name;
            else
                name = remote::function_name(key);
            if (name.empty()) {
                char address[32];
                std::snprintf(address, sizeof address, "function at %p", key);
                name = address;
            }
        } else if (kind == trace_name::type && key != nullptr) {
            name = remote::type_name(*static_cast<const std::type_info*>(key));
        } else {
            name = "task";
        }
        // "(anonymous namespace)::square" reads as "square" in a trace, as FRONTA_REMOTE names it.
        static constexpr std::string_view anonymous = "(anonymous namespace)::";
        for (auto at = name.find(anonymous); at != std::string::npos; at = name.find(anonymous, at))
            name.erase(at, anonymous.size());
        if (suffix == trace_name::map_chunk) name += " (map chunk)";
        if (suffix == trace_name::map_reduce_chunk) name += " (map_reduce chunk)";
        return cache.emplace(key, std::move(name)).first->second;
    }

    static const char* outcome_name(trace_outcome o) {
        switch (o) {
            case trace_outcome::ok: return "ok";
            case trace_outcome::failed: return "failed";
            case trace_outcome::cancelled: return "cancelled";
            case trace_outcome::timeout: return "timeout";
            case trace_outcome::worker_died: return "worker_died";
        }
        return "failed";
    }

    std::uint32_t lane_for(std::vector<std::uint64_t>& ends, std::uint64_t from, std::uint64_t to) {
        for (std::size_t i = 0; i < ends.size(); ++i)
            if (ends[i] <= from) {
                ends[i] = to;
                return static_cast<std::uint32_t>(i);
            }
        ends.push_back(to);
        return static_cast<std::uint32_t>(ends.size() - 1);
    }

    void slice(long p, long t, std::string_view cat, std::string_view name, std::uint64_t from, std::uint64_t to) {
        event_begin();
        json_out.put("\"ph\":\"X\",\"cat\":\"");
        json_out.put(cat);
        json_out.put("\",\"name\":");
        json_out.str(name);
        json_out.put(",\"pid\":");
        json_out.num(p);
        json_out.put(",\"tid\":");
        json_out.num(t);
        json_out.put(",\"ts\":");
        json_out.micros(rel(from));
        json_out.put(",\"dur\":");
        json_out.micros(static_cast<std::int64_t>(gap(from, to)));
        json_out.put("}");
    }

    void task(collector& c, const record& r, std::uint32_t error_id) {
        if (r.submit < t0) return;  // submitted before this trace began (under an earlier one)
        recorded.fetch_add(1, std::memory_order_relaxed);
        const bool remote = r.remote();
        const std::uint64_t serialize = unpack_duration(r.serialize), transfer = unpack_duration(r.transfer),
                            run = unpack_duration(r.run), reply = unpack_duration(r.reply),
                            deserialize = unpack_duration(r.deserialize);
        const std::uint64_t start = r.start, end = start + run;
        const std::uint64_t queued = r.submit + serialize, sent = start - std::min(start, transfer);
        const std::uint64_t received = end + reply, done = received + deserialize;
        const std::uint64_t queue = gap(queued, sent);
        const trace_outcome outcome = r.outcome();
        const std::uint32_t pool = r.pool();
        const std::string& fn = function_name(c, r);
        const std::uint64_t bytes_out = remote ? r.a >> 32 : 0;
        last_time = std::max(last_time, done);

        if (options.max_tasks != 0 && written >= options.max_tasks) {
            summary& s = summaries[{pool, fn}];
            ++s.count;
            s.failures += outcome == trace_outcome::ok || outcome == trace_outcome::cancelled ? 0 : 1;
            s.retries += r.retries;
            s.bytes_out += bytes_out;
            s.bytes_in += r.bytes_in;
            s.total_run_us += static_cast<double>(run) / 1000.0;
            std::size_t bucket = 0;
            for (std::uint64_t us = run / 1000; us > 0 && bucket + 1 < s.run_hist.size(); us >>= 1) ++bucket;
            ++s.run_hist[bucket];
            return;
        }
        ++written;
        const std::uint64_t id = ++next_task;
        write_pool(c, pool);
        write_worker(c, r.worker, pool);
        write_thread(c, r.submitter);
        const std::string task_pool = pool_name(c, pool);
        const bool ran = outcome != trace_outcome::cancelled && r.worker != 0;
        spans[pool].push_back({r.submit, ran ? start : done, remote ? done : end});

        // The records file.
        lines_out.put("{\"type\":\"task\",\"task\":");
        lines_out.num(id);
        lines_out.put(",\"fn\":");
        lines_out.str(fn);
        lines_out.put(",\"pool\":");
        lines_out.num(pool);
        lines_out.put(",\"worker\":");
        lines_out.num(ran || r.worker != 0 ? r.worker : 0u);
        lines_out.put(",\"submitter\":");
        lines_out.num(r.submitter);
        lines_out.put(",\"submit\":");
        lines_out.micros(rel(r.submit));
        lines_out.put(",\"start\":");
        lines_out.micros(rel(start));
        lines_out.put(",\"end\":");
        lines_out.micros(rel(end));
        lines_out.put(",\"phases\":{\"serialize\":");
        lines_out.micros(static_cast<std::int64_t>(serialize));
        lines_out.put(",\"queue\":");
        lines_out.micros(static_cast<std::int64_t>(queue));
        lines_out.put(",\"transfer\":");
        lines_out.micros(static_cast<std::int64_t>(transfer));
        lines_out.put(",\"run\":");
        lines_out.micros(static_cast<std::int64_t>(run));
        lines_out.put(",\"reply\":");
        lines_out.micros(static_cast<std::int64_t>(reply));
        lines_out.put(",\"deserialize\":");
        lines_out.micros(static_cast<std::int64_t>(deserialize));
        lines_out.put("},\"bytes_out\":");
        lines_out.num(bytes_out);
        lines_out.put(",\"bytes_in\":");
        lines_out.num(r.bytes_in);
        lines_out.put(",\"retries\":");
        lines_out.num(static_cast<unsigned>(r.retries));
        lines_out.put(",\"outcome\":\"");
        lines_out.put(outcome_name(outcome));
        lines_out.put('"');
        const std::string* error = error_id != 0 && error_id <= c.interned.size() ? &c.interned[error_id - 1] : nullptr;
        if (error != nullptr) {
            lines_out.put(",\"error\":");
            lines_out.str(*error);
        }
        lines_out.put("}\n");

        // The Chrome trace: the submit (with the flow's start) on the submitter's thread...
        const actor_info* submitter =
            r.submitter != 0 && r.submitter <= c.actors.size() ? &c.actors[r.submitter - 1] : nullptr;
        const long submitter_tid = submitter != nullptr ? submitter->tid : 0;
        slice(pid, submitter_tid, remote ? "serialize" : "submit", fn, r.submit, queued);
        if (!ran) return;
        event_begin();
        json_out.put("\"ph\":\"s\",\"cat\":\"flow\",\"name\":\"submit\",\"id\":");
        json_out.num(id);
        json_out.put(",\"pid\":");
        json_out.num(pid);
        json_out.put(",\"tid\":");
        json_out.num(submitter_tid);
        json_out.put(",\"ts\":");
        json_out.micros(rel(r.submit));
        json_out.put("}");

        // ...the run on the worker's track, where the flow ends...
        const actor_info& w = c.actors[r.worker - 1];
        const long worker_pid = remote ? actor_pid(w) : pid;
        const long worker_tid = remote ? worker_pid : w.tid;
        event_begin();
        json_out.put("\"ph\":\"X\",\"cat\":\"task\",\"name\":");
        json_out.str(fn);
        json_out.put(",\"pid\":");
        json_out.num(worker_pid);
        json_out.put(",\"tid\":");
        json_out.num(worker_tid);
        json_out.put(",\"ts\":");
        json_out.micros(rel(start));
        json_out.put(",\"dur\":");
        json_out.micros(static_cast<std::int64_t>(run));
        json_out.put(",\"args\":{\"task\":");
        json_out.num(id);
        json_out.put(",\"pool\":");
        json_out.str(task_pool);
        json_out.put(",\"outcome\":\"");
        json_out.put(outcome_name(outcome));
        json_out.put("\",\"queue_us\":");
        json_out.micros(static_cast<std::int64_t>(queue));
        if (remote) {
            json_out.put(",\"bytes_out\":");
            json_out.num(bytes_out);
            json_out.put(",\"bytes_in\":");
            json_out.num(r.bytes_in);
            json_out.put(",\"retries\":");
            json_out.num(static_cast<unsigned>(r.retries));
        }
        if (error != nullptr) {
            json_out.put(",\"error\":");
            json_out.str(*error);
        }
        json_out.put("}}");
        event_begin();
        json_out.put("\"ph\":\"f\",\"bp\":\"e\",\"cat\":\"flow\",\"name\":\"submit\",\"id\":");
        json_out.num(id);
        json_out.put(",\"pid\":");
        json_out.num(worker_pid);
        json_out.put(",\"tid\":");
        json_out.num(worker_tid);
        json_out.put(",\"ts\":");
        json_out.micros(rel(start));
        json_out.put("}");
        if (!remote) return;

        // ...and for a remote pool the transfer and the reply on lanes of the client's tracks, and
        // the deserialization on the thread that completed the task.
        lanes& l = worker_lanes[r.worker];
        const auto track = [&](std::uint32_t lane, bool to_worker) {
            const long t = 0x20000000L + static_cast<long>(r.worker) * 64 + lane * 2 + (to_worker ? 0 : 1);
            name_thread(pid, t,
                        (to_worker ? "to " : "from ") + w.label +
                            (lane > 0 ? " (" + std::to_string(lane + 1) + ")" : ""));
            return t;
        };
        if (transfer > 0) slice(pid, track(lane_for(l.transfer_end, sent, start), true), "transfer", fn, sent, start);
        if (reply > 0) slice(pid, track(lane_for(l.reply_end, end, received), false), "reply", fn, end, received);
        if (deserialize > 0 && received != end) {
            long completer_tid = submitter_tid;
            if ((r.bits & bit_completer_is_submitter) == 0) {
                completer_tid = 0x30000000L + static_cast<long>(pool);
                name_thread(pid, completer_tid, task_pool + " dispatcher");
            }
            slice(pid, completer_tid, "deserialize", fn, received, done);
        }
    }

    void pool_events(collector& c, std::vector<pool_event>& events) {
        for (auto& e : events) {
            if (e.time < t0) continue;
            write_pool(c, e.pool);
            write_worker(c, e.worker, e.pool);
            lines_out.put("{\"type\":\"event\",\"pool\":");
            lines_out.num(e.pool);
            lines_out.put(",\"worker\":");
            lines_out.num(e.worker);
            lines_out.put(",\"event\":\"");
            lines_out.put(e.event);
            lines_out.put("\",\"time\":");
            lines_out.micros(rel(e.time));
            lines_out.put(",\"detail\":");
            lines_out.str(e.detail);
            lines_out.put("}\n");
            long p = pid, t = 0;
            if (e.worker != 0 && e.worker <= c.actors.size() && c.actors[e.worker - 1].remote) {
                p = actor_pid(c.actors[e.worker - 1]);
                t = p;
            } else {
                name_client();
                t = 0x30000000L + static_cast<long>(e.pool);
                name_thread(pid, t, pool_name(c, e.pool) + " dispatcher");
            }
            event_begin();
            json_out.put("\"ph\":\"i\",\"s\":\"p\",\"cat\":\"pool\",\"name\":\"");
            json_out.put(e.event);
            json_out.put("\",\"pid\":");
            json_out.num(p);
            json_out.put(",\"tid\":");
            json_out.num(t);
            json_out.put(",\"ts\":");
            json_out.micros(rel(e.time));
            json_out.put(",\"args\":{\"detail\":");
            json_out.str(e.detail);
            json_out.put("}}");
        }
    }

    // Everything published so far, out to the files. `writing` held.
    void write_out() {
        collector& c = the_collector();
        {
            // Formats straight from the threads' blocks (no copy of the records) and writes the
            // text out about every MiB, so writing costs a bounded amount of memory however much
            // was recorded since the last flush. A failed task's error record is in the same
            // block as its task's record (push() keeps them together).
            std::lock_guard lock(c.mutex);
            std::vector<pool_event> events;
            events.swap(c.events);
            pool_events(c, events);
            drain(c, [&](const record* batch, std::uint32_t n) {
                for (std::uint32_t i = 0; i < n; ++i) {
                    const record& r = batch[i];
                    if (r.pool_flags == 0xffffff) continue;  // padding
                    std::uint32_t error = 0;
                    if ((r.bits & bit_has_error) != 0 && i + 1 < n) error = static_cast<std::uint32_t>(batch[++i].a);
                    task(c, r, error);
                    if (json_out.s.size() + lines_out.s.size() >= chunk_bytes) put_text();
                }
            });
        }
        put_files();
    }

    static constexpr std::size_t chunk_bytes = std::size_t{1} << 20;

    /// Appends the text formatted so far to both files (stdio-buffered; put_files() flushes).
    void put_text() {
        if (!json_out.s.empty() && std::fwrite(json_out.s.data(), 1, json_out.s.size(), chrome) != json_out.s.size())
            write_error = errno;
        if (!lines_out.s.empty() && std::fwrite(lines_out.s.data(), 1, lines_out.s.size(), lines) != lines_out.s.size())
            write_error = errno;
        json_out.s.clear();
        lines_out.s.clear();
    }

    void put_files() {
        put_text();
        if (std::fflush(chrome) != 0 || std::fflush(lines) != 0) write_error = errno;
    }

    // The counters (exact, from the spans), the summaries, the end line, the closing bracket.
    void finish() {
        collector& c = the_collector();
        std::lock_guard lock(c.mutex);
        for (auto& [pool, list] : spans) {
            struct change {
                std::uint64_t time;
                int queued, running;
            };
            std::vector<change> changes;
            changes.reserve(list.size() * 3);
            for (const span& s : list) {
                changes.push_back({s.submit, 1, 0});
                changes.push_back({s.start, -1, 1});
                changes.push_back({s.end, 0, -1});
            }
            std::sort(changes.begin(), changes.end(), [](const change& a, const change& b) { return a.time < b.time; });
            const std::uint64_t first = changes.empty() ? t0 : changes.front().time;
            const std::uint64_t last = changes.empty() ? t0 : changes.back().time;
            const std::uint64_t step = (last - first) / 10000;
            const std::string name = pool_name(c, pool, "pool");
            long queued = 0, running = 0;
            std::uint64_t written_at = 0;
            bool any = false;
            for (std::size_t i = 0; i < changes.size(); ++i) {
                queued += changes[i].queued;
                running += changes[i].running;
                const bool last_at_time = i + 1 == changes.size() || changes[i + 1].time != changes[i].time;
                if (!last_at_time) continue;
                if (any && i + 1 != changes.size() && changes[i].time - written_at < step) continue;
                any = true;
                written_at = changes[i].time;
                lines_out.put("{\"type\":\"counter\",\"pool\":");
                lines_out.num(pool);
                lines_out.put(",\"time\":");
                lines_out.micros(rel(written_at));
                lines_out.put(",\"queued\":");
                lines_out.num(std::max(0L, queued));
                lines_out.put(",\"running\":");
                lines_out.num(std::max(0L, running));
                lines_out.put("}\n");
                event_begin();
                json_out.put("\"ph\":\"C\",\"name\":");
                json_out.str(name + " tasks");
                json_out.put(",\"pid\":");
                json_out.num(pid);
                json_out.put(",\"tid\":0,\"ts\":");
                json_out.micros(rel(written_at));
                json_out.put(",\"args\":{\"queued\":");
                json_out.num(std::max(0L, queued));
                json_out.put(",\"running\":");
                json_out.num(std::max(0L, running));
                json_out.put("}}");
            }
        }
        for (auto& [key, s] : summaries) {
            lines_out.put("{\"type\":\"summary\",\"fn\":");
            lines_out.str(key.second);
            lines_out.put(",\"pool\":");
            lines_out.num(key.first);
            lines_out.put(",\"count\":");
            lines_out.num(s.count);
            lines_out.put(",\"total_run\":");
            char number[32];
            lines_out.put(std::string_view(number, static_cast<std::size_t>(
                                                       std::snprintf(number, sizeof number, "%.3f", s.total_run_us))));
            lines_out.put(",\"failures\":");
            lines_out.num(s.failures);
            lines_out.put(",\"retries\":");
            lines_out.num(s.retries);
            lines_out.put(",\"bytes_out\":");
            lines_out.num(s.bytes_out);
            lines_out.put(",\"bytes_in\":");
            lines_out.num(s.bytes_in);
            lines_out.put(",\"run_hist\":[");
            for (std::size_t b = 0; b < s.run_hist.size(); ++b) {
                if (b != 0) lines_out.put(',');
                lines_out.num(s.run_hist[b]);
            }
            lines_out.put("]}\n");
        }
        lines_out.put("{\"type\":\"end\",\"time\":");
        lines_out.micros(rel(std::max(last_time, trace_clock())));
        lines_out.put(",\"tasks\":");
        lines_out.num(static_cast<std::uint64_t>(recorded.load()));
        lines_out.put(",\"written\":");
        lines_out.num(static_cast<std::uint64_t>(written));
        lines_out.put("}\n");
        json_out.put("\n]\n");
        put_files();
    }

    void writer_loop() {
        std::unique_lock lock(wake_mutex);
        while (!stopping) {
            wake.wait_for(lock, options.flush_interval, [&] { return stopping; });
            if (stopping) break;
            lock.unlock();
            {
                std::lock_guard w(writing);
                try {
                    write_out();
                } catch (const std::exception& e) {
                    if (write_error == 0) write_error = ENOMEM;
                }
            }
            lock.lock();
        }
    }

    /// Stops: no record is taken after this; writes everything. Returns the error, if any.
    int stop() {
        {
            collector& c = the_collector();
            std::lock_guard lock(c.mutex);
            if (c.active == this) {
                c.active = nullptr;
                detail::tracing_active.store(false, std::memory_order_seq_cst);
            }
        }
        {
            std::lock_guard lock(wake_mutex);
            stopping = true;
        }
        wake.notify_all();
        if (writer.joinable()) writer.join();
        std::lock_guard w(writing);
        if (!closed) {
            closed = true;
            try {
                write_out();
                finish();
            } catch (const std::exception&) {
                if (write_error == 0) write_error = ENOMEM;
            }
        }
        return write_error;
    }
};

namespace {

std::FILE* open_for_trace(const std::filesystem::path& path) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr)
        throw std::system_error(errno, std::generic_category(),
                                "fronta::tracing: cannot write the trace file " + path.string());
    std::setvbuf(f, nullptr, _IOFBF, 1 << 20);
    return f;
}

std::shared_ptr<tracing::session> start_session(tracing_options options, bool from_environment) {
    if (options.path.empty()) throw std::invalid_argument("fronta::tracing: the trace's path is empty");
    if (options.flush_interval.count() <= 0)
        throw std::invalid_argument("fronta::tracing: flush_interval must be positive");
    collector& c = the_collector();
    {
        std::lock_guard lock(c.mutex);
        if (c.active != nullptr)
            throw std::logic_error("fronta::tracing: a trace is already recording to " +
                                   c.active->options.path.string() +
                                   (c.active->from_environment ? " (FRONTA_TRACE)" : "") + "; one at a time");
    }
    auto s = std::make_shared<tracing::session>();
    s->options = std::move(options);
    s->from_environment = from_environment;
    s->records_path = trace_records_path(s->options.path);
    s->host = c.host;
    s->chrome = open_for_trace(s->options.path);
    s->lines = open_for_trace(s->records_path);
    s->json_out.put("[\n");
    const double unix_us =
        std::chrono::duration<double, std::micro>(std::chrono::system_clock::now().time_since_epoch()).count();
    {
        std::lock_guard lock(c.mutex);
        if (c.active != nullptr)
            throw std::logic_error("fronta::tracing: a trace is already recording to " +
                                   c.active->options.path.string() + "; one at a time");
        drain(c, [](const record*, std::uint32_t) {});  // what finished before belongs to no trace
        c.events.clear();
        s->t0 = trace_clock();
        c.active = s.get();
        detail::tracing_active.store(true, std::memory_order_seq_cst);
    }
    out_text& o = s->lines_out;
    char number[64];
    o.put("{\"type\":\"header\",\"fronta_trace\":1,\"t0_unix_us\":");
    o.put(std::string_view(number, static_cast<std::size_t>(std::snprintf(number, sizeof number, "%.3f", unix_us))));
    o.put(",\"host\":");
    o.str(s->host);
    o.put(",\"pid\":");
    o.num(s->pid);
    o.put(",\"program\":");
    o.str(program_path());
    o.put(",\"settings\":{\"path\":");
    o.str(s->options.path.string());
    o.put(",\"records\":");
    o.str(s->records_path.string());
    o.put(",\"max_tasks\":");
    o.num(static_cast<std::uint64_t>(s->options.max_tasks));
    o.put(",\"flush_interval_ms\":");
    o.num(static_cast<std::int64_t>(s->options.flush_interval.count()));
    o.put(",\"FRONTA_TRACE\":");
    const char* env = std::getenv("FRONTA_TRACE");
    if (env != nullptr)
        o.str(env);
    else
        o.put("null");
    o.put(",\"hardware_threads\":");
    o.num(std::thread::hardware_concurrency());
    o.put("}}\n");
    int header_error = 0;
    {
        std::lock_guard w(s->writing);
        s->put_files();
        header_error = s->write_error;
    }
    if (header_error != 0) {  // a full disk, say: said now, not when the run is over
        s->closed = true;     // nothing more to write
        s->stop();
        throw std::system_error(header_error, std::generic_category(),
                                "fronta::tracing: cannot write the trace file " + s->options.path.string());
    }
    s->writer = std::thread([raw = s.get()] {
        pthread_setname_np(pthread_self(), "fronta-trace");
        raw->writer_loop();
    });
    return s;
}

// FRONTA_TRACE: a trace for the whole program, from its first pool to its exit.
struct environment_trace {
    std::shared_ptr<tracing::session> session;
    ~environment_trace() {
        if (!session) return;
        if (const int error = session->stop())
            std::fprintf(stderr, "fronta: FRONTA_TRACE: writing %s failed: %s\n", session->options.path.c_str(),
                         std::strerror(error));
    }
};

// FRONTA_TRACE_MAX_TASKS: a whole number of tasks (0 or empty: no bound). Anything else (`-5`, `10k`, `all`)
// is said on stderr and ignored: the trace runs with no bound rather than with a guessed one.
std::size_t max_tasks_from(const char* text) {
    if (*text == '\0') return 0;  // set but empty: as if unset
    std::size_t n = 0;
    const char* end = text + std::strlen(text);
    const auto [at, error] = std::from_chars(text, end, n);
    if (error == std::errc() && at == end && at != text) return n;
    std::fprintf(stderr,
                 "fronta: FRONTA_TRACE_MAX_TASKS=%s is not a number of tasks (a whole number, 0 for no bound); "
                 "tracing with no bound\n",
                 text);
    return 0;
}

}  // namespace

namespace trace_impl {

void start_environment_trace(collector& c) {
    // Called with c.mutex not held, once.
    const char* path = std::getenv("FRONTA_TRACE");
    if (path == nullptr || *path == '\0' || std::strcmp(path, "0") == 0) return;
    static environment_trace holder;
    try {
        tracing_options options;
        options.path = path;
        if (const char* max = std::getenv("FRONTA_TRACE_MAX_TASKS")) options.max_tasks = max_tasks_from(max);
        holder.session = start_session(std::move(options), true);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fronta: FRONTA_TRACE=%s: %s; not tracing\n", path, e.what());
    }
    (void)c;
}

}  // namespace trace_impl

namespace detail {

std::string json_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 8);
    for (const char ch : text) {
        const auto u = static_cast<unsigned char>(ch);
        switch (ch) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (u < 0x20 || u == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", u);
                    out += buf;
                } else {
                    out.push_back(ch);  // UTF-8 passes through; invalid bytes are the reader's problem
                }
        }
    }
    return out;
}

}  // namespace detail

// ---- fronta::tracing -------------------------------------------------------------------------------
std::filesystem::path trace_records_path(const std::filesystem::path& trace) {
    std::string text = trace.string();
    if (trace.extension() == ".json") return text + "l";
    return text + ".jsonl";
}

tracing::tracing(std::filesystem::path path) : tracing(tracing_options{.path = std::move(path)}) {}

tracing::tracing(tracing_options options) : path_(options.path) { session_ = start_session(std::move(options), false); }

tracing::~tracing() {
    if (!session_) return;
    if (const int error = session_->stop())
        std::fprintf(stderr, "fronta::tracing: writing %s failed: %s\n", path_.c_str(), std::strerror(error));
}

void tracing::close() {
    if (const int error = session_->stop())
        throw std::system_error(error, std::generic_category(), "fronta::tracing: writing " + path_.string());
}

void tracing::flush() {
    std::lock_guard w(session_->writing);
    if (session_->closed) return;
    session_->write_out();
    if (session_->write_error != 0)
        throw std::system_error(session_->write_error, std::generic_category(),
                                "fronta::tracing: writing " + path_.string());
}

void tracing::write_report(const std::filesystem::path& html) {
    close();
    write_trace_report(path_, html);
}

const std::filesystem::path& tracing::path() const noexcept { return path_; }
std::filesystem::path tracing::records_path() const { return session_->records_path; }
std::size_t tracing::tasks() {
    std::lock_guard w(session_->writing);
    if (!session_->closed) session_->write_out();
    return session_->recorded.load(std::memory_order_relaxed);
}

}  // namespace fronta
