#include "mpi/spawn.hpp"

#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "mpi/runtime.hpp"
#include "mpi/transport.hpp"

namespace fronta::mpi {
namespace {

using clock = std::chrono::steady_clock;

// How long an ended group's processes may take to exit by themselves (a stopped worker finishes
// MPI and its program's exit handlers), and then to be reaped once killed.
constexpr auto exit_grace = std::chrono::seconds(10);
constexpr auto kill_grace = std::chrono::seconds(5);

std::mutex spawn_mutex;  // one MPI_Comm_spawn at a time in this process

// A process of an ended group: its pid and start time (clock ticks after boot), so that a pid
// the system reuses is not mistaken for it.
struct ended_process {
    pid_t pid;
    unsigned long long start_time;
};
std::mutex ended_mutex;
std::vector<ended_process> ended;  // under ended_mutex

// The start time of process `pid`, or 0 when there is none (exited and reaped).
unsigned long long start_time_of(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return 0;
    const auto close = line.rfind(')');  // the command name may hold spaces and parentheses
    if (close == std::string::npos) return 0;
    std::istringstream fields(line.substr(close + 1));
    std::string skipped;
    for (int field = 3; field < 22; ++field) fields >> skipped;  // state .. itrealvalue
    unsigned long long start = 0;
    fields >> start;
    return start;
}

bool still_there(const ended_process& p) { return start_time_of(p.pid) == p.start_time; }

// SIGKILL through a pidfd, which pins the process: a pid reused meanwhile is never hit.
void kill_exactly(const ended_process& p) {
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_send_signal)
    const int fd = static_cast<int>(syscall(SYS_pidfd_open, p.pid, 0));
    if (fd >= 0) {
        if (still_there(p)) syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0);
        close(fd);
        return;
    }
    if (errno != ENOSYS) return;  // gone
#endif
    if (still_there(p)) kill(p.pid, SIGKILL);
}

// Called with spawn_mutex held: returns when every ended group's processes have exited.
void wait_for_ended_groups() {
    const auto start = clock::now();
    auto pause = std::chrono::microseconds(500);
    bool killed = false;
    for (;;) {
        std::vector<ended_process> left;
        {
            std::lock_guard lock(ended_mutex);
            std::erase_if(ended, [](const ended_process& p) { return !still_there(p); });
            if (ended.empty()) return;
            left = ended;
        }
        const auto waited = clock::now() - start;
        if (!killed && waited > exit_grace) {
            std::fprintf(stderr,
                         "fronta: mpi_pool: %zu workers of an earlier group did not exit within %lld s; killing them\n",
                         left.size(), static_cast<long long>(std::chrono::seconds(exit_grace).count()));
            for (const auto& p : left) kill_exactly(p);
            killed = true;
        }
        if (waited > exit_grace + kill_grace) {
            std::fprintf(stderr, "fronta: mpi_pool: %zu workers of an earlier group are still there; spawning anyway\n",
                         left.size());
            std::lock_guard lock(ended_mutex);
            ended.clear();
            return;
        }
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds(20'000));
    }
}

std::string own_executable() {
    std::string path(PATH_MAX, '\0');
    const ssize_t n = readlink("/proc/self/exe", path.data(), path.size());
    if (n <= 0) throw mpi_error("cannot read /proc/self/exe to spawn workers");
    path.resize(static_cast<std::size_t>(n));
    return path;
}

}  // namespace

MPI_Comm spawn_group(std::size_t n, const std::map<std::string, std::string>& info_keys) {
    if (n > INT_MAX) throw std::invalid_argument("mpi_pool: too many workers");
    const std::string program = own_executable();
    std::lock_guard one_at_a_time(spawn_mutex);
    wait_for_ended_groups();
    MPI_Info info = MPI_INFO_NULL;
    check(MPI_Info_create(&info), "MPI_Info_create");
    bool mapping_given = false;
    for (const auto& [key, value] : info_keys) {
        MPI_Info_set(info, key.c_str(), value.c_str());
        mapping_given = mapping_given || key == "map_by";
    }
    // Open MPI refuses more processes than cores unless told otherwise.
    if (!mapping_given) MPI_Info_set(info, "map_by", ":OVERSUBSCRIBE");
    std::string flag = spawned_worker_flag;
    char* argv[] = {flag.data(), nullptr};
    std::vector<int> codes(n, MPI_SUCCESS);
    MPI_Comm intercomm = MPI_COMM_NULL;
    int code;
    {
        auto serial = serialize_calls();
        MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
        code = MPI_Comm_spawn(program.c_str(), argv, static_cast<int>(n), info, 0, MPI_COMM_SELF, &intercomm,
                              codes.data());
    }
    MPI_Info_free(&info);
    check(code, "MPI_Comm_spawn");
    for (std::size_t i = 0; i < n; ++i) check(codes[i], "MPI_Comm_spawn (a worker)");
    check(MPI_Comm_set_errhandler(intercomm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    return intercomm;
}

void group_ended(const std::vector<pid_t>& local_pids) {
    std::lock_guard lock(ended_mutex);
    for (pid_t pid : local_pids) {
        if (pid <= 0) continue;
        const unsigned long long start = start_time_of(pid);
        if (start != 0) ended.push_back({pid, start});
    }
}

sigpipe_blocked::sigpipe_blocked() noexcept {
    sigset_t pipe, previous;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &previous);
    was_blocked_ = sigismember(&previous, SIGPIPE) == 1;
}

sigpipe_blocked::~sigpipe_blocked() {
    if (was_blocked_) return;
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    const timespec now{0, 0};
    while (sigtimedwait(&pipe, nullptr, &now) == SIGPIPE) {
    }
    pthread_sigmask(SIG_UNBLOCK, &pipe, nullptr);
}

}  // namespace fronta::mpi
