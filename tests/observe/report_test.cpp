// The report's numbers on small records files written here, every bad input, the page itself
// (self-contained, small with a million tasks) and the fronta-report program.
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <stdexcept>

#include "fronta/report.hpp"
#include "observe/report_data.hpp"
#include "report_helpers.hpp"

namespace {

using namespace report_test;
using fronta::report::read_trace;

const fronta::report::function_stats& stats(const fronta::report::trace_data& d, const std::string& fn) {
    for (const auto& f : d.functions)
        if (f.fn == fn) return f;
    throw std::runtime_error("no function " + fn);
}

// Expects `body` to throw std::runtime_error whose message contains every one of `parts`.
template <class Body>
void expect_error(Body body, const std::vector<std::string>& parts) {
    try {
        body();
        ADD_FAILURE() << "no error; expected one mentioning " << parts.front();
    } catch (const std::runtime_error& e) {
        for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
}

// 100 tasks of `a` running 1..100 µs on two threads, 10 of `b` on a process pool (transfer and
// reply, bytes), two failures with messages, one cancelled task of `a`.
std::string small_run() {
    std::vector<std::string> l = {header_line(),
                                  pool_line(1, "thread_pool", 2),
                                  pool_line(2, "process_pool", 1),
                                  worker_line(1, 1, "t0"),
                                  worker_line(2, 1, "t1"),
                                  worker_line(3, 2, "p0")};
    double clock[4] = {0, 0, 0, 0};
    for (int i = 1; i <= 100; ++i) {
        task t;
        t.id = i;
        t.fn = "a";
        t.worker = 1 + i % 2;
        t.submit = 0;
        t.start = clock[t.worker];
        t.end = t.start + i;
        clock[t.worker] = t.end;
        if (i == 37) t.outcome = "failed", t.error = "bad row 37";
        l.push_back(task_line(t));
    }
    for (int i = 0; i < 10; ++i) {
        task t;
        t.id = 200 + i;
        t.fn = "b";
        t.pool = 2;
        t.worker = 3;
        t.submit = 0;
        t.transfer = 5;
        t.reply = 3;
        t.start = clock[3] + 5;
        t.end = t.start + 1000;
        clock[3] = t.end + 3;
        t.bytes_out = 100;
        t.bytes_in = 8;
        t.retries = i == 4 ? 2 : 0;
        if (i == 9) t.outcome = "timeout", t.error = "timed out after 1 ms";
        l.push_back(task_line(t));
    }
    task cancelled;
    cancelled.id = 300;
    cancelled.fn = "a";
    cancelled.worker = 0;
    cancelled.submit = cancelled.start = cancelled.end = 50;
    cancelled.outcome = "cancelled";
    l.push_back(task_line(cancelled));
    l.push_back(end_line(20000, 111));
    return lines(l);
}

TEST(report_data, counts_totals_and_exact_percentiles_per_function) {
    scratch_dir dir;
    write_file(dir / "run.jsonl", small_run());
    const auto d = read_trace(dir / "run.jsonl", {});
    EXPECT_TRUE(d.finished);
    EXPECT_EQ(d.tasks, 111u);
    ASSERT_EQ(d.functions.size(), 2u);
    const auto& a = stats(d, "a");
    EXPECT_EQ(a.count, 101u);
    EXPECT_EQ(a.cancelled, 1u);
    EXPECT_EQ(a.failures, 1u);
    EXPECT_DOUBLE_EQ(a.total_run_us, 5050);
    EXPECT_DOUBLE_EQ(a.mean_us, 50.5);
    EXPECT_DOUBLE_EQ(a.p50_us, 50);  // nearest rank over 1..100
    EXPECT_DOUBLE_EQ(a.p99_us, 99);
    EXPECT_FALSE(a.approximate);
    EXPECT_EQ(a.pool, "thread_pool 1");
    const auto& b = stats(d, "b");
    EXPECT_EQ(b.count, 10u);
    EXPECT_EQ(b.retries, 2u);
    EXPECT_EQ(b.failures, 1u);
    EXPECT_EQ(b.bytes_out, 1000u);
    EXPECT_EQ(b.bytes_in, 80u);
    EXPECT_DOUBLE_EQ(b.p99_us, 1000);
    EXPECT_EQ(b.pool, "process_pool 2");
}

TEST(report_data, failures_are_listed_with_their_messages_in_time_order) {
    scratch_dir dir;
    write_file(dir / "run.jsonl", small_run());
    fronta::report_options options;
    const auto d = read_trace(dir / "run.jsonl", options);
    EXPECT_EQ(d.failure_count, 2u);
    ASSERT_EQ(d.failures.size(), 2u);
    EXPECT_EQ(d.failures[0].error, "bad row 37");
    EXPECT_EQ(d.failures[0].worker, "t1");
    EXPECT_EQ(d.failures[1].error, "timed out after 1 ms");
    EXPECT_EQ(d.failures[1].what, fronta::report::outcome::timeout);
    options.max_failures = 1;
    const auto first = read_trace(dir / "run.jsonl", options);
    EXPECT_EQ(first.failure_count, 2u) << "all are counted";
    EXPECT_EQ(first.failures.size(), 1u) << "the first are listed";
}

TEST(report_data, one_row_per_worker_and_one_mark_per_task_that_ran) {
    scratch_dir dir;
    write_file(dir / "run.jsonl", small_run());
    const auto d = read_trace(dir / "run.jsonl", {});
    ASSERT_EQ(d.workers.size(), 3u);
    EXPECT_EQ(d.workers[0].label, "t0");
    EXPECT_EQ(d.workers[2].pool_name, "process_pool 2");
    EXPECT_EQ(d.workers[0].tasks + d.workers[1].tasks, 100u);
    EXPECT_FALSE(d.aggregated);
    EXPECT_EQ(d.marks.size(), 110u) << "the cancelled task never ran: no mark";
    std::size_t remote = 0;
    for (const auto& m : d.marks)
        if (m.row == 2) remote += m.transfer_us == 5 && m.reply_us == 3;
    EXPECT_EQ(remote, 10u) << "transfer and reply travel with the marks of the remote pool";
}

TEST(report_data, utilisation_and_queue_depth_come_from_the_task_times) {
    scratch_dir dir;
    // Two workers; A runs 0..100 on worker 1; B waits 0..50, runs 50..100 on worker 2.
    task a{.id = 1, .fn = "a", .worker = 1, .submit = 0, .start = 0, .end = 100};
    task b{.id = 2, .fn = "a", .worker = 2, .submit = 0, .start = 50, .end = 100};
    write_file(dir / "run.jsonl", lines({header_line(), pool_line(1, "thread_pool", 2), worker_line(1, 1, "w0"),
                                         worker_line(2, 1, "w1"), task_line(a), task_line(b), end_line(100, 2)}));
    fronta::report_options options;
    options.time_bins = 10;
    const auto d = read_trace(dir / "run.jsonl", options);
    EXPECT_EQ(d.workers_total, 2);
    ASSERT_EQ(d.running.size(), 10u);
    for (int i = 0; i < 10; ++i) {
        EXPECT_NEAR(d.running[i], i < 5 ? 1 : 2, 1e-9) << "bin " << i;
        EXPECT_NEAR(d.queued[i], i < 5 ? 1 : 0, 1e-9) << "bin " << i;
        EXPECT_NEAR(d.capacity[i], 2, 1e-9) << "bin " << i;
    }
}

TEST(report_data, pools_used_one_after_the_other_do_not_add_up_their_workers) {
    scratch_dir dir;
    // A pool of 2 threads busy from 0 to 100, then a pool of 4 processes from 100 to 200.
    std::vector<std::string> l = {header_line(), pool_line(1, "thread_pool", 2), pool_line(2, "process_pool", 4)};
    for (int w = 1; w <= 2; ++w) l.push_back(worker_line(w, 1, "t" + std::to_string(w)));
    for (int w = 3; w <= 6; ++w) l.push_back(worker_line(w, 2, "p" + std::to_string(w)));
    for (int w = 1; w <= 2; ++w) l.push_back(task_line({.id = w, .fn = "a", .worker = w, .end = 100}));
    for (int w = 3; w <= 6; ++w)
        l.push_back(task_line({.id = w, .fn = "b", .pool = 2, .worker = w, .submit = 100, .start = 100, .end = 200}));
    l.push_back(end_line(200, 6));
    write_file(dir / "run.jsonl", lines(l));
    fronta::report_options options;
    options.time_bins = 4;
    const auto d = read_trace(dir / "run.jsonl", options);
    EXPECT_EQ(d.workers_total, 6);
    ASSERT_EQ(d.capacity.size(), 4u);
    for (int i = 0; i < 4; ++i) {
        EXPECT_NEAR(d.capacity[i], i < 2 ? 2 : 4, 1e-9) << "bin " << i;
        EXPECT_NEAR(d.running[i] / d.capacity[i], 1, 1e-9) << "every worker in use is busy, bin " << i;
    }
}

TEST(report_data, summary_lines_merge_into_their_function_and_make_percentiles_approximate) {
    scratch_dir dir;
    std::vector<std::string> l = {header_line(), pool_line(1, "thread_pool", 1), worker_line(1, 1, "w0")};
    for (int i = 0; i < 10; ++i)
        l.push_back(
            task_line({.id = i, .fn = "a", .worker = 1, .submit = 0, .start = i * 100.0, .end = i * 100.0 + 100}));
    // 990 more tasks of `a` kept as totals: all in bucket 7 ([2^6, 2^7) = [64, 128) µs).
    std::string hist = "[0,0,0,0,0,0,0,990]";
    l.push_back(R"({"type":"summary","fn":"a","pool":1,"count":990,"total_run":99000,"failures":3,"retries":4,)"
                R"("bytes_out":10,"bytes_in":20,"run_hist":)" +
                hist + "}");
    l.push_back(end_line(2000, 1000));
    write_file(dir / "run.jsonl", lines(l));
    const auto d = read_trace(dir / "run.jsonl", {});
    ASSERT_EQ(d.functions.size(), 1u);
    const auto& a = d.functions[0];
    EXPECT_EQ(d.tasks, 1000u);
    EXPECT_EQ(a.count, 1000u);
    EXPECT_EQ(a.summarized, 990u);
    EXPECT_DOUBLE_EQ(a.total_run_us, 100000);
    EXPECT_DOUBLE_EQ(a.mean_us, 100);
    EXPECT_EQ(a.failures, 3u);
    EXPECT_EQ(d.failure_count, 3u);
    EXPECT_EQ(a.retries, 4u);
    EXPECT_EQ(a.bytes_in, 20u);
    EXPECT_TRUE(a.approximate);
    EXPECT_GE(a.p50_us, 64);
    EXPECT_LT(a.p50_us, 128);
    EXPECT_EQ(d.marks.size(), 10u) << "only task lines are drawn";
}

TEST(report_data, past_max_marks_the_stream_is_time_bins_that_hold_every_task) {
    scratch_dir dir;
    write_many_tasks(dir / "run.jsonl", 5000, 4);
    fronta::report_options options;
    options.max_marks = 1000;
    const auto d = read_trace(dir / "run.jsonl", options);
    EXPECT_TRUE(d.aggregated);
    EXPECT_TRUE(d.marks.empty());
    EXPECT_EQ(d.cell_bins, 250u);
    std::size_t tasks = 0;
    for (const auto& c : d.cells) {
        tasks += c.tasks;
        EXPECT_LE(c.busy, 1.0f);
        EXPECT_LT(c.row, 4u);
    }
    EXPECT_EQ(tasks, 5000u);
    EXPECT_LE(d.cells.size(), 1000u);
    options.max_marks = 5000;
    EXPECT_FALSE(read_trace(dir / "run.jsonl", options).aggregated) << "at max_marks tasks are still marks";
}

TEST(report_data, a_torn_last_line_is_ignored_and_the_run_did_not_finish) {
    scratch_dir dir;
    const std::string whole = task_line({.id = 2, .fn = "a", .worker = 1, .submit = 0, .start = 10, .end = 20});
    write_file(dir / "run.jsonl", lines({header_line(), pool_line(1, "thread_pool", 1), worker_line(1, 1, "w0"),
                                         task_line({.id = 1, .fn = "a", .worker = 1, .end = 10})}) +
                                      whole.substr(0, whole.size() / 2));
    const auto d = read_trace(dir / "run.jsonl", {});
    EXPECT_FALSE(d.finished);
    EXPECT_TRUE(d.torn_last_line);
    EXPECT_EQ(d.tasks, 1u);
    fronta::write_trace_report(dir / "run.jsonl", dir / "run.html");
    const std::string page = read_file(dir / "run.html");
    EXPECT_NE(page.find("This run did not finish"), std::string::npos);
    EXPECT_NE(page.find("last line was cut short"), std::string::npos);
}

TEST(report_data, no_end_line_means_the_run_did_not_finish) {
    scratch_dir dir;
    write_file(dir / "run.jsonl", lines({header_line(), pool_line(1, "thread_pool", 1), worker_line(1, 1, "w0"),
                                         task_line({.id = 1, .fn = "a", .worker = 1, .end = 10})}));
    const auto d = read_trace(dir / "run.jsonl", {});
    EXPECT_FALSE(d.finished);
    EXPECT_FALSE(d.torn_last_line);
    fronta::write_trace_report(dir / "run.jsonl", dir / "run.html");
    EXPECT_NE(read_file(dir / "run.html").find("This run did not finish"), std::string::npos);
    write_file(dir / "done.jsonl", small_run());
    fronta::write_trace_report(dir / "done.jsonl", dir / "done.html");
    EXPECT_EQ(read_file(dir / "done.html").find("did not finish"), std::string::npos);
}

TEST(report_input, the_records_file_is_found_by_the_name_rule) {
    scratch_dir dir;
    write_file(dir / "run.jsonl", small_run());
    write_file(dir / "run.json", "[\n{\"ph\":\"M\"}");
    EXPECT_EQ(fronta::report::records_path(dir / "run.json"), dir / "run.jsonl");
    EXPECT_EQ(fronta::report::records_path(dir / "run.jsonl"), dir / "run.jsonl");
    write_file(dir / "other.trace.jsonl", small_run());
    EXPECT_EQ(fronta::report::records_path(dir / "other.trace"), dir / "other.trace.jsonl");
    fronta::write_trace_report(dir / "run.json", dir / "run.html");
    EXPECT_NE(read_file(dir / "run.html").find("data-fn=\"b\""), std::string::npos);
}

TEST(report_input, a_missing_file_is_named) {
    scratch_dir dir;
    expect_error([&] { fronta::write_trace_report(dir / "nothing.json", dir / "r.html"); },
                 {(dir / "nothing.json").string(), "No such file"});
    expect_error([&] { fronta::write_trace_report(dir / "nothing.jsonl", dir / "r.html"); },
                 {(dir / "nothing.jsonl").string(), "cannot read"});
    expect_error([&] { fronta::write_trace_report(dir.path, dir / "r.html"); }, {dir.path.string(), "Is a directory"});
}

TEST(report_input, a_foreign_json_file_is_not_a_fronta_trace) {
    scratch_dir dir;
    write_file(dir / "package.json", R"({"name": "left-pad", "version": "1.3.0"})");
    expect_error([&] { fronta::write_trace_report(dir / "package.json", dir / "r.html"); },
                 {"not a fronta trace", (dir / "package.json").string()});
    write_file(dir / "log.jsonl", R"({"level":"info","msg":"hello"})"
                                  "\n"
                                  R"({"level":"info"})"
                                  "\n");
    expect_error([&] { fronta::write_trace_report(dir / "log.jsonl", dir / "r.html"); },
                 {"not a fronta trace", "log.jsonl", "first line is not a fronta header"});
    write_file(dir / "text.jsonl", "hello world\nsecond line\n");
    expect_error([&] { fronta::write_trace_report(dir / "text.jsonl", dir / "r.html"); },
                 {"not a fronta trace", "first line is not JSON"});
    write_file(dir / "empty.jsonl", "");
    expect_error([&] { fronta::write_trace_report(dir / "empty.jsonl", dir / "r.html"); },
                 {"not a fronta trace", "empty"});
    // A Chrome trace whose records file is gone: say which file is missing.
    write_file(dir / "lone.json", "[\n{\"ph\":\"X\",\"name\":\"f\",\"pid\":1,\"tid\":1,\"ts\":0,\"dur\":1}\n]\n");
    expect_error([&] { fronta::write_trace_report(dir / "lone.json", dir / "r.html"); }, {"lone.jsonl", "missing"});
    write_file(dir / "future.jsonl", R"({"type":"header","fronta_trace":2})"
                                     "\n");
    expect_error([&] { fronta::write_trace_report(dir / "future.jsonl", dir / "r.html"); },
                 {"future.jsonl", "format 2"});
}

TEST(report_input, a_malformed_line_in_the_middle_names_its_number) {
    scratch_dir dir;
    const std::string good = task_line({.id = 1, .fn = "a", .worker = 1, .end = 10});
    write_file(dir / "run.jsonl",
               lines({header_line(), pool_line(1, "thread_pool", 1), good.substr(0, 30), good, end_line(10, 1)}));
    expect_error([&] { fronta::write_trace_report(dir / "run.jsonl", dir / "r.html"); },
                 {"run.jsonl:3:", "malformed JSON"});
    write_file(dir / "run.jsonl", lines({header_line(), R"({"type":"task","fn":"a","submit":0,"end":1})", good}));
    expect_error([&] { fronta::write_trace_report(dir / "run.jsonl", dir / "r.html"); }, {"run.jsonl:2:", "\"start\""});
    write_file(dir / "run.jsonl",
               lines({header_line(), R"({"type":"task","fn":"a","submit":0,"start":"x","end":1})", good}));
    expect_error([&] { fronta::write_trace_report(dir / "run.jsonl", dir / "r.html"); },
                 {"run.jsonl:2:", "\"start\" is not a number"});
    write_file(dir / "run.jsonl", lines({header_line(), "[1,2,3]", good}));
    expect_error([&] { fronta::write_trace_report(dir / "run.jsonl", dir / "r.html"); },
                 {"run.jsonl:2:", "not a record"});
}

TEST(report_input, an_unwritable_report_path_is_named) {
    scratch_dir dir;
    write_file(dir / "run.jsonl", small_run());
    const auto target = dir / "no such dir" / "run.html";
    expect_error([&] { fronta::write_trace_report(dir / "run.jsonl", target); },
                 {"cannot write the report", target.string(), "No such file"});
    expect_error([&] { fronta::write_trace_report(dir / "run.jsonl", dir.path); },
                 {"cannot write the report", dir.path.string(), "Is a directory"});
    // Checked before the records are read: a bad trace and a bad output report the output.
    expect_error([&] { fronta::write_trace_report(dir / "missing.jsonl", target); }, {"cannot write the report"});
}

TEST(report_page, is_self_contained) {
    scratch_dir dir;
    write_file(dir / "run.jsonl", small_run());
    fronta::write_trace_report(dir / "run.jsonl", dir / "run.html");
    const std::string page = read_file(dir / "run.html");
    EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
    for (const char* outside : {"<script src", "<link", "http://", "https://", "@import", "url("})
        EXPECT_EQ(page.find(outside), std::string::npos) << outside;
    EXPECT_NE(page.find("<canvas id=\"stream-canvas\">"), std::string::npos);
}

TEST(report_page, text_from_the_trace_cannot_end_the_script_or_add_markup) {
    scratch_dir dir;
    task t{.id = 1, .fn = "a", .worker = 1, .end = 10, .outcome = "failed", .error = "</script><b>boom</b>"};
    write_file(dir / "run.jsonl", lines({header_line(), pool_line(1, "thread_pool", 1), worker_line(1, 1, "w<0>"),
                                         task_line(t), end_line(10, 1)}));
    fronta::write_trace_report(dir / "run.jsonl", dir / "run.html");
    const std::string page = read_file(dir / "run.html");
    EXPECT_EQ(page.find("</script><b>boom"), std::string::npos);
    EXPECT_NE(page.find("&lt;/script&gt;&lt;b&gt;boom"), std::string::npos);
    EXPECT_NE(page.find("<\\/script><b>boom<\\/b>"), std::string::npos) << "escaped inside the JSON block";
}

TEST(report_page, a_million_tasks_make_a_page_of_a_few_megabytes_in_reasonable_time) {
    scratch_dir dir;
    const long n = many_tasks();
    write_many_tasks(dir / "big.jsonl", n, 8);
    const auto began = std::chrono::steady_clock::now();
    fronta::write_trace_report(dir / "big.jsonl", dir / "big.html");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    const auto size = fs::file_size(dir / "big.html");
    std::printf("%ld tasks (%.0f MB of records): report of %.0f kB in %.1f s\n", n,
                static_cast<double>(fs::file_size(dir / "big.jsonl")) / 1e6, static_cast<double>(size) / 1e3, seconds);
    EXPECT_LT(size, 3u << 20);
#ifdef NDEBUG  // optimised builds only: unoptimised nlohmann-json under a sanitizer is ~20x slower
    EXPECT_LT(seconds, 120) << "reading a million task lines should take seconds, not minutes";
#endif
    const std::string page = read_file(dir / "big.html");
    std::size_t counted = 0;
    const std::regex count_attribute("<tr data-fn=\"[^\"]*\" data-pool=\"[^\"]*\" data-count=\"([0-9]+)\"");
    for (std::sregex_iterator it(page.begin(), page.end(), count_attribute), end; it != end; ++it)
        counted += std::stoul((*it)[1]);
    EXPECT_EQ(counted, static_cast<std::size_t>(n)) << "the function table counts every task";
}

// Task lines are read by a SAX handler when they start as the recorder writes them, else as a
// DOM: both ways give the same numbers.
TEST(report_data, task_lines_read_either_way_give_the_same_numbers) {
    scratch_dir dir;
    const std::string run = small_run();
    write_file(dir / "fast.jsonl", run);
    std::string reordered;  // "type" moved to the end of each task line: not the fast path
    std::istringstream in(run);
    for (std::string line; std::getline(in, line);) {
        const std::string prefix = R"({"type":"task",)";
        if (line.rfind(prefix, 0) == 0)
            line = "{" + line.substr(prefix.size(), line.size() - prefix.size() - 1) + R"(,"type":"task"})";
        reordered += line + "\n";
    }
    ASSERT_NE(reordered, run);
    write_file(dir / "dom.jsonl", reordered);
    const auto fast = read_trace(dir / "fast.jsonl", {});
    const auto dom = read_trace(dir / "dom.jsonl", {});
    ASSERT_EQ(fast.functions.size(), dom.functions.size());
    for (std::size_t i = 0; i < fast.functions.size(); ++i) {
        const auto &a = fast.functions[i], &b = dom.functions[i];
        EXPECT_EQ(a.fn, b.fn);
        EXPECT_EQ(a.count, b.count);
        EXPECT_EQ(a.failures, b.failures);
        EXPECT_EQ(a.cancelled, b.cancelled);
        EXPECT_EQ(a.retries, b.retries);
        EXPECT_EQ(a.bytes_out, b.bytes_out);
        EXPECT_EQ(a.bytes_in, b.bytes_in);
        EXPECT_DOUBLE_EQ(a.total_run_us, b.total_run_us);
        EXPECT_DOUBLE_EQ(a.p99_us, b.p99_us);
    }
    ASSERT_EQ(fast.marks.size(), dom.marks.size());
    for (std::size_t i = 0; i < fast.marks.size(); ++i) {
        EXPECT_EQ(fast.marks[i].task, dom.marks[i].task);
        EXPECT_EQ(fast.marks[i].row, dom.marks[i].row);
        EXPECT_EQ(fast.marks[i].reply_us, dom.marks[i].reply_us);
    }
    ASSERT_EQ(fast.failures.size(), dom.failures.size());
    EXPECT_EQ(fast.failures[0].error, dom.failures[0].error);
    EXPECT_EQ(fast.t_end_us, dom.t_end_us);
}

// --- the program -------------------------------------------------------------------------------

TEST(fronta_report_program, writes_the_page_and_says_where) {
    scratch_dir dir;
    write_file(dir / "run.jsonl", small_run());
    write_file(dir / "run.json", "[\n");
    const auto r = run_child({FRONTA_REPORT_PROGRAM, (dir / "run.json").string(), "-o", (dir / "out.html").string()},
                             60, dir.path);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("out.html"), std::string::npos) << r.out;
    EXPECT_NE(read_file(dir / "out.html").find("data-fn=\"a\""), std::string::npos);
    // Without -o: beside the trace, with the extension .html.
    const auto beside = run_child({FRONTA_REPORT_PROGRAM, (dir / "run.json").string()}, 60, dir.path);
    EXPECT_EQ(beside.exit_code, 0) << beside.err;
    EXPECT_TRUE(fs::exists(dir / "run.html"));
}

TEST(fronta_report_program, help_usage_errors_and_bad_input_have_their_exit_codes) {
    scratch_dir dir;
    const auto help = run_child({FRONTA_REPORT_PROGRAM, "--help"}, 60, dir.path);
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("usage: fronta-report"), std::string::npos);
    const auto none = run_child({FRONTA_REPORT_PROGRAM}, 60, dir.path);
    EXPECT_EQ(none.exit_code, 2);
    EXPECT_NE(none.err.find("which trace?"), std::string::npos) << none.err;
    const auto unknown = run_child({FRONTA_REPORT_PROGRAM, "--colour", "x.json"}, 60, dir.path);
    EXPECT_EQ(unknown.exit_code, 2);
    EXPECT_NE(unknown.err.find("unknown option --colour"), std::string::npos) << unknown.err;
    write_file(dir / "foreign.json", "{\"a\": 1}\n");
    const auto foreign = run_child({FRONTA_REPORT_PROGRAM, (dir / "foreign.json").string()}, 60, dir.path);
    EXPECT_EQ(foreign.exit_code, 1);
    EXPECT_NE(foreign.err.find("not a fronta trace"), std::string::npos) << foreign.err;
    EXPECT_TRUE(foreign.out.empty()) << "errors go to stderr: " << foreign.out;
    EXPECT_FALSE(fs::exists(dir / "foreign.html")) << "no page from bad input";
}

}  // namespace
