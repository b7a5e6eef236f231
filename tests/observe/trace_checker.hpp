#pragma once
// A checker for Chrome Trace Event files (the JSON that chrome://tracing and Perfetto UI open),
// written apart from fronta's recorder so the tests do not check the writer against itself.
//
//   auto check = fronta::test::check_trace_file("run.json", {.require_names = true});
//   EXPECT_TRUE(check.ok()) << check.report();
//   EXPECT_EQ(check.summary.tasks, 1000u);
//
// Each problem is one line: "<rule>: event #<index> (ph, name, ts, pid/tid): what is wrong".
// The rules (names as in the problems; the tests are named after them):
//   json              the text parses as JSON; an array whose closing ']' is missing (a writer
//                     killed mid-run; a trailing ',' too) is accepted, as chrome://tracing and
//                     Perfetto accept it, with a note, not a problem. A torn last event is a problem.
//   top_level         an array of events, or an object whose "traceEvents" is one
//                     ("displayTimeUnit", if there, "ms" or "ns")
//   event_object      every event is a JSON object
//   phase             "ph" is a one-letter string of the Trace Event format's known set
//   fields            "name" a string (optional on E), "pid" an integer, "tid" an integer where the
//                     event is on a thread's track (B, E, X, thread-scoped i/I, s, t, f, thread_*
//                     metadata), "ts" a number (optional on M), "cat" a string, "args" an object;
//                     async events (b/n/e, S/T/p/F) have an "id" or "id2"
//   complete_dur      an X event has a number "dur" >= 0
//   counter_args      a C event has "args" with at least one value, all numbers
//   metadata          an M event is process_name/thread_name (args.name a string),
//                     process_sort_index/thread_sort_index (args.sort_index an integer),
//                     process_labels (args.labels a string) or num_cpus (args.number a number)
//   instant_scope     an i/I event's "s", if there, is "g", "p" or "t"
//   flow_fields       s/t/f have "cat", "name" and an "id" (an integer >= 0 or a hex string, as
//                     Perfetto reads it); an f's "bp", if there, is "e"
//   begin_end         per track (pid, tid), in file order: B/E timestamps do not go backwards, each E
//                     closes an open B (of the same name, if it has one), no B is left open (a note,
//                     not a problem, in a truncated file)
//   nesting           per track, slices (X, B/E pairs, thread-scoped instants) nest: no slice starts
//                     inside another and ends after it. Slack: 10 ns (0.01 us) of float rounding.
//   same_start_order  per track, of two slices that start at the same time the enclosing one comes
//                     first in the file (chrome://tracing and Perfetto nest ties in file order)
//   flow_ids          no flow id is started twice (Perfetto and chrome://tracing drop the second),
//                     nor ended twice
//   flow_match        every s has one f with the same cat, name and id, later (ts, then file order);
//                     every f and t has its s before it (an s left open is a note in a truncated file)
//   flow_binding      each flow end point is bound to a slice on its track, as the viewers bind it:
//                     s, t, and f with bp "e" to a slice enclosing its ts; f without bp to the next
//                     slice starting at or after its ts. Perfetto binds while reading, ties in file
//                     order: a slice starting at the very ts of an enclosed flow event must come
//                     before it in the file (after it, for an f without bp).
//   names             (only with require_names) every process with events has a process_name, and
//                     every thread track a thread_name metadata event
// Times are compared as Perfetto does: in integer nanoseconds (ts and dur in us * 1000, rounded).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fronta::test {

// What the trace holds (counted whatever the problems).
struct trace_summary {
    std::size_t events = 0;             // elements of the event array
    std::size_t slices = 0;             // X events and closed B/E pairs
    std::size_t tasks = 0;              // X events whose cat (a comma-separated list) has "task"
    std::size_t flows = 0;              // s events matched by an f
    std::size_t counters = 0;           // C events
    std::size_t instants = 0;           // i/I events
    std::size_t metadata = 0;           // M events
    std::size_t processes = 0;          // pids with events other than metadata
    std::size_t threads = 0;            // (pid, tid) tracks with thread events
    std::size_t unnamed_processes = 0;  // of those, without a process_name
    std::size_t unnamed_threads = 0;    // without a thread_name
    std::map<std::string, std::size_t> tasks_by_name;
    std::map<std::pair<std::int64_t, std::int64_t>, std::size_t> tasks_by_track;  // (pid, tid)
    std::map<std::int64_t, std::string> process_names;
    std::map<std::pair<std::int64_t, std::int64_t>, std::string> thread_names;
};

struct trace_check {
    std::vector<std::string> problems;  // at most 1,000 listed, then one line saying how many more
    std::vector<std::string> notes;     // acceptable, but worth knowing (e.g. the file is truncated)
    bool truncated = false;             // an array with no closing ']' (the writer did not finish)
    trace_summary summary;

    bool ok() const { return problems.empty(); }
    bool has(std::string_view rule) const;  // a problem of this rule was reported
    std::string report() const;             // problems and notes, one per line
};

struct trace_check_options {
    bool require_names = false;  // the "names" rule: fronta's traces name every process and thread
};

trace_check check_trace_text(std::string_view text, const trace_check_options& options = {});
// A file that cannot be read is one problem (rule "file").
trace_check check_trace_file(const std::filesystem::path& path, const trace_check_options& options = {});

}  // namespace fronta::test
