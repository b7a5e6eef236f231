#pragma once
// The worker side of process_pool: a loop that reads task frames from a socket, runs them
// through the registry and writes the replies.

#include <string>

namespace fronta::process {

inline constexpr const char* worker_environment_variable = "FRONTA_WORKER";

/// Exit codes of a worker that stops on its own (besides 0, a normal exit).
inline constexpr int build_mismatch_exit_code = 3;    // another build of the program
inline constexpr int protocol_error_exit_code = 4;    // the client sent something that is not a frame
inline constexpr int stray_bytes_exit_code = 5;       // a task wrote onto fronta's channel
inline constexpr int client_gone_exit_code = 6;       // the client died
inline constexpr int worker_refused_exit_code = 126;  // not started by a pool of this program

/// Settings look like "fd=1023;client=4242;secret=9f..;memory=1073741824;shm=1048576". Refuses
/// (a message, then exit 126) unless the channel was set up by a pool of this same program.
/// Returns the process exit code.
int run_process_worker(const std::string& settings);

}  // namespace fronta::process
