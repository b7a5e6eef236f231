#pragma once
// Worker processes as processes: starting a copy of this program with its channel, knowing when
// it ended (pidfd, or waitid without one), killing, reaping and letting it exit in its own time.

#include <poll.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "process/connection.hpp"
#include "remote/engine.hpp"

namespace fronta::process {

using remote::clock;

/// One worker process, with its channel.
class worker_process final : public remote::worker {
public:
    ~worker_process() override;
    pid_t pid = -1;
    int pidfd = -1;  // readable once the process has ended; -1 without pidfds
    std::unique_ptr<connection> link;
    clock::time_point closed_at{};  // when its channel closed while it lived on (else epoch)

    int fd() const { return link ? link->fd() : -1; }
    bool channel_closed() const { return closed_at != clock::time_point{}; }
    bool channel_open() const { return link && !channel_closed(); }
    identity who() const override { return {pid, -1, {}}; }
};

struct launch_settings {
    std::string secret;  // proves the hello comes from this pool
    std::size_t memory_limit = 0;
    std::size_t shared_memory_threshold = std::size_t{1} << 20;
    int client_doorbell = -1;  // the dispatcher's wake descriptor: workers ring it when it sleeps
};

/// Without pidfds (kernels before 5.3, seccomp profiles that refuse pidfd_open) the dispatcher
/// looks at its workers this often, so that deaths are still noticed by pid, not only by EOF.
inline constexpr auto pidless_check_interval = std::chrono::milliseconds(20);

/// poll()'s timeout for waiting until `until` (-1: no deadline), at most a minute.
int milliseconds_until(clock::time_point until);

/// Starts a worker: a copy of this program with one end of a socket pair at a high descriptor, in
/// a process group of its own (a terminal's Ctrl-C is for the client), and queues the hello with
/// the mailbox. Any failure kills and reaps the new process and throws why (strerror).
std::unique_ptr<worker_process> launch_worker(const launch_settings& settings);

/// A fresh secret per pool (random, hex), handed to its workers in their environment.
std::string new_secret();

/// How a process ended, from its wait status, in words.
std::string describe_status(int status);

/// Whether process `pid` (our child) has ended, without reaping it.
bool has_ended(pid_t pid);

/// Kills through the pidfd when there is one (the pid may belong to another process by now if
/// something else in the program reaped it).
void kill_process(pid_t pid, int pidfd);

/// Reaps a worker that has ended or is killed here (`kill_first`); returns how it ended. Never call
/// it for a live worker without `kill_first`: it waits for the process.
std::string reap(worker_process& w, bool kill_first, int* status_out = nullptr);

/// Workers asked to exit (retired, shut down) get `exit_grace` to flush their output and run
/// their exit handlers; then they are killed. Reaped as their pidfds say they ended.
class exiting_workers {
public:
    ~exiting_workers();
    void add(worker_process& w);
    /// Reaps those that ended; kills those past their grace.
    void reap_ended();
    /// Waits for all of them (killing the stuck ones).
    void wait_all();
    bool empty() const noexcept { return exiting_.empty(); }
    /// Their pidfds, for the dispatcher's poll, and the next grace that ends.
    void add_pollfds(std::vector<pollfd>& fds) const;
    clock::time_point next_deadline() const;
    bool any_without_pidfd() const;

private:
    struct exiting {
        pid_t pid;
        int pidfd;
        clock::time_point kill_at;
    };
    std::vector<exiting> exiting_;
};

}  // namespace fronta::process
