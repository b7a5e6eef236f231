// check_trace [--require-names] FILE...: checks Chrome Trace Event files (tests/observe/trace_checker.hpp),
// prints a summary, the notes and the problems of each; exits 1 if any file has a problem.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "observe/trace_checker.hpp"

int main(int argc, char** argv) {
    fronta::test::trace_check_options options;
    std::vector<std::string> files;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--require-names") {
            options.require_names = true;
        } else if (arg == "-h" || arg == "--help" || arg.starts_with("-")) {
            std::fprintf(arg.starts_with("-h") || arg == "--help" ? stdout : stderr,
                         "usage: check_trace [--require-names] FILE...\n"
                         "  checks Chrome Trace Event JSON files; exit 1 if any has a problem\n");
            return arg == "-h" || arg == "--help" ? 0 : 2;
        } else {
            files.emplace_back(arg);
        }
    }
    if (files.empty()) {
        std::fprintf(stderr, "usage: check_trace [--require-names] FILE...\n");
        return 2;
    }
    bool all_ok = true;
    for (const auto& file : files) {
        auto check = fronta::test::check_trace_file(file, options);
        const auto& s = check.summary;
        std::printf(
            "%s: %s: %zu events, %zu slices, %zu tasks, %zu flows, %zu counters, %zu processes, %zu threads%s\n",
            file.c_str(), check.ok() ? "ok" : "PROBLEMS", s.events, s.slices, s.tasks, s.flows, s.counters, s.processes,
            s.threads, check.truncated ? " (truncated)" : "");
        for (const auto& [name, count] : s.tasks_by_name) std::printf("  tasks %s: %zu\n", name.c_str(), count);
        for (const auto& note : check.notes) std::printf("  note: %s\n", note.c_str());
        for (const auto& problem : check.problems) std::printf("  problem: %s\n", problem.c_str());
        all_ok = all_ok && check.ok();
    }
    return all_ok ? 0 : 1;
}
