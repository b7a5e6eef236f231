// The handshake (see handshake.hpp).
#include "remote/handshake.hpp"

#include "fronta/init.hpp"

namespace fronta::remote {

std::string_view hello_from_client() { return detail::build_id(); }

std::optional<std::string> refusal_of(std::string_view client_hello) {
    const std::string_view mine = detail::build_id();
    if (client_hello == mine) return std::nullopt;
    return "the worker is a different build of the program (worker " + std::string(mine) + ", client " +
           std::string(client_hello) +
           "); run the same executable in the client and in every worker (rebuild and restart)";
}

}  // namespace fronta::remote
