#pragma once
/// @file process/wire.hpp (private: the frame format between a process_pool and its workers)
/// @brief Frames for byte streams (a socket to a worker process): a checked header, then the
/// payload. The decoder is incremental and rejects anything malformed with `protocol_error`, so a
/// corrupt, truncated or oversized message is an error, never a crash or a hang.
///
/// Header, 32 bytes, little endian: magic "FRNT" | version | kind | attachments (2) | id (8) |
/// payload length (8) | payload checksum (4) | header checksum (4). `attachments` counts the file
/// descriptors a socket transport passes beside the frame (shared memory); other transports send 0.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace fronta::process::wire {

/// The peer sent bytes that are not a valid frame.
class protocol_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class kind : std::uint8_t {
    hello = 1,       // client -> worker: build id; worker -> client: "ok" or why not
    task = 2,        // client -> worker: a serialized remote::request
    reply = 3,       // worker -> client: the reply to task `id`
    shutdown = 4,    // client -> worker: exit now
    initialize = 5,  // client -> worker: the pool's initializer (a request), after the hello;
                     // worker -> client: its reply. No task comes before that reply.
};

inline constexpr std::uint32_t magic = 0x544E5246;  // "FRNT"
inline constexpr std::uint8_t version = 1;
inline constexpr std::size_t header_size = 32;
/// The largest payload a frame carries inline on the socket; larger ones go in shared memory.
inline constexpr std::uint64_t default_max_payload = std::uint64_t{1} << 30;

inline constexpr std::uint16_t max_attachments = 1024;
/// Set in `attachments` when the payload lies in the first attachment (a shared-memory segment,
/// remote/payload.hpp); the frame's own payload is then its offset and length there (2 × 8 bytes).
/// Such payloads have no size limit but the memory of the two processes.
inline constexpr std::uint16_t payload_attached = 0x8000;

struct frame {
    kind type{};
    std::uint64_t id = 0;
    std::uint16_t attachments = 0;
    std::string payload;
};

/// A fast 32-bit checksum (not cryptographic): catches corruption, not forgery.
std::uint32_t checksum(std::string_view bytes) noexcept;

/// The header for a frame; send it followed by the payload.
std::string encode_header(kind type, std::uint64_t id, std::string_view payload, std::uint16_t attachments = 0);

/// Header and payload in one string (for small frames).
std::string encode(kind type, std::uint64_t id, std::string_view payload, std::uint16_t attachments = 0);

class decoder {
public:
    explicit decoder(std::uint64_t max_payload = default_max_payload) : max_payload_(max_payload) {}

    /// Appends received bytes.
    void feed(const char* data, std::size_t size) { buffer_.append(data, size); }
    /// The next complete frame, if there is one; throws `protocol_error` on malformed input.
    std::optional<frame> next();
    /// Bytes received but not yet part of a complete frame.
    std::size_t pending() const noexcept { return buffer_.size() - consumed_; }

private:
    std::uint64_t max_payload_;
    std::string buffer_;
    std::size_t consumed_ = 0;
};

}  // namespace fronta::process::wire
