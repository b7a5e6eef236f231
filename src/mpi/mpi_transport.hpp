#pragma once
// mpi_pool's transport for the remote engine: worker ranks that are the other ranks of the world
// (mpirun/srun) or a group started with MPI_Comm_spawn, messages through mpi/transport.hpp.
//
// MPI has no descriptor that says "a message arrived", so the dispatcher polls: without work it
// watches the inbox for a moment and then sleeps on the engine's wake descriptor; with tasks in
// flight it polls for replies with yields, then sleeps in steps that grow but stay well below
// how long the tasks usually take. Deaths of workers on this machine are noticed by pid.
//
// What a failure ends: a spawned group dies together (Open MPI ends a spawned job when one member
// dies), so the death of one member fails or retries the tasks of all and starts a new group. A
// world rank cannot be stopped or replaced without ending the job: a timed-out task's late result
// is dropped and the rank takes no task until it answers.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fronta/mpi_pool.hpp"
#include "mpi/spawn.hpp"
#include "mpi/transport.hpp"
#include "remote/engine.hpp"

namespace fronta::mpi {

using remote::clock;

/// How long workers may take to answer the handshake (it happens in start_workers, so the engine's
/// own handshake limit never runs out for ranks).
inline constexpr auto handshake_limit = std::chrono::seconds(60);

/// One worker rank.
class worker_rank final : public remote::worker {
public:
    int rank = -1;
    std::string host;
    pid_t pid = -1;
    bool local = false;  // on this machine: its process can be watched
    bool dead = false;
    bool told_to_stop = false;
    identity who() const override { return {pid, rank, host}; }
};

class mpi_transport final : public remote::transport {
public:
    explicit mpi_transport(const mpi_pool_options& options);
    ~mpi_transport() override;

    bool spawned() const noexcept { return spawned_; }
    std::vector<std::string> hosts() const;

    std::vector<std::unique_ptr<remote::worker>> start_workers(std::size_t n) override;
    bool replaces_workers() const noexcept override { return spawned_; }
    void send_task(remote::worker& w, std::uint64_t id, remote::remote_task& t) override;
    void send_initializer(remote::worker& w, const std::string& request) override;
    void flush() override;
    void wait(remote::engine& e, clock::time_point until, bool busy) override;
    clock::time_point check(remote::engine& e) override;
    bool stop(remote::engine& e, remote::worker& w, bool kill) override;
    void finish() noexcept override;
    void abandon() noexcept override;
    std::string explain(const std::string& failure) const override;
    void workers_changed(const std::vector<std::unique_ptr<remote::worker>>& workers) override;
    void dispatcher_started() override;

    /// How many workers the pool has when options ask for "all" (world: the other ranks).
    std::size_t default_workers() const;

private:
    std::vector<std::unique_ptr<remote::worker>> join_world(std::size_t n);
    std::vector<std::unique_ptr<remote::worker>> spawn_group(std::size_t n);
    void handshake(std::vector<std::unique_ptr<remote::worker>>& ranks);
    void end_group(const std::vector<worker_rank*>& members) noexcept;
    void group_over(const std::vector<worker_rank*>& members) noexcept;
    bool receive(remote::engine& e);
    void kill_group(remote::engine& e, const worker_rank* dead, remote::worker* spared, const std::string& why);
    std::chrono::microseconds reply_poll_limit() const;

    const mpi_pool_options options_;
    bool world_launch_ = false;
    bool spawned_ = false;
    bool joined_ = false;  // the world's ranks were handed out once
    MPI_Comm comm_ = MPI_COMM_NULL;
    std::string own_host_;
    sender out_;
    std::optional<sigpipe_blocked> quiet_;  // on the dispatcher thread: sends to dead workers
    std::vector<worker_rank*> ranks_;       // the engine's workers, as of the last change
    unsigned idle_rounds_ = 0;
    clock::time_point last_watch_ = clock::now();
    mutable std::mutex hosts_mutex_;
    std::vector<std::string> hosts_;
};

}  // namespace fronta::mpi
