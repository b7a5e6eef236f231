#pragma once
/// @file mpi_pool.hpp
/// @brief `fronta::mpi_pool`: the executor interface on MPI ranks, on one machine or many
/// (mpi4py.futures' MPIPoolExecutor for C++). Link `fronta::mpi` (built when MPI is installed).
/// @code
/// double do_some_math(double x) { return x * x; }
/// FRONTA_REMOTE(do_some_math);
///
/// int main(int argc, char** argv) {
///     fronta::init(argc, argv);                 // worker ranks serve in here and exit at the end
///     fronta::mpi_pool pool;                    // under `mpirun -n N`: the N-1 other ranks
///     auto f = pool.submit(do_some_math, 5.0);  // the call you would make on a thread pool
///     for (double y : pool.map(do_some_math, inputs, {.chunk_size = 64})) use(y);
/// }
/// @endcode
///
/// Two launches, as in mpi4py.futures:
/// - `mpirun -n N prog` (or `srun -n N prog`): rank 0 runs `main`; ranks 1..N-1 become workers
///   inside `fronta::init`, serve every `mpi_pool` that rank 0 creates, and exit cleanly when rank
///   0's program ends. Only one pool at a time owns them.
///   A program may also call MPI_Init itself (before `fronta::init`) and MPI_Finalize at the end:
///   the workers are let go when rank 0 finalizes.
/// - `prog` started alone: `mpi_pool(n)` starts n workers with MPI_Comm_spawn (copies of this
///   executable). With Debian's Open MPI this works on one machine; more workers than cores are
///   allowed (the pool asks Open MPI to oversubscribe). Pools may be created from several threads
///   at once: their spawns take turns, and a spawn waits until the workers of groups that ended
///   have exited (see docs/design.md, "MPI: spawning safely").
///
/// What can be shipped is what `process_pool` ships (FRONTA_REMOTE functions, captureless lambdas,
/// serializable function objects; cereal-serializable arguments and results), checked at compile
/// time. Exceptions come back typed. `shared_array` travels by value (ranks share no memory).
///
/// Faults: a task that throws fails its future only. A spawned worker that dies fails the running
/// tasks of its group with `worker_died` (or runs them again, with `retries`) and the pool spawns a
/// new group. Timeouts: see `mpi_pool_options::task_timeout` and `submit_with`. Under mpirun, a worker rank that
/// dies ends the MPI job with Open MPI's default settings (mpirun stops every rank): the client
/// does not hang, it is stopped. See docs/design.md, "MPI: what a failure ends".
///
/// Where callbacks run: futures complete on the pool's dispatcher thread, which only stores the
/// result and wakes waiters; done callbacks, `then` continuations and coroutines resumed by
/// `co_await` run on the pool's callback thread (an internal `thread_pool` of one thread, started
/// with the first callback), those of one future in the order added. A callback may wait on
/// futures of the same pool and may destroy the pool. `shutdown(wait = true)` returns once the
/// callbacks have run.

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fronta/detail/remote_executor_base.hpp"
#include "fronta/init.hpp"
#include "fronta/remote/call.hpp"

namespace fronta {

/// How an `mpi_pool` finds its workers.
enum class mpi_launch {
    automatic,  ///< the other ranks of MPI_COMM_WORLD when started by mpirun/srun with more than one rank, else spawn
    world,      ///< the other ranks of MPI_COMM_WORLD (an error when there are none)
    spawn,      ///< new processes started with MPI_Comm_spawn
};

struct mpi_pool_options {
    /// World: how many of the other ranks to use (0: all). Spawn: how many to start (0: one per
    /// hardware thread).
    std::size_t workers = 0;
    mpi_launch launch = mpi_launch::automatic;
    /// Spawn only: MPI_Info keys for MPI_Comm_spawn (for example {"host", "node1,node2"}).
    std::map<std::string, std::string> spawn_info;
    /// Messages longer than this are sent as several MPI messages (MPI counts are `int`, so one
    /// message holds at most 2 GiB). Must be at least 4096 bytes.
    std::size_t max_piece_bytes = std::size_t{1} << 30;
    /// A task running longer is stopped and fails with `timeout_error`, or runs again (empty: no
    /// limit). What can be stopped: a spawned group is killed and replaced (its other tasks fail
    /// with `worker_died` or run again). A rank of MPI_COMM_WORLD cannot be killed without ending
    /// the job: its late result is dropped, and it takes no task until it has answered.
    std::optional<std::chrono::milliseconds> task_timeout;
    /// How often a task runs again on another worker after its worker died or it timed out.
    int retries = 0;
    /// Runs once in each worker before its first task for this pool, replacement workers included
    /// (Python's `initializer`/`initargs`): `.initializer = fronta::remote_call(load_model, "model.bin")`.
    /// If it throws or kills its worker, the pool is broken: pending and later submits fail with
    /// `broken_executor` carrying its message. Shutdown waits for it as for a task.
    std::optional<bound_call> initializer;
};

class mpi_pool : public detail::remote_executor_base {
public:
    /// launch = automatic, all available workers.
    mpi_pool();
    explicit mpi_pool(std::size_t workers);
    explicit mpi_pool(mpi_pool_options options);
    mpi_pool(mpi_pool&&) noexcept = default;
    mpi_pool& operator=(mpi_pool&& other) noexcept;
    ~mpi_pool();

    /// Number of worker ranks.
    std::size_t size() const { return concurrency(); }
    /// True when the workers were spawned, false when they are ranks of MPI_COMM_WORLD.
    bool spawned() const;
    /// Host name of each worker, as the worker reports it (MPI_Get_processor_name).
    std::vector<std::string> worker_hosts() const;

    /// This process's rank in MPI_COMM_WORLD and the world's size ({0, 1} before MPI starts).
    static std::pair<int, int> world();
};

}  // namespace fronta
