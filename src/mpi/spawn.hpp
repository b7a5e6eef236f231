#pragma once
// Starting groups of spawned workers, process-wide.
//
// - One spawn at a time: MPI_Comm_spawn is collective over MPI_COMM_SELF, and concurrent
//   collectives on one communicator from several threads are erroneous in MPI. Pools created from
//   several threads at once take turns here.
// - Not over a teardown: with Open MPI 4.1 and PMIx 4.x, a spawn that overlaps the exit of an
//   earlier group can hang for ever inside MPI_Comm_spawn (PMIx_Connect/PMIx_Lookup,
//   openpmix/openpmix#2735). A pool reports every group it ends (stopped or killed), and the next
//   spawn first waits until those processes have exited.

#include <mpi.h>
#include <sys/types.h>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace fronta::mpi {

/// Starts `n` copies of this executable as workers with MPI_Comm_spawn (`info` as MPI_Info keys;
/// oversubscription is allowed unless `map_by` is given). Returns the intercommunicator, with
/// errors returned as codes. Throws mpi_error naming what failed.
MPI_Comm spawn_group(std::size_t n, const std::map<std::string, std::string>& info);

/// A spawned group is over (told to stop, or killed): the next spawn waits until these processes
/// (the group's members on this machine) have exited and been reaped. Members still there after a
/// grace period are killed.
void group_ended(const std::vector<pid_t>& local_pids);

/// Blocks SIGPIPE in the calling thread while it lives. MPI's TCP transport writes to the sockets
/// of workers that may have died, and the SIGPIPE that raises must not end the client (the pool
/// notices the death and goes on). On destruction a SIGPIPE left pending is discarded and the
/// thread's signal mask restored.
class sigpipe_blocked {
public:
    sigpipe_blocked() noexcept;
    ~sigpipe_blocked();
    sigpipe_blocked(const sigpipe_blocked&) = delete;
    sigpipe_blocked& operator=(const sigpipe_blocked&) = delete;

private:
    bool was_blocked_ = false;
};

}  // namespace fronta::mpi
