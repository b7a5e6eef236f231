// The report page: tables and text written here as HTML; the two charts drawn by the inline
// script (report_page.cpp) from a JSON block of compact columns (times rounded to 1 ns).
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "observe/report_data.hpp"
#include "observe/report_page.hpp"

namespace fronta::report {

namespace {

using json = nlohmann::json;

std::string escape(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string printed(const char* format, double value) {
    char text[64];
    std::snprintf(text, sizeof text, format, value);
    return text;
}

std::string duration(double us) {
    const double a = std::fabs(us);
    if (a >= 3600e6) return printed("%.2f h", us / 3600e6);
    if (a >= 60e6) return printed("%.2f min", us / 60e6);
    if (a >= 1e6) return printed("%.3g s", us / 1e6);
    if (a >= 1e3) return printed("%.3g ms", us / 1e3);
    if (a == 0) return "0";
    return printed("%.3g µs", us);
}

std::string count(std::uint64_t n) {
    std::string digits = std::to_string(n), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

std::string bytes(std::uint64_t n) {
    if (n < 1000) return std::to_string(n) + " B";
    const char* units[] = {"kB", "MB", "GB", "TB", "PB"};
    double v = static_cast<double>(n);
    int u = -1;
    while (v >= 1000 && u < 4) v /= 1000, ++u;
    return printed("%.3g ", v) + units[u];
}

std::string wall_clock(double unix_us) {
    if (unix_us <= 0) return "";
    const auto seconds = static_cast<std::time_t>(unix_us / 1e6);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char text[64];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return text;
}

double ns(double us) { return std::round(us * 1000) / 1000; }

std::string worker_place(const worker_row& w) {
    std::string s;
    if (w.rank >= 0) s += "rank " + std::to_string(w.rank) + " · ";
    if (w.pid) s += "pid " + std::to_string(w.pid) + " · ";
    if (w.tid) s += "tid " + std::to_string(w.tid) + " · ";
    if (!w.host.empty()) s += "on " + w.host + " · ";
    s += std::to_string(w.tasks) + " tasks, busy " + duration(w.busy_us);
    return s;
}

// The JSON block the script draws from.
std::string chart_data(const trace_data& d) {
    json j;
    j["t0"] = ns(d.t_begin_us);
    j["t1"] = ns(d.t_end_us);
    j["workers"] = d.workers_total;
    j["fns"] = d.function_names;
    j["outcomes"] = {"ok", "failed", "cancelled", "timeout", "worker died"};
    json rows = json::array();
    std::unordered_map<std::uint64_t, std::size_t> row_of;
    for (const auto& w : d.workers) {
        row_of[w.id] = rows.size();
        rows.push_back({{"label", w.label}, {"pool", w.pool_name}, {"where", worker_place(w)}, {"tasks", w.tasks}});
    }
    j["rows"] = std::move(rows);
    if (d.aggregated) {
        json c = {{"bins", d.cell_bins}};
        for (const char* k : {"row", "bin", "fn", "busy", "tasks", "fail"}) c[k] = json::array();
        for (const auto& x : d.cells) {
            c["row"].push_back(x.row);
            c["bin"].push_back(x.bin);
            c["fn"].push_back(x.colour);
            c["busy"].push_back(std::round(x.busy * 1000) / 1000);
            c["tasks"].push_back(x.tasks);
            c["fail"].push_back(x.failures);
        }
        j["cells"] = std::move(c);
        j["marks"] = nullptr;
    } else {
        json m;
        for (const char* k : {"row", "start", "run", "tr", "rp", "fn", "out", "id"}) m[k] = json::array();
        for (const auto& x : d.marks) {
            m["row"].push_back(x.row);
            m["start"].push_back(ns(x.start_us));
            m["run"].push_back(ns(x.run_us));
            m["tr"].push_back(ns(x.transfer_us));
            m["rp"].push_back(ns(x.reply_us));
            m["fn"].push_back(x.colour);
            m["out"].push_back(x.what == outcome::ok ? 0 : static_cast<int>(x.what));
            m["id"].push_back(x.task);
        }
        j["marks"] = std::move(m);
        j["cells"] = nullptr;
    }
    json events = json::array();
    for (const auto& e : d.events) {
        const auto row = row_of.find(e.worker);
        const int kind = e.event == "worker_died"       ? 1
                         : e.event == "worker_replaced" ? 2
                         : e.event == "worker_retired"  ? 3
                                                        : 0;
        events.push_back({ns(e.time_us), row == row_of.end() ? -1 : static_cast<long>(row->second), kind});
    }
    j["events"] = std::move(events);
    json errors = json::object();
    for (const auto& f : d.failures) errors[std::to_string(f.task)] = f.error;
    j["errors"] = std::move(errors);
    json running = json::array(), queued = json::array();
    for (double v : d.running) running.push_back(std::round(v * 1000) / 1000);
    for (double v : d.queued) queued.push_back(std::round(v * 1000) / 1000);
    json capacity = json::array();
    for (double v : d.capacity) capacity.push_back(std::round(v * 1000) / 1000);
    j["running"] = std::move(running);
    j["queued"] = std::move(queued);
    j["capacity"] = std::move(capacity);
    std::string text = j.dump(-1, ' ', false, json::error_handler_t::replace);
    // Inside <script>, "</" could end the element early.
    for (std::size_t at = 0; (at = text.find("</", at)) != std::string::npos; at += 3) text.replace(at, 2, "<\\/");
    return text;
}

void card(std::string& out, const std::string& value, const std::string& what, bool bad = false) {
    out += std::string("<div class=\"card") + (bad ? " bad" : "") + "\"><div class=\"v\">" + escape(value) +
           "</div><div class=\"k\">" + escape(what) + "</div></div>";
}

void settings_table(std::string& out, const settings_list& settings) {
    if (settings.empty()) {
        out += "<p class=\"hint\">(none recorded)</p>";
        return;
    }
    out += "<table><tr><th>setting</th><th>value</th></tr>";
    for (const auto& [name, value] : settings)
        out += "<tr><td>" + escape(name) + "</td><td>" + escape(value) + "</td></tr>";
    out += "</table>";
}

std::string swatch(std::uint32_t colour) {
    return "<span class=\"sw\" data-colour=\"" + std::to_string(colour) + "\"></span>";
}

void functions_table(std::string& out, const trace_data& d) {
    out +=
        "<section><h2>Functions</h2><div class=\"scroll\"><table id=\"functions\"><tr><th>function</th><th>pool</th>"
        "<th class=\"n\">tasks</th><th class=\"n\">run time, total</th><th class=\"n\">mean</th>"
        "<th class=\"n\">p50</th><th class=\"n\">p99</th><th class=\"n\">failures</th><th class=\"n\">cancelled</th>"
        "<th class=\"n\">retries</th><th class=\"n\" title=\"arguments sent to workers\">bytes out</th>"
        "<th class=\"n\" title=\"results received from workers\">bytes in</th></tr>";
    bool approximate = false;
    for (const auto& f : d.functions) {
        const std::string about = f.approximate ? "≈ " : "";
        approximate = approximate || f.approximate;
        out += "<tr data-fn=\"" + escape(f.fn) + "\" data-pool=\"" + escape(f.pool) + "\" data-count=\"" +
               std::to_string(f.count) + "\" data-failures=\"" + std::to_string(f.failures) + "\"><td>" +
               swatch(f.colour) + " " + escape(f.fn) + "</td><td>" + escape(f.pool) + "</td><td class=\"n\">" +
               count(f.count) + "</td><td class=\"n\">" + duration(f.total_run_us) + "</td><td class=\"n\">" +
               duration(f.mean_us) + "</td><td class=\"n\">" + about + duration(f.p50_us) + "</td><td class=\"n\">" +
               about + duration(f.p99_us) + "</td><td class=\"n" + (f.failures ? " bad" : "") + "\">" +
               count(f.failures) + "</td><td class=\"n\">" + count(f.cancelled) + "</td><td class=\"n\">" +
               count(f.retries) + "</td><td class=\"n\">" + bytes(f.bytes_out) + "</td><td class=\"n\">" +
               bytes(f.bytes_in) + "</td></tr>";
    }
    out +=
        "</table></div><p class=\"hint\">Times are of the run phase on the worker. p50 and p99 are exact (nearest "
        "rank over every task that ran)";
    if (approximate)
        out +=
            "; marked ≈ where the trace kept only totals of some tasks (past <code>max_tasks</code>): then they "
            "come from power-of-two buckets, within a factor of √2";
    out += ". Bytes out: arguments sent to workers; bytes in: results received.</p></section>";
}

void failures_section(std::string& out, const trace_data& d) {
    out += "<section id=\"failures\" data-count=\"" + std::to_string(d.failure_count) + "\"><h2>Failures</h2>";
    if (d.failure_count == 0) {
        out += "<p>No task failed.</p></section>";
        return;
    }
    out += "<p>" + count(d.failure_count) + (d.failure_count == 1 ? " task" : " tasks") +
           " failed, timed out or lost their worker";
    if (d.failures.size() < d.failure_count) out += "; the first " + count(d.failures.size()) + " are listed";
    out +=
        ".</p><div class=\"scroll\"><table><tr><th class=\"n\">ended at</th><th>function</th><th>pool</th>"
        "<th class=\"n\">task</th><th>worker</th><th>outcome</th><th>message</th></tr>";
    for (const auto& f : d.failures) {
        out += "<tr><td class=\"n\">" + duration(f.time_us) + "</td><td>" + escape(f.fn) + "</td><td>" +
               escape(f.pool) + "</td><td class=\"n\">" + std::to_string(f.task) + "</td><td>" + escape(f.worker) +
               "</td><td class=\"bad\">" + outcome_name(f.what) + "</td><td class=\"msg\">" + escape(f.error) +
               "</td></tr>";
    }
    out += "</table></div></section>";
}

void events_section(std::string& out, const trace_data& d) {
    out += "<section id=\"events\"><h2>Pool events</h2>";
    if (d.events.empty()) {
        out += "<p>None recorded.</p></section>";
        return;
    }
    std::map<std::string, std::size_t> kinds;
    for (const auto& e : d.events) ++kinds[e.event];
    out += "<p>";
    for (const auto& [kind, n] : kinds) out += escape(kind) + ": " + count(n) + ". ";
    out +=
        "In the task stream: ▼ green a worker started or was replaced, red it died, grey it retired.</p>"
        "<details><summary>every event</summary><div class=\"scroll\"><table><tr><th class=\"n\">time</th>"
        "<th>pool</th><th class=\"n\">worker</th><th>event</th><th>detail</th></tr>";
    std::unordered_map<std::uint64_t, std::string> pools;
    for (const auto& p : d.pools) pools[p.id] = p.name;
    std::size_t shown = 0;
    for (const auto& e : d.events) {
        if (++shown > 1000) break;
        out += "<tr><td class=\"n\">" + duration(e.time_us) + "</td><td>" + escape(pools[e.pool]) +
               "</td><td class=\"n\">" + std::to_string(e.worker) + "</td><td>" + escape(e.event) + "</td><td>" +
               escape(e.detail) + "</td></tr>";
    }
    out += "</table></div></details></section>";
}

void settings_section(std::string& out, const trace_data& d) {
    out += "<section id=\"settings\"><h2>Settings</h2><h3>Run</h3>";
    settings_list run = {{"program", d.program},
                         {"host", d.host},
                         {"pid", std::to_string(d.pid)},
                         {"trace started", wall_clock(d.t0_unix_us)},
                         {"records file", d.records.string()},
                         {"finished", d.finished ? "yes" : "no (no end line)"}};
    run.insert(run.end(), d.settings.begin(), d.settings.end());
    settings_table(out, run);
    for (const auto& p : d.pools) {
        out += "<h3>" + escape(p.name) + " <span class=\"hint\">(" + escape(p.executor) + ", " +
               std::to_string(p.workers) + " workers)</span></h3>";
        settings_table(out, p.settings);
    }
    out += "</section>";
}

}  // namespace

std::string render_report(const trace_data& d) {
    std::string name = d.program.empty() ? d.records.filename().string() : d.program;
    if (const auto slash = name.find_last_of('/'); slash != std::string::npos) name = name.substr(slash + 1);
    std::string out;
    out.reserve(1 << 20);
    out +=
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
        "content=\"width=device-width, initial-scale=1\"><title>fronta report: " +
        escape(name) + "</title><style>" + page_style + "</style></head><body>\n";
    out += "<header><h1>fronta report: " + escape(name) + "</h1><div class=\"sub\">" + escape(d.program) +
           (d.host.empty() ? "" : " · on " + escape(d.host)) + (d.pid ? " · pid " + std::to_string(d.pid) : "") +
           (d.t0_unix_us > 0 ? " · started " + wall_clock(d.t0_unix_us) : "") + " · " + escape(d.records.string()) +
           "</div></header><main>\n";
    if (!d.finished) {
        out +=
            "<div class=\"banner\" id=\"unfinished\"><b>This run did not finish.</b> The records end without their "
            "closing <code>end</code> line: the program was killed, or is still running. Shown is what was "
            "recorded up to " +
            duration(d.t_end_us) + " after the trace started.";
        if (d.torn_last_line) out += " Its last line was cut short and is left out.";
        out += "</div>";
    } else if (d.end_tasks != d.tasks) {
        out += "<div class=\"banner\">The end line counts " + count(d.end_tasks) + " tasks; the records hold " +
               count(d.tasks) + ".</div>";
    }
    double running = 0, capacity = 0;
    for (double r : d.running) running += r;
    for (double c : d.capacity) capacity += c;
    const double utilisation = capacity > 0 ? running / capacity : 0;
    std::size_t retries = 0, cancelled = 0;
    for (const auto& f : d.functions) retries += f.retries, cancelled += f.cancelled;
    out += "<div class=\"cards\">";
    card(out, count(d.tasks), "tasks");
    card(out, count(d.workers.size()),
         "workers in " + std::to_string(d.pools.size()) + " pool" + (d.pools.size() == 1 ? "" : "s"));
    card(out, duration(d.t_end_us - d.t_begin_us), "from first submit to last reply");
    card(out, printed("%.0f%%", utilisation * 100), "utilisation (busy / available worker time)");
    card(out, count(d.failure_count), "failures", d.failure_count > 0);
    card(out, count(retries), "retries");
    card(out, count(cancelled), "cancelled");
    out += "</div>\n";

    out +=
        "<section><h2>Task stream <button id=\"zoom-reset\" style=\"visibility:hidden\">reset zoom</button></h2>"
        "<div class=\"legend\">";
    for (std::uint32_t i = 0; i < d.function_names.size(); ++i)
        out += "<span class=\"item\">" + swatch(i) + escape(d.function_names[i]) + "</span>";
    out +=
        "</div><div class=\"legend\"><span>One row per worker; each mark is a task's run.</span>"
        "<span>Lighter ends: transfer before and reply after the run (remote pools).</span>"
        "<span><span class=\"sw\" style=\"background:#d62728\"></span> red top: failed, timed out or worker died"
        "</span><span>Drag across to zoom, double-click to reset; hover for details.</span></div>"
        "<div class=\"chart\" id=\"stream\"><canvas id=\"stream-canvas\"></canvas></div>"
        "<div class=\"caption\" id=\"stream-caption\"></div></section>\n";
    out +=
        "<section><h2>Utilisation and queue depth</h2><div class=\"chart\" id=\"load\"><canvas id=\"load-canvas\">"
        "</canvas></div><div class=\"caption\">Computed from the task records: running = tasks between start and "
        "end, queued = tasks between submit and start; utilisation = running / the workers of the pools in use "
        "(from a pool's first submit to its last task's end). Each step is the mean over its time bin.</div>"
        "</section>\n";
    functions_table(out, d);
    failures_section(out, d);
    events_section(out, d);
    settings_section(out, d);
    out += "</main><div id=\"tip\"></div>\n<script type=\"application/json\" id=\"fronta-data\">" + chart_data(d) +
           "</script>\n<script>" + page_script + "</script></body></html>\n";
    return out;
}

}  // namespace fronta::report
