// The Trace Event checker: one pass over the events for the per-event rules, then per track (pid,
// tid) the slices sorted by start for nesting, and the flow events sorted by time for matching and
// binding. O(n log n) in the number of events.
#include "observe/trace_checker.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>
#include <unordered_map>

namespace fronta::test {
namespace {

using json = nlohmann::json;
using track_key = std::pair<std::int64_t, std::int64_t>;

constexpr std::int64_t slack_ns = 10;  // float rounding: a child may overrun its parent by 0.01 us
constexpr std::size_t max_listed = 1000;

// What the later passes need of one event.
struct event_info {
    char ph = 0;
    std::string name, cat;
    std::optional<std::int64_t> pid, tid;
    std::optional<double> ts_us;
    std::int64_t ts = 0;   // ns
    std::int64_t dur = 0;  // ns, X only
};

struct slice {
    std::int64_t start, end;  // ns
    std::size_t index;        // the X, B or instant event
};

struct flow_event {
    std::size_t index;
    std::uint64_t id;
    bool bind_enclosing;  // s, t, and f with bp "e"
};

// Sorted by start, the longer first at equal starts (a parent before its children), then file order.
bool by_start(const slice& a, const slice& b) {
    return std::tie(a.start, b.end, a.index) < std::tie(b.start, a.end, b.index);
}

std::int64_t to_ns(double us) { return std::llround(us * 1000.0); }

std::string format_us(double us) {
    std::ostringstream out;
    out.precision(15);
    out << us;
    return out.str();
}

bool is_thread_track_phase(char ph, const json& event) {
    switch (ph) {
        case 'B':
        case 'E':
        case 'X':
        case 's':
        case 't':
        case 'f': return true;
        case 'i':
        case 'I': {
            auto s = event.find("s");
            return s == event.end() || (s->is_string() && s->get<std::string>() == "t");
        }
        default: return false;
    }
}

bool cat_has(std::string_view list, std::string_view wanted) {
    while (!list.empty()) {
        auto comma = list.find(',');
        auto item = list.substr(0, comma);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (item == wanted) return true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

// A flow id as Perfetto reads it: an unsigned integer, or a string of hex digits.
std::optional<std::uint64_t> flow_id(const json& id) {
    if (id.is_number_unsigned()) return id.get<std::uint64_t>();
    if (id.is_number_integer()) {
        auto v = id.get<std::int64_t>();
        if (v >= 0) return static_cast<std::uint64_t>(v);
        return std::nullopt;
    }
    if (!id.is_string()) return std::nullopt;
    std::string text = id.get<std::string>();
    std::string_view digits = text;
    if (digits.starts_with("0x") || digits.starts_with("0X")) digits.remove_prefix(2);
    if (digits.empty() || digits.size() > 16) return std::nullopt;
    std::uint64_t value = 0;
    for (char c : digits) {
        int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
                : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                            : -1;
        if (d < 0) return std::nullopt;
        value = value * 16 + static_cast<std::uint64_t>(d);
    }
    return value;
}

class checker {
public:
    checker(trace_check& result, const trace_check_options& options) : r_(result), options_(options) {}

    void run(std::string_view text);

private:
    trace_check& r_;
    const trace_check_options& options_;
    std::size_t unlisted_ = 0;
    std::vector<event_info> events_;
    std::map<track_key, std::vector<slice>> slices_;  // per track, sorted by start after collect
    std::map<track_key, std::vector<std::size_t>> begin_ends_;
    std::map<track_key, std::vector<std::int64_t>> prefix_end_;  // the latest end among slices [0, k]
    std::vector<flow_event> flows_;
    std::map<std::int64_t, std::size_t> process_first_event_;
    std::map<track_key, std::size_t> thread_first_event_;

    void problem(std::string rule, std::string text) {
        if (r_.problems.size() >= max_listed) {
            ++unlisted_;
            return;
        }
        r_.problems.push_back(std::move(rule) + ": " + std::move(text));
    }
    std::string describe(std::size_t i) const {
        const auto& e = events_[i];
        std::string s = "event #" + std::to_string(i) + " (ph \"" + std::string(1, e.ph ? e.ph : '?') + "\"";
        if (!e.name.empty()) s += ", \"" + e.name + "\"";
        if (e.ts_us) s += ", ts " + format_us(*e.ts_us);
        if (e.pid) s += ", pid " + std::to_string(*e.pid);
        if (e.tid) s += ", tid " + std::to_string(*e.tid);
        return s + ")";
    }
    void event_problem(std::string rule, std::size_t i, const std::string& text) {
        problem(std::move(rule), describe(i) + ": " + text);
    }

    std::optional<json> parse(std::string_view text);
    void check_event(std::size_t i, const json& event);
    void check_fields(std::size_t i, const json& event, event_info& e);
    void check_metadata(std::size_t i, const json& event);
    void check_begin_ends();
    void check_nesting();
    void check_flows();
    void check_flow_binding(const flow_event& f);
    void check_names();
};

std::optional<json> checker::parse(std::string_view text) {
    auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) {
        problem("json", "the file is empty");
        return std::nullopt;
    }
    std::string fixed;
    if (text[first] == '[') {
        // As chrome://tracing reads it: drop a trailing ',' and close an array left open.
        auto last = text.find_last_not_of(" \t\r\n");
        if (text[last] != ']') {
            auto end = last + 1;
            if (text[last] == ',') end = last;
            fixed.assign(text.substr(0, end));
            fixed += "\n]";
            text = fixed;
            r_.truncated = true;
            r_.notes.push_back(
                "truncated: the event array has no closing ']' (a writer that did not finish); read as if closed");
        }
    }
    try {
        return json::parse(text);
    } catch (const json::parse_error& e) {
        std::size_t at = std::min<std::size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
        auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n');
        std::string where = "line " + std::to_string(line);
        if (r_.truncated && at > text.rfind('\n', text.size() - 3))
            problem("json", "the last event is cut off at " + where + " (torn write); viewers cannot open the file");
        else
            problem("json", std::string("not valid JSON at ") + where + ": " + e.what());
        return std::nullopt;
    }
}

void checker::run(std::string_view text) {
    auto doc = parse(text);
    if (!doc) return;
    const json* list = nullptr;
    if (doc->is_array()) {
        list = &*doc;
    } else if (doc->is_object()) {
        auto it = doc->find("traceEvents");
        if (it == doc->end() || !it->is_array()) {
            problem("top_level", "an object without a \"traceEvents\" array");
            return;
        }
        list = &*it;
        auto unit = doc->find("displayTimeUnit");
        if (unit != doc->end() && !(unit->is_string() && (*unit == "ms" || *unit == "ns")))
            problem("top_level", "\"displayTimeUnit\" is neither \"ms\" nor \"ns\"");
    } else {
        problem("top_level", "neither an array of events nor an object with \"traceEvents\"");
        return;
    }
    r_.summary.events = list->size();
    events_.resize(list->size());
    for (std::size_t i = 0; i < list->size(); ++i) check_event(i, (*list)[i]);
    for (auto& [track, list] : slices_) {
        std::sort(list.begin(), list.end(), by_start);
    }
    check_begin_ends();  // adds the B/E pairs to slices_
    check_nesting();
    check_flows();
    check_names();
    if (unlisted_ > 0) r_.problems.push_back("... and " + std::to_string(unlisted_) + " more problems not listed");
}

void checker::check_event(std::size_t i, const json& event) {
    auto& e = events_[i];
    if (!event.is_object()) {
        event_problem("event_object", i, "not a JSON object");
        return;
    }
    auto ph = event.find("ph");
    if (ph == event.end() || !ph->is_string() || ph->get_ref<const std::string&>().size() != 1) {
        if (auto name = event.find("name"); name != event.end() && name->is_string()) e.name = *name;
        event_problem("phase", i, "\"ph\" is missing or not a one-letter string");
        return;
    }
    e.ph = ph->get_ref<const std::string&>()[0];
    static constexpr std::string_view known = "BEXiICbneSTpFstfPNODMVvRc()";
    if (known.find(e.ph) == std::string_view::npos) {
        event_problem("phase", i, std::string("unknown phase \"") + e.ph + "\"");
        return;
    }
    check_fields(i, event, e);
    auto args = event.find("args");
    switch (e.ph) {
        case 'X': {
            auto dur = event.find("dur");
            if (dur == event.end() || !dur->is_number())
                event_problem("complete_dur", i, "an X event without a number \"dur\"");
            else if (dur->get<double>() < 0)
                event_problem("complete_dur", i, "negative \"dur\" " + dur->dump());
            else
                e.dur = to_ns(dur->get<double>());
            ++r_.summary.slices;
            if (cat_has(e.cat, "task")) {
                ++r_.summary.tasks;
                ++r_.summary.tasks_by_name[e.name];
                if (e.pid && e.tid) ++r_.summary.tasks_by_track[{*e.pid, *e.tid}];
            }
            if (e.pid && e.tid && e.ts_us) slices_[{*e.pid, *e.tid}].push_back({e.ts, e.ts + e.dur, i});
            break;
        }
        case 'B':
        case 'E':
            if (e.pid && e.tid && e.ts_us) begin_ends_[{*e.pid, *e.tid}].push_back(i);
            break;
        case 'C':
            ++r_.summary.counters;
            if (args == event.end() || !args->is_object() || args->empty()) {
                event_problem("counter_args", i, "a counter without \"args\" values");
            } else {
                for (auto it = args->begin(); it != args->end(); ++it)
                    if (!it->is_number())
                        event_problem("counter_args", i, "counter value \"" + it.key() + "\" is not a number");
            }
            break;
        case 'i':
        case 'I': {
            ++r_.summary.instants;
            auto s = event.find("s");
            if (s != event.end() && !(s->is_string() && (*s == "g" || *s == "p" || *s == "t"))) {
                event_problem("instant_scope", i, "scope \"s\" is " + s->dump() + ", not \"g\", \"p\" or \"t\"");
            } else if (is_thread_track_phase(e.ph, event) && e.pid && e.tid && e.ts_us) {
                slices_[{*e.pid, *e.tid}].push_back({e.ts, e.ts, i});
            }
            break;
        }
        case 'M':
            ++r_.summary.metadata;
            check_metadata(i, event);
            break;
        case 's':
        case 't':
        case 'f': {
            bool complete = true;
            if (!event.contains("cat"))
                event_problem("flow_fields", i, "a flow event without \"cat\""), complete = false;
            if (!event.contains("name")) complete = false;  // a "fields" problem already
            std::optional<std::uint64_t> id;
            if (auto it = event.find("id"); it == event.end()) {
                event_problem("flow_fields", i, "a flow event without \"id\"");
            } else if (!(id = flow_id(*it))) {
                event_problem("flow_fields", i,
                              "flow id " + it->dump() + " is neither an integer >= 0 nor a hex string");
            }
            bool enclosing = e.ph != 'f';
            if (auto bp = event.find("bp"); e.ph == 'f' && bp != event.end()) {
                if (*bp == "e")
                    enclosing = true;
                else
                    event_problem("flow_fields", i, "binding point \"bp\" is " + bp->dump() + ", not \"e\""),
                        complete = false;
            }
            if (complete && id && e.pid && e.tid && e.ts_us) flows_.push_back({i, *id, enclosing});
            break;
        }
        default: break;
    }
}

void checker::check_fields(std::size_t i, const json& event, event_info& e) {
    auto name = event.find("name");
    if (name != event.end() && name->is_string())
        e.name = *name;
    else if (name != event.end())
        event_problem("fields", i, "\"name\" is not a string");
    else if (e.ph != 'E')
        event_problem("fields", i, "no \"name\"");
    auto cat = event.find("cat");
    if (cat != event.end() && cat->is_string())
        e.cat = *cat;
    else if (cat != event.end())
        event_problem("fields", i, "\"cat\" is not a string");
    auto integer = [&](const char* key, bool required) -> std::optional<std::int64_t> {
        auto it = event.find(key);
        if (it == event.end()) {
            if (required) event_problem("fields", i, std::string("no \"") + key + "\"");
            return std::nullopt;
        }
        if (it->is_number_integer() && !(it->is_number_unsigned() && it->get<std::uint64_t>() > INT64_MAX))
            return it->get<std::int64_t>();
        event_problem("fields", i, std::string("\"") + key + "\" is " + it->dump() + ", not an integer");
        return std::nullopt;
    };
    bool thread_metadata = e.ph == 'M' && (e.name == "thread_name" || e.name == "thread_sort_index");
    e.pid = integer("pid", true);
    e.tid = integer("tid", is_thread_track_phase(e.ph, event) || thread_metadata);
    if (auto ts = event.find("ts"); ts == event.end()) {
        if (e.ph != 'M') event_problem("fields", i, "no \"ts\"");
    } else if (!ts->is_number()) {
        event_problem("fields", i, "\"ts\" is " + ts->dump() + ", not a number");
    } else {
        e.ts_us = ts->get<double>();
        e.ts = to_ns(*e.ts_us);
    }
    if (auto args = event.find("args"); args != event.end() && !args->is_object())
        event_problem("fields", i, "\"args\" is not an object");
    if (std::string_view("bneSTpF").find(e.ph) != std::string_view::npos && !event.contains("id") &&
        !event.contains("id2"))
        event_problem("fields", i, "an async event without \"id\" or \"id2\"");
    if (e.ph != 'M' && e.pid) {
        process_first_event_.try_emplace(*e.pid, i);
        if (e.tid && is_thread_track_phase(e.ph, event)) thread_first_event_.try_emplace({*e.pid, *e.tid}, i);
    }
}

void checker::check_metadata(std::size_t i, const json& event) {
    const auto& e = events_[i];
    auto args = event.find("args");
    auto arg = [&](const char* key) -> const json* {
        if (args == event.end() || !args->is_object()) return nullptr;
        auto it = args->find(key);
        return it == args->end() ? nullptr : &*it;
    };
    if (e.name == "process_name" || e.name == "thread_name") {
        const json* name = arg("name");
        if (!name || !name->is_string()) {
            event_problem("metadata", i, e.name + " without a string args.name");
        } else if (e.pid && e.name == "process_name") {
            r_.summary.process_names[*e.pid] = *name;
        } else if (e.pid && e.tid) {
            r_.summary.thread_names[{*e.pid, *e.tid}] = *name;
        }
    } else if (e.name == "process_sort_index" || e.name == "thread_sort_index") {
        const json* index = arg("sort_index");
        if (!index || !index->is_number_integer())
            event_problem("metadata", i, e.name + " without an integer args.sort_index");
    } else if (e.name == "process_labels") {
        const json* labels = arg("labels");
        if (!labels || !labels->is_string())
            event_problem("metadata", i, "process_labels without a string args.labels");
    } else if (e.name == "num_cpus") {
        const json* number = arg("number");
        if (!number || !number->is_number()) event_problem("metadata", i, "num_cpus without a number args.number");
    } else if (!e.name.empty()) {
        event_problem("metadata", i, "unknown metadata name \"" + e.name + "\" (chrome://tracing warns and drops it)");
    }
}

void checker::check_begin_ends() {
    for (auto& [track, list] : begin_ends_) {
        std::vector<std::size_t> open;
        std::optional<std::size_t> previous;
        std::vector<slice> pairs;
        for (std::size_t i : list) {
            const auto& e = events_[i];
            if (previous && e.ts < events_[*previous].ts) {
                event_problem("begin_end", i,
                              "its timestamp goes back from " + describe(*previous) +
                                  " on the same track (viewers drop it)");
                continue;
            }
            previous = i;
            if (e.ph == 'B') {
                open.push_back(i);
            } else if (open.empty()) {
                event_problem("begin_end", i, "an E with no open B on its track");
            } else {
                std::size_t b = open.back();
                open.pop_back();
                if (!e.name.empty() && e.name != events_[b].name)
                    event_problem("begin_end", i, "closes " + describe(b) + ", whose name differs");
                pairs.push_back({events_[b].ts, e.ts, b});
                ++r_.summary.slices;
            }
        }
        for (std::size_t b : open) {
            if (r_.truncated)
                r_.notes.push_back("begin_end: " + describe(b) + " is still open where the file ends");
            else
                event_problem("begin_end", b, "a B that no E closes");
        }
        if (pairs.empty()) continue;
        auto& slices = slices_[track];
        auto middle = slices.size();
        std::sort(pairs.begin(), pairs.end(), by_start);
        slices.insert(slices.end(), pairs.begin(), pairs.end());
        std::inplace_merge(slices.begin(), slices.begin() + static_cast<std::ptrdiff_t>(middle), slices.end(),
                           by_start);
    }
}

void checker::check_nesting() {
    for (auto& [track, list] : slices_) {
        // Sorted by start, the longer first: each slice must fit in the innermost one still open.
        std::vector<const slice*> stack;
        std::vector<const slice*> moved;
        for (const auto& s : list) {
            while (!stack.empty() && stack.back()->end <= s.start + slack_ns) stack.pop_back();
            // A slice that starts within the slack after s and ends before it is s's child.
            moved.clear();
            while (!stack.empty() && s.end > stack.back()->end + slack_ns &&
                   stack.back()->start + slack_ns >= s.start) {
                moved.push_back(stack.back());
                stack.pop_back();
            }
            if (!stack.empty() && s.end > stack.back()->end + slack_ns) {
                event_problem("nesting", s.index,
                              "starts inside " + describe(stack.back()->index) + " and ends " +
                                  format_us(double(s.end - stack.back()->end) / 1000.0) + " us after it");
            } else {
                stack.push_back(&s);
            }
            stack.insert(stack.end(), moved.rbegin(), moved.rend());
        }
        // Of slices starting together, file order must be outer first.
        for (std::size_t a = 0; a < list.size();) {
            std::size_t b = a;
            while (b < list.size() && list[b].start == list[a].start) ++b;
            if (b - a > 1) {
                std::vector<const slice*> group;
                for (std::size_t k = a; k < b; ++k) group.push_back(&list[k]);
                std::sort(group.begin(), group.end(),
                          [](const slice* x, const slice* y) { return x->index < y->index; });
                for (std::size_t k = 0; k + 1 < group.size(); ++k) {
                    if (group[k]->end > group[k]->start && group[k + 1]->end > group[k]->end)
                        event_problem("same_start_order", group[k + 1]->index,
                                      "starts with " + describe(group[k]->index) +
                                          " and encloses it, but comes after it in the file (viewers nest it inside)");
                }
            }
            a = b;
        }
    }
}

void checker::check_flows() {
    std::vector<const flow_event*> order;
    for (const auto& f : flows_) order.push_back(&f);
    std::sort(order.begin(), order.end(), [&](const flow_event* a, const flow_event* b) {
        return std::tie(events_[a->index].ts, a->index) < std::tie(events_[b->index].ts, b->index);
    });
    using flow_key = std::tuple<std::uint64_t, std::string, std::string>;
    auto key_of = [&](const flow_event* f) { return flow_key{f->id, events_[f->index].cat, events_[f->index].name}; };
    std::map<flow_key, std::size_t> first_start;  // for an f seen before its s
    for (const auto* f : order)
        if (events_[f->index].ph == 's') first_start.try_emplace(key_of(f), f->index);
    std::unordered_map<std::uint64_t, std::size_t> started_ids;
    std::map<flow_key, std::size_t> open, ended;
    for (const auto* f : order) {
        auto key = key_of(f);
        char ph = events_[f->index].ph;
        if (ph == 's') {
            auto [it, fresh] = started_ids.try_emplace(f->id, f->index);
            if (!fresh) {
                event_problem("flow_ids", f->index,
                              "flow id " + std::to_string(f->id) + " was already started by " + describe(it->second));
                continue;
            }
            open[key] = f->index;
        } else if (open.contains(key)) {
            if (ph == 'f') {
                open.erase(key);
                ended[key] = f->index;
                ++r_.summary.flows;
            }
        } else if (auto done = ended.find(key); done != ended.end()) {
            event_problem("flow_ids", f->index,
                          "flow id " + std::to_string(f->id) + " was already ended by " + describe(done->second));
        } else if (auto s = first_start.find(key); s != first_start.end()) {
            event_problem("flow_match", f->index,
                          "comes before its start " + describe(s->second) + " (viewers drop the flow)");
        } else {
            event_problem("flow_match", f->index, "no s with the same cat, name and id " + std::to_string(f->id));
        }
    }
    for (const auto& [key, index] : open) {
        if (r_.truncated)
            r_.notes.push_back("flow_match: " + describe(index) + " has no f where the file ends");
        else
            event_problem("flow_match", index,
                          "no f with the same cat, name and id " + std::to_string(std::get<0>(key)));
    }
    for (const auto& [track, list] : slices_) {
        auto& ends = prefix_end_[track];
        std::int64_t latest = std::numeric_limits<std::int64_t>::min();
        for (const auto& s : list) ends.push_back(latest = std::max(latest, s.end));
    }
    for (const auto& f : flows_) check_flow_binding(f);
}

void checker::check_flow_binding(const flow_event& f) {
    const auto& e = events_[f.index];
    auto found = slices_.find({*e.pid, *e.tid});
    static const std::vector<slice> none;
    const auto& list = found == slices_.end() ? none : found->second;
    auto starts_before = [](const slice& s, std::int64_t ts) { return s.start < ts; };
    auto first_at = std::lower_bound(list.begin(), list.end(), e.ts, starts_before);
    auto after_at = std::find_if(first_at, list.end(), [&](const slice& s) { return s.start != e.ts; });
    if (!f.bind_enclosing) {
        // The next slice to begin on the track: later, or at the same time and later in the file.
        if (after_at != list.end()) return;
        if (std::any_of(first_at, after_at, [&](const slice& s) { return s.index > f.index; })) return;
        std::string why = first_at != after_at ? "; the slices starting at its ts come before it in the file" : "";
        event_problem("flow_binding", f.index,
                      "an f without bp \"e\" and no slice starting at or after it on its track" + why);
        return;
    }
    // A slice enclosing ts: one starting before it and ending at or after it (the running maximum of
    // the ends of the slices sorted by start), or one starting at it and read before it.
    auto before = static_cast<std::size_t>(first_at - list.begin());
    if (before > 0 && prefix_end_.at({*e.pid, *e.tid})[before - 1] >= e.ts) return;
    for (auto it = first_at; it != after_at; ++it)
        if (it->index < f.index) return;
    if (first_at != after_at)
        event_problem("flow_binding", f.index,
                      "its enclosing slice " + describe(first_at->index) +
                          " starts at the same ts but comes after it in the file: Perfetto drops the flow");
    else
        event_problem("flow_binding", f.index, "no slice on its track encloses it");
}

void checker::check_names() {
    for (const auto& [pid, first] : process_first_event_) {
        if (r_.summary.process_names.contains(pid)) continue;
        ++r_.summary.unnamed_processes;
        if (options_.require_names)
            problem("names",
                    "pid " + std::to_string(pid) + " has events (first " + describe(first) + ") but no process_name");
    }
    for (const auto& [track, first] : thread_first_event_) {
        if (r_.summary.thread_names.contains(track)) continue;
        ++r_.summary.unnamed_threads;
        if (options_.require_names)
            problem("names", "thread pid " + std::to_string(track.first) + " tid " + std::to_string(track.second) +
                                 " has events (first " + describe(first) + ") but no thread_name");
    }
    r_.summary.processes = process_first_event_.size();
    r_.summary.threads = thread_first_event_.size();
}

}  // namespace

bool trace_check::has(std::string_view rule) const {
    return std::any_of(problems.begin(), problems.end(), [&](const std::string& p) {
        return p.size() > rule.size() && p.compare(0, rule.size(), rule) == 0 && p[rule.size()] == ':';
    });
}

std::string trace_check::report() const {
    std::string out;
    for (const auto& p : problems) out += "problem: " + p + "\n";
    for (const auto& n : notes) out += "note: " + n + "\n";
    return out;
}

trace_check check_trace_text(std::string_view text, const trace_check_options& options) {
    trace_check result;
    checker(result, options).run(text);
    return result;
}

trace_check check_trace_file(const std::filesystem::path& path, const trace_check_options& options) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        trace_check result;
        result.problems.push_back("file: cannot open " + path.string());
        return result;
    }
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return check_trace_text(text, options);
}

}  // namespace fronta::test
