#pragma once
// process_pool's transport for the remote engine: worker processes started from this executable,
// one socket and one mailbox (shared-memory rings) each. While there is work, or shortly after,
// the dispatcher polls the rings and the inbox instead of sleeping, so a round trip needs no
// system call; idle, it sleeps in poll() on the sockets, the workers' pidfds and the wake fd.

#include <poll.h>

#include <mutex>
#include <vector>

#include "fronta/process_pool.hpp"
#include "process/launch.hpp"
#include "remote/engine.hpp"

namespace fronta::process {

class process_transport final : public remote::transport {
public:
    explicit process_transport(const process_pool_options& options);

    std::vector<int> worker_pids() const;

    void attach(remote::engine& e) override;
    std::vector<std::unique_ptr<remote::worker>> start_workers(std::size_t n) override;
    bool has_room(const remote::worker& w) const noexcept override;
    void send_task(remote::worker& w, std::uint64_t id, remote::remote_task& t) override;
    void send_initializer(remote::worker& w, const std::string& request) override;
    void flush() override;
    void wait(remote::engine& e, clock::time_point until, bool busy) override;
    clock::time_point check(remote::engine& e) override;
    bool stop(remote::engine& e, remote::worker& w, bool kill) override;
    void finish() noexcept override;
    void workers_changed(const std::vector<std::unique_ptr<remote::worker>>& workers) override;
    bool stops_running_tasks_on_cancel() const noexcept override { return true; }

    bool supports_direct() const noexcept override { return true; }
    bool direct_allowed(const remote::remote_task& t) const noexcept override;
    bool push_direct(remote::worker& w, std::uint64_t id, const std::string& payload) override;
    remote::direct_outcome await_direct(remote::worker& w, remote::remote_task& t, std::uint64_t id) override;

private:
    bool spin_for_events(remote::engine& e, std::vector<pollfd>& fds, bool busy);
    bool any_ring_ready(const remote::engine& e) const;
    void read_from(remote::engine& e, worker_process& w);
    void ended(remote::engine& e, worker_process& w);
    bool drain_frames(remote::engine& e, worker_process& w);
    bool handle_frame(remote::engine& e, worker_process& w, received_frame& got);
    void lost(remote::engine& e, worker_process& w, const std::string& cause_prefix, bool kill_first);

    launch_settings settings_;
    exiting_workers exiting_;
    mutable std::mutex pids_mutex_;
    std::vector<int> pids_;
    std::vector<worker_process*> live_;  // the engine's workers, as of the last change
    std::vector<pollfd> fds_;
    std::vector<worker_process*> polled_;
};

}  // namespace fronta::process
