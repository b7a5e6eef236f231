#pragma once
/// @file init.hpp
/// @brief `fronta::init(argc, argv)`: the one line a program adds at the top of `main` to use
/// process pools.
///
/// Workers are copies of the same executable, started with posix_spawn (never by fork() of a
/// multi-threaded process). A copy started as a worker enters the worker loop inside `init` and
/// never returns from it; in the program you started, `init` returns at once.
///
/// A copy serves only a pool of this same program: with `FRONTA_WORKER` set but no channel from
/// its parent (a copy of this executable), or with elevated privileges (set-user-ID), `init`
/// prints why and exits with code 126 instead of running `main`.
/// @code
/// int main(int argc, char** argv) {
///     fronta::init(argc, argv);   // first line: in a worker, this is where it stays
///     fronta::process_pool pool;
///     ...
/// }
/// @endcode
///
/// Everything before `init` runs again in every worker, because a worker is the same program
/// started anew: a line printed before it is printed once per worker, a file opened or a model
/// loaded before it is opened or loaded in each, and with `max_tasks_per_child` or a replaced
/// worker, again. The fix is to call `init` first and put that code after it, where only the
/// program you started runs it. (Constructors of global variables run before `main`, so they too
/// run in every worker: keep them cheap and free of side effects.) Per-worker set-up that you do
/// want belongs in the tasks (a function they call once per process), not before `init`.

namespace fronta {

void init(int argc, char** argv);

namespace detail {
/// True once `init` ran in this process (process_pool refuses to start workers otherwise).
bool initialized() noexcept;
/// Optional components (the MPI pool) hook into `init`: a hook runs after the process-pool worker
/// check, in the order added; an MPI worker rank serves inside its hook and never returns.
using init_hook = void (*)(int argc, char** argv);
void add_init_hook(init_hook hook) noexcept;
/// Identifies this executable's build (its GNU build-id, else size and modification time).
const char* build_id() noexcept;
}  // namespace detail

}  // namespace fronta
