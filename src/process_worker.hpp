#pragma once
// The worker side of process_pool: a loop that reads task frames from a socket, runs them
// through the registry and writes the replies.

#include <string>

namespace fronta::detail {

inline constexpr const char* worker_environment_variable = "FRONTA_WORKER";

/// Settings look like "fd=3;memory=1073741824". Returns the process exit code.
int run_process_worker(const std::string& settings);

/// Writes all of `parts` to `fd`; false if the peer is gone.
bool write_all(int fd, const std::string& header, const std::string& payload);

}  // namespace fronta::detail
