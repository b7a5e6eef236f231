#pragma once
// A task line of the records file read by a SAX handler, without building a DOM (report_data.cpp).
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace fronta::report {

// The fields of a task line. Task lines are nearly all of a big trace, so they are read by a SAX
// handler straight into this (twice as fast as a DOM); a line it does not take as it is (a field
// of an unexpected type, unknown nesting, malformed JSON) goes the DOM way, which says what is wrong.
struct task_fields {
    std::optional<double> task, pool, worker, retries, bytes_out, bytes_in, submit, start, end;
    std::optional<double> transfer, reply, deserialize;
    std::optional<std::string> fn, outcome, error;
};

class task_line_reader : public nlohmann::json_sax<nlohmann::json> {
public:
    // True when `line` is a well-typed task record; then `fields` holds it.
    bool read(const std::string& line, task_fields& fields) {
        fields = {};
        fields_ = &fields;
        depth_ = 0;
        is_task_ = false;
        ok_ = true;
        return nlohmann::json::sax_parse(line, this) && ok_ && is_task_;
    }

    bool null() override { return ok_ = depth_ >= 1; }  // null is "absent", as on the DOM path
    bool boolean(bool) override { return ok_ = false; }
    bool number_integer(number_integer_t v) override { return number(static_cast<double>(v)); }
    bool number_unsigned(number_unsigned_t v) override { return number(static_cast<double>(v)); }
    bool number_float(number_float_t v, const string_t&) override { return number(v); }
    bool string(string_t& v) override {
        if (depth_ != 1) return ok_ = false;
        if (key_ == "type")
            is_task_ = v == "task";
        else if (key_ == "fn")
            fields_->fn = std::move(v);
        else if (key_ == "outcome")
            fields_->outcome = std::move(v);
        else if (key_ == "error")
            fields_->error = std::move(v);
        else if (number_slot())
            return ok_ = false;
        return true;
    }
    bool binary(binary_t&) override { return ok_ = false; }
    bool start_object(std::size_t) override {
        ++depth_;
        if (depth_ == 2 && key_ != "phases") return ok_ = false;
        return depth_ <= 2 || (ok_ = false);
    }
    bool key(string_t& k) override {
        key_ = std::move(k);
        return true;
    }
    bool end_object() override {
        --depth_;
        return true;
    }
    bool start_array(std::size_t) override { return ok_ = false; }
    bool end_array() override { return ok_ = false; }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
        return ok_ = false;
    }

private:
    std::optional<double>* number_slot() {
        task_fields& f = *fields_;
        if (depth_ == 2) {
            if (key_ == "transfer") return &f.transfer;
            if (key_ == "reply") return &f.reply;
            if (key_ == "deserialize") return &f.deserialize;
            return nullptr;
        }
        if (key_ == "task") return &f.task;
        if (key_ == "pool") return &f.pool;
        if (key_ == "worker") return &f.worker;
        if (key_ == "retries") return &f.retries;
        if (key_ == "bytes_out") return &f.bytes_out;
        if (key_ == "bytes_in") return &f.bytes_in;
        if (key_ == "submit") return &f.submit;
        if (key_ == "start") return &f.start;
        if (key_ == "end") return &f.end;
        return nullptr;
    }
    bool number(double v) {
        if (depth_ == 1 && (key_ == "type" || key_ == "fn" || key_ == "outcome" || key_ == "error")) return ok_ = false;
        if (std::optional<double>* slot = number_slot()) *slot = v;
        return true;
    }

    task_fields* fields_ = nullptr;
    std::string key_;
    int depth_ = 0;
    bool is_task_ = false, ok_ = true;
};

}  // namespace fronta::report
