#pragma once
/// @file tracing.hpp
/// @brief `fronta::tracing trace("run.json")`: records every task of every pool of this process
/// until it is destroyed, as a Chrome trace (Perfetto UI and chrome://tracing open it) and, beside
/// it, one JSON line per task for programs (`run.jsonl`). `FRONTA_TRACE=run.json` does the same
/// for a whole program with no code change.
/// @code
/// fronta::tracing trace("run.json");
/// fronta::process_pool pool(4);
/// for (auto y : pool.map(simulate, runs)) use(y);
/// trace.write_report("run.html");   // or later: fronta-report run.json -o run.html
/// @endcode
/// Each task: its function, executor and worker (thread, process, MPI rank, host), when it was
/// submitted, started and ended, and for process and MPI pools its phases (serialize, queue,
/// transfer, run, reply, deserialize), bytes each way, retries, and how it ended (the error
/// message of a failed one). Pool events too (workers started, died, replaced, retired) and, at
/// the end, queue depth and tasks running over time. The file format is in docs/design.md,
/// "Traces".
///
/// Both files are written as the run goes (about once a second, `flush_interval`), so a program
/// killed while tracing leaves what it recorded up to then: the trace then lacks its closing `]`,
/// which the Trace Event format allows, and the records file its last line.
/// Memory: 64 bytes per task until it is written, then 24 bytes per task for the counters written
/// at the end; `max_tasks` bounds a long run.

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>

namespace fronta {

struct tracing_options {
    /// The Chrome trace (JSON); the records go beside it (`trace_records_path`).
    std::filesystem::path path;
    /// 0: every task is written. Otherwise only the first `max_tasks` tasks are written one by
    /// one; those after them are counted per function (count, run time and its distribution,
    /// failures, retries, bytes) in summary lines at the end, so a long run's trace stays bounded.
    std::size_t max_tasks = 0;
    /// How often what was recorded is written out.
    std::chrono::milliseconds flush_interval{1000};
};

/// Where the records (one JSON object per line) of the trace at `trace` go: `run.json` ->
/// `run.jsonl`, anything else -> path + `.jsonl`.
std::filesystem::path trace_records_path(const std::filesystem::path& trace);

/// Records while it lives. One trace at a time per process: a second one (or one while
/// FRONTA_TRACE records) throws std::logic_error naming the trace already recording. A path that
/// cannot be written (or a disk that refuses the files' first line) throws std::system_error here,
/// naming it, before anything runs; a write that fails later is thrown by flush() and close().
class tracing {
public:
    explicit tracing(std::filesystem::path path);
    explicit tracing(tracing_options options);
    /// Stops recording and writes the rest (an error writing is printed on stderr; call close()
    /// to have it thrown).
    ~tracing();
    tracing(const tracing&) = delete;
    tracing& operator=(const tracing&) = delete;

    /// Stops recording and writes the rest: the trace's closing `]`, the counters, the end line.
    /// Throws std::system_error if the files could not be written. Idempotent.
    void close();
    /// Writes what was recorded so far now (it is written every flush_interval anyway).
    void flush();
    /// Ends the trace (close()) and writes the HTML report of it to `html` (see
    /// <fronta/report.hpp> and the fronta-report program).
    void write_report(const std::filesystem::path& html);

    const std::filesystem::path& path() const noexcept;
    std::filesystem::path records_path() const;
    /// Tasks recorded so far (written one by one or counted in summaries); writes what was
    /// recorded first, as flush() does.
    std::size_t tasks();

    struct session;

private:
    std::shared_ptr<session> session_;
    std::filesystem::path path_;
};

}  // namespace fronta
