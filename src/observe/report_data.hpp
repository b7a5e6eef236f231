#pragma once
// What the report shows, computed from a records file (docs: notes trace-format, "Records file").
// read_trace parses and aggregates; render_report turns the result into the HTML page. Both are
// apart so the tests can check the numbers without a browser.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "fronta/report.hpp"

namespace fronta::report {

using settings_list = std::vector<std::pair<std::string, std::string>>;  // name, value as JSON text

enum class outcome : std::uint8_t { ok, failed, cancelled, timeout, worker_died };
const char* outcome_name(outcome o);

struct pool_info {
    std::uint64_t id = 0;
    std::string name, executor;
    std::int64_t workers = 0;
    settings_list settings;
};

// One row of the task stream.
struct worker_row {
    std::uint64_t id = 0;
    std::uint64_t pool = 0;
    std::string pool_name, label, host;
    std::int64_t pid = 0, tid = 0, rank = -1;
    std::size_t tasks = 0;
    double busy_us = 0;
};

// Per function and pool; tasks of `summary` lines included.
struct function_stats {
    std::string fn, pool;
    std::uint32_t colour = 0;  // index into trace_data::function_names
    std::size_t count = 0, failures = 0, cancelled = 0, retries = 0;
    std::size_t summarized = 0;  // how many of `count` came from summary lines
    double total_run_us = 0, mean_us = 0, p50_us = 0, p99_us = 0;
    bool approximate = false;  // p50/p99 from log2 buckets (summary lines), not exact
    std::uint64_t bytes_out = 0, bytes_in = 0;
};

struct failure {
    std::uint64_t task = 0;
    std::string fn, pool, worker, error;
    outcome what = outcome::failed;
    double time_us = 0;
};

struct pool_event {
    double time_us = 0;
    std::uint64_t pool = 0, worker = 0;
    std::string event, detail;
};

// A task as the stream draws it (when there are at most max_marks of them).
struct mark {
    std::uint32_t row = 0, colour = 0;
    double start_us = 0, run_us = 0;
    float transfer_us = 0, reply_us = 0;
    outcome what = outcome::ok;
    std::uint64_t task = 0;
};

// Past max_marks: per row, time bins coloured by the function that ran longest in each.
struct cell {
    std::uint32_t row = 0, bin = 0, colour = 0;
    float busy = 0;                         // fraction of the bin the worker was running tasks
    std::uint32_t tasks = 0, failures = 0;  // tasks that started in the bin
};

struct trace_data {
    std::filesystem::path records;
    std::string program, host;
    std::int64_t pid = 0;
    double t0_unix_us = 0;
    settings_list settings;
    bool finished = false;        // an `end` line was read
    bool torn_last_line = false;  // a last line cut short was ignored
    std::size_t end_tasks = 0;    // what the end line says
    std::vector<pool_info> pools;
    std::vector<worker_row> workers;
    std::vector<std::string> function_names;  // colours: by name, in first-seen order
    std::vector<function_stats> functions;    // by pool, then name
    std::size_t tasks = 0;                    // task lines + tasks of summary lines
    std::size_t task_lines = 0;               // task lines
    std::size_t ran = 0;                      // task lines of tasks that ran (not cancelled): marks to draw
    std::size_t failure_count = 0;
    std::vector<failure> failures;  // the first max_failures, in time order
    std::vector<pool_event> events;
    double t_begin_us = 0, t_end_us = 0;  // the span the charts show
    std::int64_t workers_total = 0;       // workers of every pool
    // Per bin over [t_begin, t_end), time-weighted means: tasks running, tasks queued, and workers
    // available (of the pools in use then: from a pool's first submit to its last task's end).
    // Utilisation = running / capacity.
    std::vector<double> running, queued, capacity;
    std::vector<mark> marks;  // empty when aggregated
    bool aggregated = false;
    std::uint32_t cell_bins = 0;
    std::vector<cell> cells;  // when aggregated
};

// Reads a records file (.jsonl). Throws std::runtime_error naming the file and what is wrong.
trace_data read_trace(const std::filesystem::path& records, const report_options& options);

// The records file of a trace path: itself for .jsonl; run.json -> run.jsonl; other -> +.jsonl
// (a path whose records file is missing is checked for what it is, with a clear error).
std::filesystem::path records_path(const std::filesystem::path& trace);

std::string render_report(const trace_data& data);

}  // namespace fronta::report
