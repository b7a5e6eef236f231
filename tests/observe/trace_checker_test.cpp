// The Trace Event checker: a good trace passes, and each rule broken once, in a small hand-written
// trace, is reported under that rule's name (one test per rule).
#include "observe/trace_checker.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

using fronta::test::check_trace_file;
using fronta::test::check_trace_text;
using fronta::test::trace_check;

// The names every track of the small traces below has (pid 1: tids 1 and 2).
const std::string names =
    R"j({"ph":"M","name":"process_name","pid":1,"tid":0,"args":{"name":"fronta client (pid 1)"}},
{"ph":"M","name":"thread_name","pid":1,"tid":1,"args":{"name":"main"}},
{"ph":"M","name":"thread_name","pid":1,"tid":2,"args":{"name":"thread_pool 1 worker 0"}})j";

std::string trace(const std::vector<std::string>& events) {
    std::string text = "[\n" + names;
    for (const auto& e : events) text += ",\n" + e;
    return text + "\n]\n";
}

std::string x(int tid, double ts, double dur, const std::string& name = "work", const std::string& cat = "task") {
    char buf[256];
    std::snprintf(buf, sizeof buf, R"({"ph":"X","cat":"%s","name":"%s","pid":1,"tid":%d,"ts":%.3f,"dur":%.3f})",
                  cat.c_str(), name.c_str(), tid, ts, dur);
    return buf;
}

std::string flow(char ph, int tid, double ts, int id, const std::string& extra = "") {
    char buf[256];
    std::snprintf(buf, sizeof buf, R"({"ph":"%c","cat":"flow","name":"submit","id":%d,"pid":1,"tid":%d,"ts":%.3f%s})",
                  ph, id, tid, ts, extra.c_str());
    return buf;
}

// A submit slice with its s on the main thread, the task slice with its f on the worker.
std::vector<std::string> task(int id, double submit, double start, double run, const std::string& fn = "square") {
    return {x(1, submit, 0.5, "submit", "submit"), flow('s', 1, submit, id), x(2, start, run, fn),
            flow('f', 2, start, id, R"(,"bp":"e")")};
}

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// Exactly the rule expected, and no other.
void expect_only(const trace_check& check, const std::string& rule) {
    ASSERT_FALSE(check.problems.empty()) << "expected a " << rule << " problem";
    for (const auto& p : check.problems) EXPECT_EQ(p.substr(0, rule.size() + 1), rule + ":") << p;
}

TEST(trace_checker, a_good_trace_passes_and_is_summarised) {
    auto events =
        task(1, 10, 12, 5) + task(2, 11, 17, 3, "cube") + task(3, 30, 31, 2) +
        std::vector<std::string>{R"({"ph":"C","name":"thread_pool 1","pid":1,"ts":12,"args":{"queued":1,"running":1}})",
                                 R"({"ph":"i","s":"p","cat":"pool","name":"worker_started","pid":1,"tid":2,"ts":5})",
                                 R"({"ph":"B","name":"outer","pid":1,"tid":1,"ts":40})",
                                 x(1, 41, 2, "inner", "serialize"), R"({"ph":"E","pid":1,"tid":1,"ts":45})"};
    auto check = check_trace_text(trace(events), {.require_names = true});
    EXPECT_TRUE(check.ok()) << check.report();
    EXPECT_TRUE(check.notes.empty()) << check.report();
    EXPECT_FALSE(check.truncated);
    const auto& s = check.summary;
    EXPECT_EQ(s.events, 3u + events.size());
    EXPECT_EQ(s.tasks, 3u);
    EXPECT_EQ(s.tasks_by_name.at("square"), 2u);
    EXPECT_EQ(s.tasks_by_name.at("cube"), 1u);
    EXPECT_EQ((s.tasks_by_track.at({1, 2})), 3u);
    EXPECT_EQ(s.slices, 3u * 2 + 2);  // submit and task slices, the serialize X, the B/E pair
    EXPECT_EQ(s.flows, 3u);
    EXPECT_EQ(s.counters, 1u);
    EXPECT_EQ(s.instants, 1u);
    EXPECT_EQ(s.metadata, 3u);
    EXPECT_EQ(s.processes, 1u);
    EXPECT_EQ(s.threads, 2u);
    EXPECT_EQ(s.unnamed_processes + s.unnamed_threads, 0u);
    EXPECT_EQ(s.thread_names.at({1, 2}), "thread_pool 1 worker 0");
}

TEST(trace_checker, object_format_with_trace_events_passes) {
    std::string text = R"({"traceEvents":[)" + x(1, 1, 1) + R"(],"displayTimeUnit":"ns","otherData":{"v":1}})";
    auto check = check_trace_text(text);
    EXPECT_TRUE(check.ok()) << check.report();
    EXPECT_EQ(check.summary.tasks, 1u);
}

TEST(trace_checker, truncated_array_passes_with_a_note) {
    // A killed writer: no closing ']', with and without the ',' after the last event.
    for (std::string tail : {",\n", "\n", ","}) {
        std::string text = "[\n" + names + ",\n" + x(1, 1, 1) + tail;
        auto check = check_trace_text(text, {.require_names = true});
        EXPECT_TRUE(check.ok()) << check.report();
        EXPECT_TRUE(check.truncated);
        ASSERT_EQ(check.notes.size(), 1u);
        EXPECT_NE(check.notes[0].find("truncated"), std::string::npos);
        EXPECT_EQ(check.summary.tasks, 1u);
    }
    // What a killed run leaves open (a flow not yet ended, a B not yet closed) is a note there too.
    std::string text = "[\n" + names + ",\n" + x(1, 1, 1) + ",\n" + flow('s', 1, 1, 9) + ",\n" +
                       R"({"ph":"B","name":"open","pid":1,"tid":2,"ts":3})" + ",\n";
    auto check = check_trace_text(text);
    EXPECT_TRUE(check.ok()) << check.report();
    EXPECT_EQ(check.notes.size(), 3u) << check.report();
}

TEST(trace_checker, json_a_torn_last_event_or_bad_text_is_a_problem) {
    expect_only(check_trace_text("[\n" + names + ",\n{\"ph\":\"X\",\"na"), "json");
    expect_only(check_trace_text("[{\"ph\":\"X\",}]"), "json");
    expect_only(check_trace_text(""), "json");
    auto check = check_trace_text("[\n" + names + ",\n{\"ph\":\"X\",\"na");
    EXPECT_NE(check.problems.at(0).find("cut off"), std::string::npos) << check.report();
}

TEST(trace_checker, top_level_must_be_an_array_or_trace_events) {
    expect_only(check_trace_text("42"), "top_level");
    expect_only(check_trace_text(R"({"events":[]})"), "top_level");
    expect_only(check_trace_text(R"({"traceEvents":[],"displayTimeUnit":"s"})"), "top_level");
}

TEST(trace_checker, event_object_every_event_is_an_object) {
    expect_only(check_trace_text(trace({"1"})), "event_object");
}

TEST(trace_checker, phase_is_a_known_letter) {
    expect_only(check_trace_text(trace({R"({"name":"a","pid":1,"tid":1,"ts":1})"})), "phase");
    expect_only(check_trace_text(trace({R"({"ph":"Z","name":"a","pid":1,"tid":1,"ts":1})"})), "phase");
    expect_only(check_trace_text(trace({R"({"ph":"XX","name":"a","pid":1,"tid":1,"ts":1})"})), "phase");
}

TEST(trace_checker, fields_name_pid_tid_ts_have_their_types) {
    expect_only(check_trace_text(trace({R"({"ph":"X","pid":1,"tid":1,"ts":1,"dur":1})"})), "fields");
    expect_only(check_trace_text(trace({R"({"ph":"X","name":"a","pid":"1","tid":1,"ts":1,"dur":1})"})), "fields");
    expect_only(check_trace_text(trace({R"({"ph":"X","name":"a","pid":1,"tid":1.5,"ts":1,"dur":1})"})), "fields");
    expect_only(check_trace_text(trace({R"({"ph":"X","name":"a","pid":1,"ts":1,"dur":1})"})), "fields");
    expect_only(check_trace_text(trace({R"({"ph":"X","name":"a","pid":1,"tid":1,"ts":"1","dur":1})"})), "fields");
    expect_only(check_trace_text(trace({R"({"ph":"X","name":"a","pid":1,"tid":1,"dur":1})"})), "fields");
    expect_only(check_trace_text(trace({R"({"ph":"X","name":"a","cat":7,"pid":1,"tid":1,"ts":1,"dur":1})"})), "fields");
    expect_only(check_trace_text(trace({R"({"ph":"X","name":"a","pid":1,"tid":1,"ts":1,"dur":1,"args":[]})"})),
                "fields");
    expect_only(check_trace_text(trace({R"({"ph":"b","cat":"c","name":"a","pid":1,"tid":1,"ts":1})"})), "fields");
    // Counters and process-scoped instants need no tid; an E needs no name.
    auto check = check_trace_text(trace(
        {R"({"ph":"C","name":"q","pid":1,"ts":1,"args":{"n":1}})", R"({"ph":"i","s":"p","name":"q","pid":1,"ts":1})",
         R"({"ph":"B","name":"a","pid":1,"tid":1,"ts":1})", R"({"ph":"E","pid":1,"tid":1,"ts":2})"}));
    EXPECT_TRUE(check.ok()) << check.report();
}

TEST(trace_checker, complete_dur_is_a_number_at_least_zero) {
    expect_only(check_trace_text(trace({R"({"ph":"X","name":"a","pid":1,"tid":1,"ts":1})"})), "complete_dur");
    expect_only(check_trace_text(trace({x(1, 1, -1)})), "complete_dur");
    expect_only(check_trace_text(trace({R"({"ph":"X","name":"a","pid":1,"tid":1,"ts":1,"dur":"2"})"})), "complete_dur");
    EXPECT_TRUE(check_trace_text(trace({x(1, 1, 0)})).ok());
}

TEST(trace_checker, counter_args_are_numbers) {
    expect_only(check_trace_text(trace({R"({"ph":"C","name":"q","pid":1,"ts":1,"args":{"n":"5"}})"})), "counter_args");
    expect_only(check_trace_text(trace({R"({"ph":"C","name":"q","pid":1,"ts":1})"})), "counter_args");
    expect_only(check_trace_text(trace({R"({"ph":"C","name":"q","pid":1,"ts":1,"args":{}})"})), "counter_args");
}

TEST(trace_checker, metadata_names_and_args) {
    expect_only(check_trace_text(trace({R"({"ph":"M","name":"process_name","pid":2,"args":{}})"})), "metadata");
    expect_only(check_trace_text(trace({R"({"ph":"M","name":"thread_name","pid":2,"tid":3,"args":{"name":4}})"})),
                "metadata");
    expect_only(check_trace_text(
                    trace({R"({"ph":"M","name":"thread_sort_index","pid":2,"tid":3,"args":{"sort_index":"1"}})"})),
                "metadata");
    expect_only(check_trace_text(trace({R"({"ph":"M","name":"process_colour","pid":2,"args":{"name":"x"}})"})),
                "metadata");
    auto check = check_trace_text(trace({R"({"ph":"M","name":"process_sort_index","pid":2,"args":{"sort_index":-1}})",
                                         R"({"ph":"M","name":"process_labels","pid":2,"args":{"labels":"a,b"}})"}));
    EXPECT_TRUE(check.ok()) << check.report();
}

TEST(trace_checker, instant_scope_is_g_p_or_t) {
    expect_only(check_trace_text(trace({R"({"ph":"i","s":"x","name":"a","pid":1,"tid":1,"ts":1})"})), "instant_scope");
    auto check = check_trace_text(trace({R"({"ph":"i","s":"g","name":"a","pid":1,"tid":1,"ts":1})",
                                         R"({"ph":"I","s":"t","name":"a","pid":1,"tid":1,"ts":1})",
                                         R"({"ph":"i","name":"a","pid":1,"tid":1,"ts":2})"}));
    EXPECT_TRUE(check.ok()) << check.report();
}

TEST(trace_checker, flow_fields_id_cat_name_and_bp) {
    auto slices = std::vector<std::string>{x(1, 0, 10), x(2, 0, 10)};
    expect_only(check_trace_text(trace(
                    slices + std::vector<std::string>{R"({"ph":"s","cat":"flow","name":"n","pid":1,"tid":1,"ts":1})"})),
                "flow_fields");
    expect_only(check_trace_text(
                    trace(slices + std::vector<std::string>{R"({"ph":"s","name":"n","id":1,"pid":1,"tid":1,"ts":1})"})),
                "flow_fields");
    expect_only(check_trace_text(trace(
                    slices +
                    std::vector<std::string>{R"({"ph":"s","cat":"c","name":"n","id":"zz","pid":1,"tid":1,"ts":1})"})),
                "flow_fields");
    // (An f with a bad bp is dropped, as chrome://tracing drops it: its s is then left unmatched.)
    auto bad_bp = check_trace_text(
        trace(slices + std::vector<std::string>{flow('s', 1, 1, 1), flow('f', 2, 2, 1, R"(,"bp":"x")")}));
    EXPECT_TRUE(bad_bp.has("flow_fields")) << bad_bp.report();
    // A hex string id is the same flow as the number, as Perfetto reads it.
    auto check = check_trace_text(
        trace(slices +
              std::vector<std::string>{R"({"ph":"s","cat":"flow","name":"submit","id":"0x11","pid":1,"tid":1,"ts":1})",
                                       flow('f', 2, 2, 17, R"(,"bp":"e")")}));
    EXPECT_TRUE(check.ok()) << check.report();
    EXPECT_EQ(check.summary.flows, 1u);
}

TEST(trace_checker, begin_end_balanced_per_track) {
    expect_only(check_trace_text(trace({R"({"ph":"E","pid":1,"tid":1,"ts":2})"})), "begin_end");
    expect_only(check_trace_text(trace({R"({"ph":"B","name":"a","pid":1,"tid":1,"ts":2})"})), "begin_end");
    expect_only(check_trace_text(trace({R"({"ph":"B","name":"a","pid":1,"tid":1,"ts":2})",
                                        R"({"ph":"E","name":"b","pid":1,"tid":1,"ts":3})"})),
                "begin_end");
    // Timestamps going back on a track, in file order (chrome://tracing drops the event).
    expect_only(check_trace_text(
                    trace({R"({"ph":"B","name":"a","pid":1,"tid":1,"ts":5})",
                           R"({"ph":"B","name":"b","pid":1,"tid":1,"ts":6})", R"({"ph":"E","pid":1,"tid":1,"ts":4})",
                           R"({"ph":"E","pid":1,"tid":1,"ts":7})", R"({"ph":"E","pid":1,"tid":1,"ts":8})"})),
                "begin_end");
    // Another track's B does not close this one's E.
    expect_only(check_trace_text(
                    trace({R"({"ph":"B","name":"a","pid":1,"tid":2,"ts":2})", R"({"ph":"E","pid":1,"tid":1,"ts":3})",
                           R"({"ph":"E","pid":1,"tid":2,"ts":3})"})),
                "begin_end");
}

TEST(trace_checker, nesting_no_partial_overlap_per_track) {
    expect_only(check_trace_text(trace({x(1, 0, 10, "a"), x(1, 5, 10, "b")})), "nesting");
    // B/E pairs and X slices nest together.
    expect_only(check_trace_text(trace({R"({"ph":"B","name":"a","pid":1,"tid":1,"ts":0})", x(1, 5, 10, "b"),
                                        R"({"ph":"E","pid":1,"tid":1,"ts":10})"})),
                "nesting");
    // The problem names both slices.
    auto check = check_trace_text(trace({x(1, 0, 10, "outer"), x(1, 5, 10, "late")}));
    ASSERT_EQ(check.problems.size(), 1u) << check.report();
    EXPECT_NE(check.problems[0].find("\"late\""), std::string::npos) << check.problems[0];
    EXPECT_NE(check.problems[0].find("\"outer\""), std::string::npos) << check.problems[0];
    // Overlap on different tracks, back-to-back slices, and nested ones are fine.
    EXPECT_TRUE(check_trace_text(trace({x(1, 0, 10), x(2, 5, 10), x(1, 10, 5), x(1, 11, 2), x(1, 11, 1)})).ok());
}

TEST(trace_checker, nesting_allows_ten_nanoseconds_of_rounding) {
    // A child ending 0.005 us after its parent, or a slice starting 0.008 us before the previous
    // one ends, is float rounding; 0.02 us is not.
    EXPECT_TRUE(check_trace_text(trace({x(1, 0, 10), x(1, 5, 5.005)})).ok());
    EXPECT_TRUE(check_trace_text(trace({x(1, 0, 10), x(1, 9.992, 5)})).ok());
    EXPECT_TRUE(check_trace_text(trace({x(1, 0.004, 10), x(1, 0, 5)})).ok());  // the parent starts a hair later
    expect_only(check_trace_text(trace({x(1, 0, 10), x(1, 5, 5.02)})), "nesting");
}

TEST(trace_checker, same_start_order_the_enclosing_slice_comes_first) {
    expect_only(check_trace_text(trace({x(1, 0, 2, "child"), x(1, 0, 10, "parent")})), "same_start_order");
    EXPECT_TRUE(check_trace_text(trace({x(1, 0, 10, "parent"), x(1, 0, 2, "child")})).ok());
}

TEST(trace_checker, flow_ids_are_not_reused) {
    auto slices = std::vector<std::string>{x(1, 0, 100, "a"), x(2, 0, 100, "b")};
    expect_only(check_trace_text(
                    trace(slices + std::vector<std::string>{flow('s', 1, 1, 5), flow('f', 2, 2, 5, R"(,"bp":"e")"),
                                                            flow('s', 1, 3, 5), flow('f', 2, 4, 5, R"(,"bp":"e")")})),
                "flow_ids");
    expect_only(check_trace_text(
                    trace(slices + std::vector<std::string>{flow('s', 1, 1, 5), flow('f', 2, 2, 5, R"(,"bp":"e")"),
                                                            flow('f', 2, 4, 5, R"(,"bp":"e")")})),
                "flow_ids");
}

TEST(trace_checker, flow_match_every_start_has_one_end) {
    auto slices = std::vector<std::string>{x(1, 0, 100, "a"), x(2, 0, 100, "b")};
    expect_only(check_trace_text(trace(slices + std::vector<std::string>{flow('s', 1, 1, 5)})), "flow_match");
    expect_only(check_trace_text(trace(slices + std::vector<std::string>{flow('f', 2, 2, 5, R"(,"bp":"e")")})),
                "flow_match");
    // The end before the start (by ts; at the same ts, by file order).
    auto check = check_trace_text(
        trace(slices + std::vector<std::string>{flow('s', 1, 5, 5), flow('f', 2, 2, 5, R"(,"bp":"e")")}));
    EXPECT_TRUE(check.has("flow_match")) << check.report();
    check = check_trace_text(
        trace(slices + std::vector<std::string>{flow('f', 2, 2, 5, R"(,"bp":"e")"), flow('s', 1, 2, 5)}));
    EXPECT_TRUE(check.has("flow_match")) << check.report();
    // A step between start and end is fine; a step with no start is not.
    check = check_trace_text(trace(
        slices + std::vector<std::string>{flow('s', 1, 1, 5), flow('t', 2, 2, 5), flow('f', 2, 3, 5, R"(,"bp":"e")")}));
    EXPECT_TRUE(check.ok()) << check.report();
    expect_only(check_trace_text(trace(slices + std::vector<std::string>{flow('t', 2, 2, 6)})), "flow_match");
    // Same id, another cat: not the same flow.
    check = check_trace_text(
        trace(slices + std::vector<std::string>{
                           flow('s', 1, 1, 5),
                           R"({"ph":"f","bp":"e","cat":"other","name":"submit","id":5,"pid":1,"tid":2,"ts":3})"}));
    EXPECT_TRUE(check.has("flow_match")) << check.report();
    EXPECT_EQ(check.summary.flows, 0u);
}

TEST(trace_checker, flow_binding_each_end_point_is_on_a_slice) {
    // The s outside any slice of its track.
    expect_only(check_trace_text(
                    trace({x(1, 0, 1), x(2, 0, 100), flow('s', 1, 5, 1), flow('f', 2, 6, 1, R"(,"bp":"e")")})),
                "flow_binding");
    // The f with bp "e" outside any slice (a slice on another track does not count).
    expect_only(check_trace_text(trace(
                    {x(1, 0, 10), x(2, 0, 1), x(1, 20, 10), flow('s', 1, 5, 1), flow('f', 2, 25, 1, R"(,"bp":"e")")})),
                "flow_binding");
    // An f without bp binds to the next slice to begin on its track: none here...
    expect_only(check_trace_text(trace({x(1, 0, 10), x(2, 0, 5), flow('s', 1, 5, 1), flow('f', 2, 6, 1)})),
                "flow_binding");
    // ...one here.
    EXPECT_TRUE(
        check_trace_text(trace({x(1, 0, 10), x(2, 0, 5), x(2, 8, 5), flow('s', 1, 5, 1), flow('f', 2, 6, 1)})).ok());
    // A flow event at the very start of its slice must come after it in the file: Perfetto binds
    // while reading and would find no slice open.
    expect_only(check_trace_text(
                    trace({x(1, 0, 10), flow('s', 1, 1, 1), flow('f', 2, 12, 1, R"(,"bp":"e")"), x(2, 12, 5)})),
                "flow_binding");
    EXPECT_TRUE(
        check_trace_text(trace({x(1, 0, 10), flow('s', 1, 1, 1), x(2, 12, 5), flow('f', 2, 12, 1, R"(,"bp":"e")")}))
            .ok());
    // Inside a nested slice whose parent started earlier, and at a slice's end, are bound.
    EXPECT_TRUE(check_trace_text(trace({x(1, 0, 100), x(1, 10, 5), x(1, 20, 5), flow('s', 1, 50, 1), x(2, 60, 5),
                                        flow('f', 2, 65, 1, R"(,"bp":"e")")}))
                    .ok());
}

TEST(trace_checker, names_are_required_only_when_asked) {
    std::string text = R"([{"ph":"X","cat":"task","name":"a","pid":7,"tid":8,"ts":1,"dur":1},
{"ph":"C","name":"q","pid":9,"ts":1,"args":{"n":1}}])";
    auto lenient = check_trace_text(text);
    EXPECT_TRUE(lenient.ok()) << lenient.report();
    EXPECT_EQ(lenient.summary.unnamed_processes, 2u);
    EXPECT_EQ(lenient.summary.unnamed_threads, 1u);
    auto strict = check_trace_text(text, {.require_names = true});
    expect_only(strict, "names");
    EXPECT_EQ(strict.problems.size(), 3u) << strict.report();
}

TEST(trace_checker, problems_are_listed_up_to_a_thousand) {
    std::vector<std::string> events;
    for (int i = 0; i < 1500; ++i) events.push_back(x(1, i, -1));
    auto check = check_trace_text(trace(events));
    ASSERT_EQ(check.problems.size(), 1001u);
    EXPECT_NE(check.problems.back().find("500 more"), std::string::npos) << check.problems.back();
}

TEST(trace_checker, check_trace_file_reads_a_file_and_reports_one_it_cannot) {
    auto path = std::filesystem::temp_directory_path() / ("trace_checker_test_" + std::to_string(::getpid()) + ".json");
    std::ofstream(path) << trace(task(1, 1, 2, 3));
    auto check = check_trace_file(path);
    EXPECT_TRUE(check.ok()) << check.report();
    EXPECT_EQ(check.summary.tasks, 1u);
    std::filesystem::remove(path);
    auto missing = check_trace_file(path);
    expect_only(missing, "file");
}

// check_trace FILE...: prints each file's summary and problems; exit status 1 when any has one.
struct program_run {
    int status;
    std::string output;
};

program_run run_check_trace(const std::string& arguments) {
    std::string command = std::string(CHECK_TRACE_PROGRAM) + " " + arguments + " 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) return {-1, "popen failed"};
    std::string output;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
    int status = ::pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(trace_checker, check_trace_prints_problems_and_exits_1) {
    auto dir = std::filesystem::temp_directory_path() / ("check_trace_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "good.json") << trace(task(1, 1, 2, 3));
    std::ofstream(dir / "unnamed.json") << "[" + x(1, 0, 1) + "]";
    std::ofstream(dir / "overlap.json") << trace({x(1, 0, 10, "a"), x(1, 5, 10, "b")});
    auto good = run_check_trace((dir / "good.json").string());
    EXPECT_EQ(good.status, 0) << good.output;
    EXPECT_NE(good.output.find("ok: 7 events"), std::string::npos) << good.output;
    EXPECT_NE(good.output.find("1 tasks"), std::string::npos) << good.output;
    auto lenient = run_check_trace((dir / "unnamed.json").string());
    EXPECT_EQ(lenient.status, 0) << lenient.output;
    auto strict = run_check_trace("--require-names " + (dir / "unnamed.json").string());
    EXPECT_EQ(strict.status, 1) << strict.output;
    EXPECT_NE(strict.output.find("problem: names:"), std::string::npos) << strict.output;
    auto both = run_check_trace((dir / "good.json").string() + " " + (dir / "overlap.json").string());
    EXPECT_EQ(both.status, 1) << both.output;
    EXPECT_NE(both.output.find("problem: nesting: event #4"), std::string::npos) << both.output;
    EXPECT_EQ(run_check_trace("").status, 2);
    std::filesystem::remove_all(dir);
}

// A run of `tasks` tasks on 2 workers: per task a submit slice and s on the main thread, a task
// slice and f on a worker, and a counter (5 events a task).
std::string generated_trace(int tasks) {
    std::string text = "[\n" + names + R"(,{"ph":"M","name":"thread_name","pid":1,"tid":3,"args":{"name":"worker 1"}})";
    char buf[512];
    for (int i = 0; i < tasks; ++i) {
        double submit = i * 1.0, start = submit + 3.0 + (i % 2) * 0.1;
        int tid = 2 + i % 2;
        std::snprintf(buf, sizeof buf,
                      ",\n"
                      R"({"ph":"X","cat":"submit","name":"submit","pid":1,"tid":1,"ts":%.3f,"dur":0.5})"
                      ",\n"
                      R"({"ph":"s","cat":"flow","name":"submit","id":%d,"pid":1,"tid":1,"ts":%.3f})"
                      ",\n"
                      R"({"ph":"X","cat":"task","name":"f%d","pid":1,"tid":%d,"ts":%.3f,"dur":1.9})"
                      ",\n"
                      R"({"ph":"f","bp":"e","cat":"flow","name":"submit","id":%d,"pid":1,"tid":%d,"ts":%.3f})"
                      ",\n"
                      R"({"ph":"C","name":"pool","pid":1,"ts":%.3f,"args":{"queued":%d,"running":2}})",
                      submit, i, submit, i % 3, tid, start, i, tid, start, start, i % 5);
        text += buf;
    }
    return text + "\n]\n";
}

// CPU time of this thread, so that other processes on the machine do not count.
double cpu_seconds() {
    timespec t{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

double seconds_to_check(const std::string& text) {
    double began = cpu_seconds();
    auto check = check_trace_text(text, {.require_names = true});
    EXPECT_TRUE(check.ok()) << check.report();
    return cpu_seconds() - began;
}

TEST(trace_checker, a_large_trace_checks_in_reasonable_time) {
    constexpr int tasks = 20'000;  // 100,000 events, 20,000 slices on the main thread's track
    auto large = generated_trace(tasks);
    auto check = check_trace_text(large, {.require_names = true});
    EXPECT_TRUE(check.ok()) << check.report();
    EXPECT_EQ(check.summary.events, 4u + 5u * tasks);
    EXPECT_EQ(check.summary.tasks, std::size_t(tasks));
    EXPECT_EQ(check.summary.flows, std::size_t(tasks));
    EXPECT_EQ(check.summary.threads, 3u);
    // In CPU time, against a trace ten times smaller: O(n log n) costs ~12 times as much (measured
    // 0.29 s against 0.024 s, optimised); a linear search per flow over its track's slices already
    // ~28 times, and a pass over all pairs of slices more. Each the best of a few runs.
    auto small = generated_trace(tasks / 10);
    double small_seconds = std::min({seconds_to_check(small), seconds_to_check(small), seconds_to_check(small)});
    double large_seconds = std::min(seconds_to_check(large), seconds_to_check(large));
    std::printf("checked 100,000 events in %.3f s, 10,000 in %.3f s (CPU)\n", large_seconds, small_seconds);
    EXPECT_LT(large_seconds, 22 * small_seconds);
}

}  // namespace
