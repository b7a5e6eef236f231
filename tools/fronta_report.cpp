// fronta-report: the HTML report of a trace.
//   fronta-report run.json -o run.html
// Exit status: 0 written, 1 the trace could not be read or the page not written, 2 usage.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "fronta/report.hpp"

namespace {

const char* const usage =
    "usage: fronta-report TRACE [-o REPORT.html] [--max-marks N]\n"
    "\n"
    "Writes one self-contained HTML page (no network needed) from a trace written by\n"
    "fronta::tracing or FRONTA_TRACE: the task stream per worker, utilisation and queue\n"
    "depth over time, a table per function, the failures and the run's settings.\n"
    "\n"
    "  TRACE            the trace (run.json; the records file run.jsonl beside it is read)\n"
    "                   or the records file itself (run.jsonl)\n"
    "  -o, --output F   the page to write (default: TRACE with the extension .html)\n"
    "  --max-marks N    draw tasks one by one up to N (default 20000); past it, time bins\n"
    "  -h, --help       this text\n";

int usage_error(const std::string& what) {
    std::fprintf(stderr, "fronta-report: %s\n%s", what.c_str(), usage);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::string trace, output;
    fronta::report_options options;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            std::fputs(usage, stdout);
            return 0;
        }
        if (arg == "-o" || arg == "--output" || arg == "--max-marks") {
            if (i + 1 == argc) return usage_error(arg + " needs a value");
            const std::string value = argv[++i];
            if (arg == "--max-marks") {
                char* end = nullptr;
                const unsigned long long n = std::strtoull(value.c_str(), &end, 10);
                if (value.empty() || *end != '\0' || value[0] == '-')
                    return usage_error("--max-marks takes a count: " + value);
                options.max_marks = static_cast<std::size_t>(n);
            } else {
                output = value;
            }
        } else if (!arg.empty() && arg[0] == '-' && arg != "-") {
            return usage_error("unknown option " + arg);
        } else if (trace.empty()) {
            trace = arg;
        } else {
            return usage_error("one trace at a time (got " + trace + " and " + arg + ")");
        }
    }
    if (trace.empty()) return usage_error("which trace? (fronta-report run.json -o run.html)");
    if (output.empty()) output = std::filesystem::path(trace).replace_extension(".html").string();
    try {
        fronta::write_trace_report(trace, output, options);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fronta-report: %s\n", e.what());
        return 1;
    }
    std::printf("fronta-report: wrote %s\n", output.c_str());
    return 0;
}
