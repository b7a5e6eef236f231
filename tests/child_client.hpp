#pragma once
// A process-pool client in a child process, for the tests where a client dies, is signalled, or
// must shut down cleanly: this binary started again with --scenario=NAME, in a process group of
// its own, with pipes for its stdin and stdout (its workers inherit both). The test waits for it
// with a time limit, so a regression fails instead of hanging. The test process is a child
// subreaper: workers orphaned by a dead client become its children, and it reaps them.
//
// A test binary registers its scenarios (`const scenario_registration r{"name", function};`) and
// its main runs one when asked (`if (auto name = scenario_asked(argc, argv)) return
// run_scenario(*name);`) right after fronta::init. Each binary is one translation unit.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "fronta/init.hpp"
#include "fronta/process_pool.hpp"
#include "process/wire.hpp"
#include "worker_channel.hpp"

extern char** environ;

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

// ---- tasks several client tests share -------------------------------------------------------------

int quick(int x) { return x + 1; }
FRONTA_REMOTE(quick);

int worker_pid() { return static_cast<int>(getpid()); }
FRONTA_REMOTE(worker_pid);

// Says it runs (a line on stdout, which the test reads), then never returns.
int stuck() {
    std::printf("running %d\n", static_cast<int>(getpid()));
    std::fflush(stdout);
    volatile long spins = 0;
    for (;;) spins = spins + 1;
}
FRONTA_REMOTE(stuck);

[[maybe_unused]] void hang_forever() {
    for (;;) pause();
}

// ---- a client in a child process -----------------------------------------------------------------

struct child_process {
    pid_t pid = -1;
    int to_stdin = -1;
    int from_stdout = -1;
    std::string output;  // read so far
};

struct child_setup {
    std::vector<std::string> env;  // added to this process's environment, or all of it
    bool inherit_env = true;
    int channel = -1;         // if given, the child has it at descriptor 100
    bool stderr_too = false;  // stderr into the same pipe as stdout
};

[[maybe_unused]] child_process start_child(const std::vector<std::string>& args, const child_setup& setup = {}) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    if (setup.stderr_too) posix_spawn_file_actions_adddup2(&actions, out[1], 2);
    if (setup.channel >= 0) posix_spawn_file_actions_adddup2(&actions, setup.channel, 100);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setpgroup(&attributes, 0);  // its own group: a Ctrl-C test signals only it
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    std::vector<std::string> env;
    if (setup.inherit_env)
        for (char** e = environ; *e; ++e) env.emplace_back(*e);
    for (auto& e : setup.env) env.push_back(e);
    std::vector<char*> envp, argv;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> arguments = args;
    for (auto& a : arguments) argv.push_back(a.data());
    argv.push_back(nullptr);
    child_process c;
    const int rc = posix_spawn(&c.pid, argv[0], &actions, &attributes, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    close(in[0]);
    close(out[1]);
    if (rc != 0) throw std::system_error(rc, std::generic_category(), "posix_spawn");
    c.to_stdin = in[1];
    c.from_stdout = out[0];
    return c;
}

[[maybe_unused]] child_process start_scenario(const std::string& name) {
    return start_child({"/proc/self/exe", "--scenario=" + name});
}

// Reads the child's stdout until `done(output)` holds, EOF, or the deadline; true if `done` held.
template <class Done>
bool read_until(child_process& c, Done done, std::chrono::seconds limit) {
    const auto give_up = steady::now() + limit;
    while (!done(c.output)) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - steady::now()).count();
        if (left <= 0) return false;
        pollfd p{c.from_stdout, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
        char buffer[4096];
        const ssize_t n = read(c.from_stdout, buffer, sizeof buffer);
        if (n <= 0) return done(c.output);
        c.output.append(buffer, static_cast<std::size_t>(n));
    }
    return true;
}

// Reads the child's stdout to its end (every holder of the pipe closed it); false on timeout.
[[maybe_unused]] bool read_to_end(child_process& c, std::chrono::seconds limit) {
    bool ended = false;
    read_until(
        c, [&](const std::string&) { return ended; }, limit);
    // read_until returns at EOF without `done`; tell EOF from the deadline by one more look.
    pollfd p{c.from_stdout, POLLIN, 0};
    if (poll(&p, 1, 0) == 1) {
        char byte;
        ended = read(c.from_stdout, &byte, 1) == 0;
    }
    return ended;
}

[[maybe_unused]] std::size_t count_of(const std::string& text, const std::string& word) {
    std::size_t n = 0;
    for (auto at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++n;
    return n;
}

[[maybe_unused]] std::vector<int> running_pids(const std::string& output) {
    std::vector<int> pids;
    std::istringstream lines(output);
    for (std::string line; std::getline(lines, line);)
        if (line.rfind("running ", 0) == 0) pids.push_back(std::stoi(line.substr(8)));
    return pids;
}

[[maybe_unused]] int pidfd_of(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

// Waits until process `pid` has ended (it may be ours or an orphan we adopted), up to `limit`;
// returns how long it took, or nullopt. Reaps it if it is our child.
[[maybe_unused]] std::optional<steady::duration> wait_for_end(pid_t pid, steady::time_point since,
                                                              std::chrono::seconds limit, bool reap = true) {
    const int fd = pidfd_of(pid);
    if (fd < 0) {
        if (reap) waitpid(pid, nullptr, WNOHANG);
        return steady::now() - since;  // already gone (and reaped)
    }
    pollfd p{fd, POLLIN, 0};
    const int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(limit).count());
    const int rc = poll(&p, 1, ms);
    close(fd);
    if (rc <= 0) return std::nullopt;
    const auto took = steady::now() - since;
    if (reap) waitpid(pid, nullptr, WNOHANG);  // an orphaned worker is our child (we are a subreaper)
    return took;
}

// The child's exit status, waiting up to `limit` (then it is killed and -1 is returned).
[[maybe_unused]] int wait_for_child(child_process& c, std::chrono::seconds limit) {
    if (!wait_for_end(c.pid, steady::now(), limit, false)) {
        kill(-c.pid, SIGKILL);
        kill(c.pid, SIGKILL);
        waitpid(c.pid, nullptr, 0);
        c.pid = -1;
        return -1;
    }
    int status = 0;
    waitpid(c.pid, &status, 0);
    c.pid = -1;
    return status;
}

[[maybe_unused]] int exit_code(int status) { return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

// Gives the child no input, reads what it writes until every holder of its stdout closed it (or
// `read_limit`), then waits for it: its exit status, or -1 (see wait_for_child).
[[maybe_unused]] int finish_child(child_process& c, std::chrono::seconds read_limit, std::chrono::seconds wait_limit) {
    if (c.to_stdin >= 0) close(c.to_stdin);
    c.to_stdin = -1;
    read_until(
        c, [](const std::string&) { return false; }, read_limit);
    return wait_for_child(c, wait_limit);
}

[[maybe_unused]] void close_child(child_process& c) {
    if (c.to_stdin >= 0) close(c.to_stdin);
    if (c.from_stdout >= 0) close(c.from_stdout);
    c.to_stdin = c.from_stdout = -1;
}

// Kills and reaps a client still running when a test ends early (a failed ASSERT): it and its
// workers (which follow their client) must not outlive the test, where they once held the
// runner's output pipe until its 300 s limit.
struct end_client_on_exit {
    child_process& c;
    ~end_client_on_exit() {
        if (c.pid > 0) {
            kill(-c.pid, SIGKILL);
            kill(c.pid, SIGKILL);
            waitpid(c.pid, nullptr, 0);
            c.pid = -1;
        }
        close_child(c);
    }
};

// ---- scenarios: what a child client runs ----------------------------------------------------------

// A scenario gets what follows ':' in its name ("client_dies:sigkill" -> "sigkill").
using scenario_function = int (*)(const std::string& how);

std::map<std::string, scenario_function>& scenario_table() {
    static std::map<std::string, scenario_function> table;
    return table;
}

struct scenario_registration {
    scenario_registration(const char* kind, scenario_function f) { scenario_table()[kind] = f; }
};

// Scenarios every binary knows: a program that got past fronta::init says so; and whether the
// kernel runs it with elevated privileges (AT_SECURE).
const scenario_registration main_ran_scenario{"main_ran", [](const std::string&) {
                                                  std::printf("main ran\n");
                                                  return 0;
                                              }};
const scenario_registration print_secure_scenario{"print_secure", [](const std::string&) {
                                                      std::printf("secure %lu\n", getauxval(AT_SECURE));
                                                      return 0;
                                                  }};

[[maybe_unused]] std::optional<std::string> scenario_asked(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
        if (std::strncmp(argv[i], "--scenario=", 11) == 0) return std::string(argv[i] + 11);
    return std::nullopt;
}

[[maybe_unused]] int run_scenario(const std::string& name) {
    const auto colon = name.find(':');
    const std::string kind = name.substr(0, colon);
    const std::string how = colon == std::string::npos ? "" : name.substr(colon + 1);
    const auto found = scenario_table().find(kind);
    if (found != scenario_table().end()) return found->second(how);
    std::fprintf(stderr, "unknown scenario %s\n", name.c_str());
    return 2;
}

// The tests themselves, as a child subreaper.
[[maybe_unused]] int run_tests(int argc, char** argv) {
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}

}  // namespace
