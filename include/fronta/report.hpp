#pragma once
/// @file report.hpp
/// @brief `fronta::write_trace_report(trace, html)`: one self-contained HTML page from a trace
/// (what `fronta-report run.json -o run.html` and `tracing::write_report(path)` write).
/// @code
/// fronta::write_trace_report("run.json", "run.html");   // reads run.jsonl, the records file
/// @endcode
/// The page needs no network (CSS and script inline) and shows: a task stream (one row per
/// worker, marks coloured by function, remote transfer and reply as lighter ends around the
/// run), utilisation and queue depth over time, a table per function (count, run time total,
/// mean, p50, p99, failures, retries, bytes each way), the failures with their messages, the
/// pool events and the run's settings, and says so when the run did not finish.

#include <cstddef>
#include <filesystem>

namespace fronta {

struct report_options {
    /// Above this many tasks the task stream draws, per worker, time bins coloured by the
    /// function that ran longest in each (so a report of a million tasks stays a few MB).
    std::size_t max_marks = 20000;
    /// How many failures are listed with their messages (all are counted).
    std::size_t max_failures = 100;
    /// How many time bins the utilisation and queue-depth chart has.
    std::size_t time_bins = 1000;
};

/// Reads the records of a trace and writes the report. `trace` is the `.json` trace (the records
/// file beside it is read: `run.json` -> `run.jsonl`) or the `.jsonl` records file itself.
/// A torn last line (a killed program) is ignored and the page says the run did not finish.
/// Throws std::runtime_error naming the file and what is wrong: a file that cannot be read, a
/// file that is not a fronta trace, a malformed line (with its number), an unwritable `html`.
void write_trace_report(const std::filesystem::path& trace, const std::filesystem::path& html,
                        const report_options& options = {});

}  // namespace fronta
