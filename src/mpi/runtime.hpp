#pragma once
// MPI's life in a fronta program: who starts and ends it, which launch this process is part of,
// and the loop a worker rank runs. `fronta::init` reaches this through an init hook, so the core
// library knows nothing of MPI.

#include <mpi.h>

#include <mutex>

namespace fronta::mpi {

/// The argument a spawned worker is started with (`prog --fronta-mpi-worker`).
inline constexpr const char* spawned_worker_flag = "--fronta-mpi-worker";

/// Starts MPI unless it runs (asks for MPI_THREAD_MULTIPLE) and arranges MPI_Finalize at exit if
/// fronta started it. Throws mpi_error when MPI cannot start or gives less than
/// MPI_THREAD_SERIALIZED.
void ensure_started();

/// True when started by mpirun/mpiexec/srun with more than one rank.
bool launched_with_world();
int world_rank();
int world_size();

/// fronta's duplicate of MPI_COMM_WORLD (world launch only).
MPI_Comm world_comm();

/// The world's worker ranks serve one pool at a time; false if another pool holds them.
bool claim_world() noexcept;
void release_world() noexcept;

/// Pools alive in this process (MPI is not finalized under a live pool).
void pool_started() noexcept;
void pool_ended() noexcept;

/// Held around MPI calls when MPI gave less than MPI_THREAD_MULTIPLE (several pools, each with
/// its own dispatcher thread, then take turns); empty otherwise.
std::unique_lock<std::mutex> serialize_calls();

/// A worker's loop: serves the client at rank `client` of `comm` until told to stop (spawned) or
/// exit (world). Returns the exit code.
int serve(MPI_Comm comm, int client, bool spawned);

}  // namespace fronta::mpi
