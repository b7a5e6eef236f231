#pragma once
// The handshake every remote worker makes, whatever carries it: the client's hello holds the
// build id of its program; a worker serves only a client of the same build (a task names its
// function by the registry, and two builds may disagree on what a name means).
//
//   client ── hello: <build id> [transport's extras] ──> worker
//   client <── "ok" [transport's extras]  |  why not ── worker
//
// The process transport adds the pool's secret and the mailbox to the hello; the MPI transport
// adds the worker's host and pid to the "ok".

#include <optional>
#include <string>
#include <string_view>

namespace fronta::remote {

/// What the client's hello carries: this program's build id.
std::string_view hello_from_client();

/// The worker's verdict on a client's hello: empty if it serves, else why it refuses (a message
/// for the client's user).
std::optional<std::string> refusal_of(std::string_view client_hello);

}  // namespace fronta::remote
