// The report's numbers: reads a records file (.jsonl) line by line, keeps each task in 56 bytes,
// then aggregates: per-function statistics (p50/p99 exact from every task line; from log2
// buckets where summary lines add tasks), utilisation and queue depth in time bins, and the task
// stream as marks or, past max_marks, as per-worker time bins.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <unordered_map>

#include "observe/report_data.hpp"
#include "observe/report_task_line.hpp"

namespace fronta::report {

using json = nlohmann::json;

const char* outcome_name(outcome o) {
    switch (o) {
        case outcome::ok: return "ok";
        case outcome::failed: return "failed";
        case outcome::cancelled: return "cancelled";
        case outcome::timeout: return "timeout";
        case outcome::worker_died: return "worker_died";
    }
    return "?";
}

namespace {

constexpr std::uint32_t no_row = std::numeric_limits<std::uint32_t>::max();

struct task_record {
    double submit, start, end;
    float transfer, reply;
    std::uint32_t group, row;
    outcome what;
    std::uint64_t task;
};

// Where a line is, for error messages.
struct line_place {
    const std::filesystem::path& file;
    std::size_t line;
    [[noreturn]] void fail(const std::string& what) const {
        throw std::runtime_error(file.string() + ":" + std::to_string(line) + ": " + what);
    }
};

const json* find(const json& j, const char* key) {
    const auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
}

double number(const json& j, const char* key, const line_place& at) {
    const json* v = find(j, key);
    if (!v) at.fail(std::string("a \"") + j.value("type", "") + "\" record without \"" + key + "\"");
    if (!v->is_number()) at.fail(std::string("\"") + key + "\" is not a number: " + v->dump());
    return v->get<double>();
}

double number_or(const json& j, const char* key, double otherwise, const line_place& at) {
    return find(j, key) ? number(j, key, at) : otherwise;
}

std::string text_or(const json& j, const char* key, const std::string& otherwise = {}) {
    const json* v = find(j, key);
    if (!v) return otherwise;
    return v->is_string() ? v->get<std::string>() : v->dump(-1, ' ', false, json::error_handler_t::replace);
}

settings_list settings_of(const json& j) {
    settings_list out;
    const json* s = find(j, "settings");
    if (!s || !s->is_object()) return out;
    for (const auto& [name, value] : s->items()) {
        out.emplace_back(name, value.is_string() ? value.get<std::string>()
                                                 : value.dump(-1, ' ', false, json::error_handler_t::replace));
    }
    return out;
}

outcome outcome_of(const std::string& s, const line_place& at) {
    if (s == "ok") return outcome::ok;
    if (s == "failed") return outcome::failed;
    if (s == "cancelled") return outcome::cancelled;
    if (s == "timeout") return outcome::timeout;
    if (s == "worker_died") return outcome::worker_died;
    at.fail("unknown task outcome \"" + s + "\"");
}

bool is_failure(outcome o) { return o == outcome::failed || o == outcome::timeout || o == outcome::worker_died; }

// Percentiles over exact values plus the recorder's log2 buckets (bucket 0: under 1 µs; bucket
// b: [2^(b-1), 2^b) µs), each counted at its geometric middle (0.5 µs for bucket 0).
struct run_times {
    std::vector<double> exact;
    std::vector<std::uint64_t> buckets;
};

double bucket_value(std::size_t b) { return b == 0 ? 0.5 : std::ldexp(1.0, static_cast<int>(b) - 1) * std::sqrt(2.0); }

double percentile(run_times& r, double q) {
    std::uint64_t total = r.exact.size();
    for (auto b : r.buckets) total += b;
    if (total == 0) return 0;
    // Nearest rank: the smallest value with at least q of all values at or below it.
    const auto rank = static_cast<std::uint64_t>(std::max(1.0, std::ceil(q * static_cast<double>(total))));
    if (r.buckets.empty()) {
        std::nth_element(r.exact.begin(), r.exact.begin() + static_cast<std::ptrdiff_t>(rank - 1), r.exact.end());
        return r.exact[rank - 1];
    }
    std::sort(r.exact.begin(), r.exact.end());
    std::vector<std::pair<double, std::uint64_t>> values;
    for (std::size_t i = 0; i < r.buckets.size(); ++i)
        if (r.buckets[i]) values.emplace_back(bucket_value(i), r.buckets[i]);
    std::sort(values.begin(), values.end());
    std::uint64_t seen = 0;
    std::size_t e = 0, b = 0;
    for (;;) {
        const bool take_exact = e < r.exact.size() && (b == values.size() || r.exact[e] <= values[b].first);
        const double v = take_exact ? r.exact[e] : values[b].first;
        seen += take_exact ? 1 : values[b].second;
        take_exact ? ++e : ++b;
        if (seen >= rank) return v;
    }
}

// Adds the interval [a, b) to bins of width w from t0 as fractions of a bin (so a bin's total is
// the mean count over it); `full` is a difference array for the bins covered whole.
struct binner {
    double t0, w;
    std::size_t n;
    double position(double t) const { return std::clamp((t - t0) / w, 0.0, static_cast<double>(n)); }
    void add(std::vector<double>& part, std::vector<double>& full, double a, double b, double weight = 1) const {
        const double fa = position(a), fb = position(b);
        if (fb <= fa) return;
        const auto ia = std::min(static_cast<std::size_t>(fa), n - 1),
                   ib = std::min(static_cast<std::size_t>(fb), n - 1);
        if (ia == ib) {
            part[ia] += (fb - fa) * weight;
            return;
        }
        part[ia] += (static_cast<double>(ia + 1) - fa) * weight;
        part[ib] += (fb - static_cast<double>(ib)) * weight;
        full[ia + 1] += weight;
        full[ib] -= weight;
    }
    static std::vector<double> total(std::vector<double> part, const std::vector<double>& full) {
        double level = 0;
        for (std::size_t i = 0; i < part.size(); ++i) part[i] += (level += full[i]);
        return part;
    }
};

class reader {
public:
    reader(const std::filesystem::path& file, const report_options& options) : options_(options) {
        data_.records = file;
    }

    void line(const json& j, const line_place& at) {
        if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
            at.fail("not a record (an object with a \"type\"): " +
                    j.dump(-1, ' ', false, json::error_handler_t::replace).substr(0, 80));
        const std::string& type = j["type"].get_ref<const std::string&>();
        if (type == "task") return task(j, at);
        if (type == "worker") return worker(j, at);
        if (type == "pool") return pool(j, at);
        if (type == "summary") return summary(j, at);
        if (type == "event") return event(j, at);
        if (type == "end") {
            data_.finished = true;
            data_.end_tasks = static_cast<std::size_t>(number_or(j, "tasks", 0, at));
            last_time_ = std::max(last_time_, number_or(j, "time", 0, at));
            return;
        }
        if (type == "header") at.fail("a second header line");
        // thread, counter and record types of later versions: nothing the report needs.
    }

    void header(const json& j, const line_place& at) {
        data_.program = text_or(j, "program");
        data_.host = text_or(j, "host");
        data_.pid = static_cast<std::int64_t>(number_or(j, "pid", 0, at));
        data_.t0_unix_us = number_or(j, "t0_unix_us", 0, at);
        data_.settings = settings_of(j);
    }

    void torn() { data_.torn_last_line = true; }

    trace_data finish();

private:
    void pool(const json& j, const line_place& at) {
        pool_info p;
        p.id = static_cast<std::uint64_t>(number(j, "pool", at));
        p.name = text_or(j, "name", "pool " + std::to_string(p.id));
        p.executor = text_or(j, "executor");
        p.workers = static_cast<std::int64_t>(number_or(j, "workers", 0, at));
        p.settings = settings_of(j);
        pool_names_[p.id] = p.name;
        data_.pools.push_back(std::move(p));
    }

    void worker(const json& j, const line_place& at) {
        const auto id = static_cast<std::uint64_t>(number(j, "worker", at));
        worker_row& w = data_.workers[row_of(id)];
        w.pool = static_cast<std::uint64_t>(number_or(j, "pool", 0, at));
        w.label = text_or(j, "label", "worker " + std::to_string(id));
        w.host = text_or(j, "host");
        w.pid = static_cast<std::int64_t>(number_or(j, "pid", 0, at));
        w.tid = static_cast<std::int64_t>(number_or(j, "tid", 0, at));
        w.rank = static_cast<std::int64_t>(number_or(j, "rank", -1, at));
    }

    std::uint32_t row_of(std::uint64_t worker) {
        auto [it, added] = rows_.try_emplace(worker, static_cast<std::uint32_t>(data_.workers.size()));
        if (added) {
            worker_row w;
            w.id = worker;
            w.label = "worker " + std::to_string(worker);
            data_.workers.push_back(std::move(w));
        }
        return it->second;
    }

    std::uint32_t group_of(const std::string& fn, std::uint64_t pool) {
        auto [it, added] = groups_.try_emplace({pool, fn}, static_cast<std::uint32_t>(data_.functions.size()));
        if (added) {
            function_stats f;
            f.fn = fn;
            const auto name = pool_names_.find(pool);
            f.pool = name != pool_names_.end() ? name->second : "pool " + std::to_string(pool);
            auto [colour, new_name] = colours_.try_emplace(fn, static_cast<std::uint32_t>(data_.function_names.size()));
            if (new_name) data_.function_names.push_back(fn);
            f.colour = colour->second;
            data_.functions.push_back(std::move(f));
            runs_.emplace_back();
            group_pool_.push_back(pool);
        }
        return it->second;
    }

    void task(const json& j, const line_place& at) {
        task_fields f;
        const auto optional_number = [&](const json& o, const char* key) -> std::optional<double> {
            if (!find(o, key)) return std::nullopt;
            return number(o, key, at);
        };
        f.task = optional_number(j, "task");
        f.pool = optional_number(j, "pool");
        f.worker = optional_number(j, "worker");
        f.retries = optional_number(j, "retries");
        f.bytes_out = optional_number(j, "bytes_out");
        f.bytes_in = optional_number(j, "bytes_in");
        if (const json* fn = find(j, "fn"); fn && fn->is_string()) f.fn = fn->get<std::string>();
        if (!f.fn) at.fail("a task record without \"fn\" (the function's name)");
        f.submit = number(j, "submit", at);
        f.start = number(j, "start", at);
        f.end = number(j, "end", at);
        if (const json* o = find(j, "outcome"); o && o->is_string()) f.outcome = o->get<std::string>();
        if (find(j, "error")) f.error = text_or(j, "error");
        if (const json* p = find(j, "phases"); p && p->is_object()) {
            f.transfer = optional_number(*p, "transfer");
            f.reply = optional_number(*p, "reply");
            f.deserialize = optional_number(*p, "deserialize");
        }
        task(f, at);
    }

public:
    void task(const task_fields& in, const line_place& at) {
        task_record t{};
        t.group = group_of(*in.fn, static_cast<std::uint64_t>(in.pool.value_or(0)));
        for (const auto& [name, time] : {std::pair("submit", &in.submit), {"start", &in.start}, {"end", &in.end}})
            if (!*time) at.fail(std::string("a \"task\" record without \"") + name + "\"");
        t.submit = *in.submit;
        t.start = *in.start;
        t.end = *in.end;
        if (t.end < t.start) at.fail("a task that ends before it starts");
        t.task = static_cast<std::uint64_t>(in.task.value_or(0));
        t.what = in.outcome ? outcome_of(*in.outcome, at) : outcome::ok;
        t.transfer = static_cast<float>(in.transfer.value_or(0));
        t.reply = static_cast<float>(in.reply.value_or(0));
        const double done = t.end + in.reply.value_or(0) + in.deserialize.value_or(0);
        const auto worker = static_cast<std::uint64_t>(in.worker.value_or(0));
        t.row = worker != 0 && t.what != outcome::cancelled ? row_of(worker) : no_row;
        function_stats& f = data_.functions[t.group];
        ++f.count;
        f.retries += static_cast<std::size_t>(in.retries.value_or(0));
        f.bytes_out += static_cast<std::uint64_t>(in.bytes_out.value_or(0));
        f.bytes_in += static_cast<std::uint64_t>(in.bytes_in.value_or(0));
        if (t.what == outcome::cancelled) {
            ++f.cancelled;
        } else {
            f.total_run_us += t.end - t.start;
            runs_[t.group].exact.push_back(t.end - t.start);
        }
        if (is_failure(t.what)) {
            ++f.failures;
            ++data_.failure_count;
            if (data_.failures.size() < options_.max_failures) {
                failure e;
                e.task = t.task;
                e.fn = f.fn;
                e.pool = f.pool;
                e.worker = t.row != no_row ? data_.workers[t.row].label : "";
                e.what = t.what;
                e.time_us = t.end;
                e.error = in.error.value_or("");
                data_.failures.push_back(std::move(e));
            }
        }
        first_time_ = std::min(first_time_, t.submit);
        last_time_ = std::max(last_time_, done);
        tasks_.push_back(t);
    }

private:
    void summary(const json& j, const line_place& at) {
        const json* fn = find(j, "fn");
        if (!fn || !fn->is_string()) at.fail("a summary record without \"fn\"");
        const auto group = group_of(fn->get<std::string>(), static_cast<std::uint64_t>(number_or(j, "pool", 0, at)));
        function_stats& f = data_.functions[group];
        const auto count = static_cast<std::size_t>(number(j, "count", at));
        f.count += count;
        f.summarized += count;
        f.total_run_us += number_or(j, "total_run", 0, at);
        f.failures += static_cast<std::size_t>(number_or(j, "failures", 0, at));
        data_.failure_count += static_cast<std::size_t>(number_or(j, "failures", 0, at));
        f.retries += static_cast<std::size_t>(number_or(j, "retries", 0, at));
        f.bytes_out += static_cast<std::uint64_t>(number_or(j, "bytes_out", 0, at));
        f.bytes_in += static_cast<std::uint64_t>(number_or(j, "bytes_in", 0, at));
        summarized_ += count;
        auto& buckets = runs_[group].buckets;
        if (const json* h = find(j, "run_hist"); h && h->is_array()) {
            buckets.resize(std::max(buckets.size(), h->size()));
            for (std::size_t i = 0; i < h->size(); ++i) {
                if (!(*h)[i].is_number()) at.fail("\"run_hist\" holds a value that is not a number");
                buckets[i] += (*h)[i].get<std::uint64_t>();
            }
        }
        f.approximate = true;
    }

    void event(const json& j, const line_place& at) {
        pool_event e;
        e.time_us = number(j, "time", at);
        e.pool = static_cast<std::uint64_t>(number_or(j, "pool", 0, at));
        e.worker = static_cast<std::uint64_t>(number_or(j, "worker", 0, at));
        if (e.worker != 0) row_of(e.worker);
        e.event = text_or(j, "event", "?");
        e.detail = text_or(j, "detail");
        first_time_ = std::min(first_time_, e.time_us);
        last_time_ = std::max(last_time_, e.time_us);
        data_.events.push_back(std::move(e));
    }

    void order_rows();
    void timeline();
    void stream();

    const report_options& options_;
    trace_data data_;
    std::vector<task_record> tasks_;
    std::vector<run_times> runs_;
    std::vector<std::uint64_t> group_pool_;  // the pool of each function_stats
    std::unordered_map<std::uint64_t, std::uint32_t> rows_;
    std::map<std::pair<std::uint64_t, std::string>, std::uint32_t> groups_;
    std::unordered_map<std::string, std::uint32_t> colours_;
    std::unordered_map<std::uint64_t, std::string> pool_names_;
    std::size_t summarized_ = 0;
    double first_time_ = std::numeric_limits<double>::infinity(), last_time_ = 0;
};

// Rows by pool, then worker id; tasks and events follow their rows.
void reader::order_rows() {
    auto& w = data_.workers;
    std::vector<std::uint32_t> order(w.size());
    for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](auto a, auto b) { return std::pair(w[a].pool, w[a].id) < std::pair(w[b].pool, w[b].id); });
    std::vector<std::uint32_t> new_index(w.size());
    std::vector<worker_row> sorted;
    sorted.reserve(w.size());
    for (std::uint32_t i = 0; i < order.size(); ++i) {
        new_index[order[i]] = i;
        sorted.push_back(std::move(w[order[i]]));
    }
    w = std::move(sorted);
    for (auto& t : tasks_)
        if (t.row != no_row) t.row = new_index[t.row];
    for (auto& row : w) {
        const auto name = pool_names_.find(row.pool);
        row.pool_name = name != pool_names_.end() ? name->second : "";
    }
}

void reader::timeline() {
    const std::size_t n = std::max<std::size_t>(1, options_.time_bins);
    data_.t_begin_us = std::isfinite(first_time_) ? std::max(0.0, first_time_) : 0.0;
    data_.t_end_us = std::max(last_time_, data_.t_begin_us + 1.0);
    const binner bins{data_.t_begin_us, (data_.t_end_us - data_.t_begin_us) / static_cast<double>(n), n};
    std::vector<double> run_part(n), run_full(n + 1), queue_part(n), queue_full(n + 1);
    for (const auto& t : tasks_) {
        bins.add(queue_part, queue_full, t.submit, t.start);
        if (t.row != no_row) bins.add(run_part, run_full, t.start, t.end);
    }
    data_.running = binner::total(std::move(run_part), run_full);
    data_.queued = binner::total(std::move(queue_part), queue_full);
    // Workers available: each pool's, from its first submit to its last task's end (pools used
    // one after the other do not add up).
    std::map<std::uint64_t, std::int64_t> workers;  // per pool: its line's count, else its rows
    for (const auto& w : data_.workers) ++workers[w.pool];
    for (const auto& p : data_.pools)
        if (p.workers > 0) workers[p.id] = p.workers;
    std::map<std::uint64_t, std::pair<double, double>> span;
    for (const auto& t : tasks_) {
        const auto [it, added] = span.try_emplace(group_pool_[t.group], t.submit, t.end + t.reply);
        it->second.first = std::min(it->second.first, t.submit);
        it->second.second = std::max(it->second.second, static_cast<double>(t.end + t.reply));
    }
    std::vector<double> cap_part(n), cap_full(n + 1);
    for (const auto& [pool, s] : span)
        bins.add(cap_part, cap_full, s.first, s.second, static_cast<double>(workers[pool]));
    data_.capacity = binner::total(std::move(cap_part), cap_full);
    for (const auto& [pool, count] : workers) data_.workers_total += count;
}

void reader::stream() {
    for (const auto& t : tasks_) {
        if (t.row == no_row) continue;
        ++data_.ran;
        data_.workers[t.row].tasks += 1;
        data_.workers[t.row].busy_us += t.end - t.start;
    }
    if (data_.ran <= options_.max_marks) {
        data_.marks.reserve(data_.ran);
        for (const auto& t : tasks_) {
            if (t.row == no_row) continue;
            data_.marks.push_back({t.row, data_.functions[t.group].colour, t.start, t.end - t.start, t.transfer,
                                   t.reply, t.what, t.task});
        }
        return;
    }
    // Per worker, bins coloured by the function that ran longest in each.
    data_.aggregated = true;
    const std::size_t rows = std::max<std::size_t>(1, data_.workers.size());
    const auto n = static_cast<std::uint32_t>(std::clamp<std::size_t>(options_.max_marks / rows, 20, 800));
    data_.cell_bins = n;
    const binner bins{data_.t_begin_us, (data_.t_end_us - data_.t_begin_us) / n, n};
    struct accumulator {
        std::vector<std::pair<std::uint32_t, double>> time;  // colour, µs
        std::uint32_t tasks = 0, failures = 0;
    };
    std::vector<accumulator> acc(rows * n);
    for (const auto& t : tasks_) {
        if (t.row == no_row) continue;
        const std::uint32_t colour = data_.functions[t.group].colour;
        const double a = bins.position(t.start), b = bins.position(t.end);
        const auto first = std::min<std::size_t>(static_cast<std::size_t>(a), n - 1);
        const auto last = std::min<std::size_t>(static_cast<std::size_t>(b), n - 1);
        accumulator& start_cell = acc[t.row * n + first];
        ++start_cell.tasks;
        if (is_failure(t.what)) ++start_cell.failures;
        for (std::size_t i = first; i <= last; ++i) {
            const double overlap = std::min(b, static_cast<double>(i + 1)) - std::max(a, static_cast<double>(i));
            if (overlap <= 0) continue;
            auto& time = acc[t.row * n + i].time;
            auto it = std::find_if(time.begin(), time.end(), [&](auto& p) { return p.first == colour; });
            if (it == time.end())
                time.emplace_back(colour, overlap);
            else
                it->second += overlap;
        }
    }
    for (std::uint32_t r = 0; r < rows; ++r) {
        for (std::uint32_t i = 0; i < n; ++i) {
            const accumulator& a = acc[r * n + i];
            if (a.time.empty() && a.tasks == 0) continue;
            cell c;
            c.row = r;
            c.bin = i;
            double busy = 0, most = -1;
            for (const auto& [colour, time] : a.time) {
                busy += time;
                if (time > most) most = time, c.colour = colour;
            }
            c.busy = static_cast<float>(std::min(1.0, busy));
            c.tasks = a.tasks;
            c.failures = a.failures;
            data_.cells.push_back(c);
        }
    }
}

trace_data reader::finish() {
    data_.task_lines = tasks_.size();
    data_.tasks = tasks_.size() + summarized_;
    for (std::size_t g = 0; g < data_.functions.size(); ++g) {
        function_stats& f = data_.functions[g];
        const std::size_t timed = f.count - f.cancelled;
        f.mean_us = timed ? f.total_run_us / static_cast<double>(timed) : 0;
        f.p50_us = percentile(runs_[g], 0.50);
        f.p99_us = percentile(runs_[g], 0.99);
    }
    order_rows();
    timeline();
    stream();  // before the functions are sorted: tasks_ hold their indices
    std::stable_sort(data_.functions.begin(), data_.functions.end(),
                     [](const auto& a, const auto& b) { return std::pair(a.pool, a.fn) < std::pair(b.pool, b.fn); });
    std::stable_sort(data_.failures.begin(), data_.failures.end(),
                     [](const auto& a, const auto& b) { return a.time_us < b.time_us; });
    tasks_ = {};
    return std::move(data_);
}

std::string parse_error(const std::string& text) {
    try {
        const json parsed = json::parse(text);
        (void)parsed;
    } catch (const json::parse_error& e) {
        // "[json.exception.parse_error.101] parse error at line 1, column 5: ..." -> from "column".
        const std::string what = e.what();
        const auto at = what.find("column");
        return at == std::string::npos ? what : what.substr(at);
    }
    return "malformed JSON";
}

bool blank(const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

}  // namespace

trace_data read_trace(const std::filesystem::path& records, const report_options& options) {
    std::ifstream in(records, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + records.string() + ": " + std::strerror(errno));
    reader r(records, options);
    std::string text;
    std::size_t number = 0;
    bool header_seen = false;
    task_line_reader fast;
    task_fields fields;
    while (std::getline(in, text)) {
        ++number;
        if (blank(text)) continue;
        const bool last = in.peek() == std::char_traits<char>::eof();
        const line_place at{records, number};
        if (header_seen && text.compare(0, 15, R"({"type":"task",)") == 0 && fast.read(text, fields)) {
            r.task(fields, at);
            continue;
        }
        json j = json::parse(text, nullptr, false);
        if (j.is_discarded()) {
            if (!header_seen)
                throw std::runtime_error("not a fronta trace: " + records.string() + ": its first line is not JSON (" +
                                         parse_error(text) + ")");
            if (last) {  // a killed program leaves its last line cut short
                r.torn();
                break;
            }
            at.fail("malformed JSON in the middle of the file (" + parse_error(text) + ")");
        }
        if (!header_seen) {
            if (!j.is_object() || j.value("type", json()) != "header" || !j.contains("fronta_trace"))
                throw std::runtime_error("not a fronta trace: " + records.string() +
                                         ": its first line is not a fronta header "
                                         "({\"type\":\"header\",\"fronta_trace\":1,...})");
            if (!j["fronta_trace"].is_number() || j["fronta_trace"].get<double>() > 1)
                throw std::runtime_error(records.string() + ": trace format " + j["fronta_trace"].dump() +
                                         " is newer than this report reads (1)");
            r.header(j, at);
            header_seen = true;
            continue;
        }
        r.line(j, at);
    }
    if (in.bad()) throw std::runtime_error("cannot read " + records.string() + ": " + std::strerror(errno));
    if (!header_seen) throw std::runtime_error("not a fronta trace: " + records.string() + " is empty");
    return r.finish();
}

std::filesystem::path records_path(const std::filesystem::path& trace) {
    if (trace.extension() == ".jsonl") return trace;
    std::filesystem::path records = trace;
    if (trace.extension() == ".json")
        records.replace_extension(".jsonl");
    else
        records += ".jsonl";
    std::error_code error;
    if (std::filesystem::exists(records, error)) return records;
    if (!std::filesystem::exists(trace, error))
        throw std::runtime_error("cannot read " + trace.string() + ": " + std::strerror(ENOENT));
    if (std::filesystem::is_directory(trace, error))
        throw std::runtime_error("cannot read " + trace.string() + ": " + std::strerror(EISDIR));
    // The path exists but its records file does not: a Chrome trace whose records were lost, a
    // records file under another name, or something else.
    std::ifstream in(trace, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + trace.string() + ": " + std::strerror(errno));
    std::string first;
    std::getline(in, first);
    json j = json::parse(first, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.value("type", json()) == "header") return trace;
    // A Chrome trace: an array of events (fronta writes "[" alone on its first line) or an object
    // with "traceEvents".
    const auto text = first.find_first_not_of(" \t\r");
    if (text != std::string::npos && (first[text] == '[' || first.find("\"traceEvents\"") != std::string::npos))
        throw std::runtime_error(trace.string() + ": the records file " + records.string() +
                                 " beside this trace is missing (fronta writes both; the report reads the records)");
    throw std::runtime_error("not a fronta trace: " + trace.string() + " (no records file " + records.string() +
                             " beside it, and it is not one itself)");
}

}  // namespace fronta::report
