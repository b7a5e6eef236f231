#pragma once
// Tasks and checks that several process-pool test binaries share: a task that dies or misbehaves
// in every way a worker can, the pool's children and descriptors as /proc sees them, and
// `eventually` for conditions the pool reaches on its own time. Each test binary is one
// translation unit and includes this once (after remote_functions.hpp).
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fronta/remote/registry.hpp"
#include "worker_channel.hpp"

namespace {

int worker_pid() { return static_cast<int>(getpid()); }
FRONTA_REMOTE(worker_pid);

int misbehave(std::string how) {
    if (how == "segfault") raise(SIGSEGV);
    if (how == "abort") std::abort();
    if (how == "exit") std::exit(7);
    if (how == "sigkill") raise(SIGKILL);
    if (how == "spin") {
        volatile long spins = 0;
        for (;;) spins = spins + 1;
    }
    if (how == "garbage") {
        const char junk[] = "this is not a fronta frame, not at all, no.";
        [[maybe_unused]] auto n = write(channel_of_this_worker(), junk, sizeof junk);
        return 0;
    }
    if (how == "allocate") {
        std::vector<char> big(std::size_t{8} << 30);  // 8 GiB, over the memory limit
        return static_cast<int>(big.size());
    }
    return 1;
}
FRONTA_REMOTE(misbehave);

[[maybe_unused]] std::size_t open_fds() {
    std::size_t n = 0;
    if (DIR* dir = opendir("/proc/self/fd")) {
        while (readdir(dir) != nullptr) ++n;
        closedir(dir);
    }
    return n;
}

[[maybe_unused]] std::set<int> child_pids() {
    std::set<int> children;
    const std::string me = std::to_string(getpid());
    if (DIR* dir = opendir("/proc")) {
        while (dirent* entry = readdir(dir)) {
            std::ifstream stat(std::string("/proc/") + entry->d_name + "/stat");
            std::string pid, comm, state, ppid;
            if (stat >> pid >> comm >> state >> ppid && ppid == me) children.insert(std::stoi(pid));
        }
        closedir(dir);
    }
    return children;
}

// Sanitizer runtimes catch fatal signals (and exit with their own code) and reserve terabytes of
// address space, so the exact cause of death and RLIMIT_AS cannot be checked under them.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif

template <class Predicate>
bool eventually(Predicate&& predicate, std::chrono::seconds limit = std::chrono::seconds(10)) {
    const auto give_up = std::chrono::steady_clock::now() + limit;
    while (!predicate()) {
        if (std::chrono::steady_clock::now() > give_up) return false;
        // polling an observable condition, not ordering events
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

}  // namespace
