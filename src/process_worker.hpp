#pragma once
// The worker side of process_pool: a loop that reads task frames from a socket, runs them
// through the registry and writes the replies.

#include <string>

namespace fronta::detail {

inline constexpr const char* worker_environment_variable = "FRONTA_WORKER";

/// Settings look like "fd=3;memory=1073741824". Returns the process exit code.
int run_process_worker(const std::string& settings);

}  // namespace fronta::detail
