#pragma once
// Helpers of the report tests: a scratch directory, records files written line by line, a
// synthetic run of many tasks, and a program run in a child process with a time limit.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace report_test {

namespace fs = std::filesystem;

// A directory removed at the end of the test.
struct scratch_dir {
    fs::path path;
    scratch_dir() {
        std::string pattern = (fs::temp_directory_path() / "fronta-report-XXXXXX").string();
        if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        path = pattern;
    }
    ~scratch_dir() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
    fs::path operator/(const std::string& name) const { return path / name; }
};

inline void write_file(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

inline std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::string header_line(const std::string& settings = R"({"path":"run.json","max_tasks":0})") {
    return R"({"type":"header","fronta_trace":1,"t0_unix_us":1764200000000000.0,"host":"node1","pid":1234,)"
           R"("program":"/bin/test_program","settings":)" +
           settings + "}";
}

inline std::string pool_line(int pool, const std::string& executor, int workers) {
    const std::string name = executor + " " + std::to_string(pool);
    return R"({"type":"pool","pool":)" + std::to_string(pool) + R"(,"name":")" + name + R"(","executor":")" + executor +
           R"(","workers":)" + std::to_string(workers) + R"(,"settings":{"workers":)" + std::to_string(workers) +
           R"(,"retries":1,"task_timeout_ms":null}})";
}

inline std::string worker_line(int worker, int pool, const std::string& label) {
    return R"({"type":"worker","worker":)" + std::to_string(worker) + R"(,"pool":)" + std::to_string(pool) +
           R"(,"label":")" + label + R"(","pid":1234,"tid":)" + std::to_string(5000 + worker) +
           R"(,"rank":-1,"host":"node1"})";
}

struct task {
    long id = 0;
    std::string fn = "f";
    int pool = 1, worker = 1;
    double submit = 0, start = 0, end = 0;
    double transfer = 0, reply = 0;
    long bytes_out = 0, bytes_in = 0;
    int retries = 0;
    std::string outcome = "ok", error;
};

inline std::string task_line(const task& t) {
    char text[1024];
    std::snprintf(text, sizeof text,
                  R"({"type":"task","task":%ld,"fn":"%s","pool":%d,"worker":%d,"submitter":7,"submit":%.3f,)"
                  R"("start":%.3f,"end":%.3f,"phases":{"serialize":0,"queue":%.3f,"transfer":%.3f,"run":%.3f,)"
                  R"("reply":%.3f,"deserialize":0},"bytes_out":%ld,"bytes_in":%ld,"retries":%d,"outcome":"%s")",
                  t.id, t.fn.c_str(), t.pool, t.worker, t.submit, t.start, t.end, t.start - t.submit - t.transfer,
                  t.transfer, t.end - t.start, t.reply, t.bytes_out, t.bytes_in, t.retries, t.outcome.c_str());
    std::string line = text;
    if (!t.error.empty()) line += R"(,"error":")" + t.error + "\"";
    return line + "}";
}

inline std::string end_line(double time, long tasks) {
    return R"({"type":"end","time":)" + std::to_string(time) + R"(,"tasks":)" + std::to_string(tasks) +
           R"(,"written":)" + std::to_string(tasks) + "}";
}

inline std::string lines(const std::vector<std::string>& all) {
    std::string out;
    for (const auto& l : all) out += l + "\n";
    return out;
}

// `tasks` tasks of three functions on `workers` threads of one pool, back to back on each
// worker (task i on worker i % workers, 10 µs apart, running 5..9 µs); every 100,000th fails.
inline void write_many_tasks(const fs::path& path, long tasks, int workers) {
    std::FILE* out = std::fopen(path.c_str(), "w");
    if (!out) throw std::runtime_error("cannot write " + path.string());
    std::fprintf(out, "%s\n%s\n", header_line().c_str(), pool_line(1, "thread_pool", workers).c_str());
    for (int w = 1; w <= workers; ++w)
        std::fprintf(out, "%s\n", worker_line(w, 1, "thread_pool 1 worker " + std::to_string(w - 1)).c_str());
    const char* fns[] = {"square", "parse_chunk", "load_csv"};
    double last = 0;
    for (long i = 0; i < tasks; ++i) {
        const long slot = i / workers;
        const double start = static_cast<double>(slot) * 10.0 + 0.5, end = start + 5.0 + static_cast<double>(i % 5);
        const bool failed = i % 100000 == 5;
        std::fprintf(out,
                     R"({"type":"task","task":%ld,"fn":"%s","pool":1,"worker":%ld,"submitter":7,"submit":%.1f,)"
                     R"("start":%.1f,"end":%.1f,"phases":{"serialize":0,"queue":0.5,"transfer":0,"run":%.1f,)"
                     R"("reply":0,"deserialize":0},"bytes_out":0,"bytes_in":0,"retries":0,"outcome":"%s"%s})"
                     "\n",
                     i, fns[(slot / 1000) % 3], 1 + i % workers, start - 0.5, start, end, end - start,
                     failed ? "failed" : "ok", failed ? R"(,"error":"bad row")" : "");
        last = end;
    }
    std::fprintf(out, "%s\n", end_line(last, tasks).c_str());
    if (std::fclose(out) != 0) throw std::runtime_error("cannot write " + path.string());
}

// How many tasks the big tests use: a million; under sanitizers (where the Makefile sets
// FRONTA_STRESS_TASKS, 100,000) a quarter of that, and never fewer than 30,000 (more than the
// 20,000 marks past which the stream is drawn as time bins).
inline long many_tasks() {
    const char* env = std::getenv("FRONTA_STRESS_TASKS");
    const long asked = env ? std::atol(env) : 0;
    return asked > 0 ? std::clamp(asked / 4, 30000L, 1000000L) : 1000000;
}

struct child_result {
    bool timed_out = false;
    int exit_code = -1;  // -1: killed by a signal
    std::string out, err;
};

// Runs argv[0] (found on PATH) in a process group of its own with stdout and stderr to files;
// past `seconds` the whole group is killed, so a hang fails the test instead of the suite.
inline child_result run_child(const std::vector<std::string>& args, int seconds, const fs::path& dir) {
    const fs::path out_path = dir / "child.out", err_path = dir / "child.err";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setpgroup(&attributes, 0);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawnp(&pid, argv[0], &actions, &attributes, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    child_result result;
    if (rc != 0) {
        result.err = "cannot start " + args[0] + ": " + std::strerror(rc);
        return result;
    }
    // Wait on a pidfd with the time limit (no polling loop, no sleeps).
    const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    pollfd p{pidfd, POLLIN, 0};
    const int ready = pidfd >= 0 ? poll(&p, 1, seconds * 1000) : 1;
    if (ready == 0) {
        result.timed_out = true;
        kill(-pid, SIGKILL);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    kill(-pid, SIGKILL);  // helpers the program left behind in its group
    if (pidfd >= 0) close(pidfd);
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    result.out = read_file(out_path);
    result.err = read_file(err_path);
    return result;
}

}  // namespace report_test
