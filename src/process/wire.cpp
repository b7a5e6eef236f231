// Frame encoding and the incremental decoder (see remote/wire.hpp for the layout).
#include "process/wire.hpp"

#include <algorithm>
#include <cstring>

namespace fronta::process::wire {
namespace {

void put_le(std::string& out, std::uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

std::uint64_t get_le(const char* in, int bytes) {
    std::uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) value |= std::uint64_t(static_cast<unsigned char>(in[i])) << (8 * i);
    return value;
}

}  // namespace

std::uint32_t checksum(std::string_view bytes) noexcept {
    // FNV-style mixing over 8-byte words, then the tail; about 8 bytes per cycle.
    std::uint64_t hash = 0xcbf29ce484222325ULL ^ bytes.size();
    std::size_t i = 0;
    for (; i + 8 <= bytes.size(); i += 8) {
        std::uint64_t word;
        std::memcpy(&word, bytes.data() + i, 8);
        hash = (hash ^ word) * 0x100000001b3ULL;
        hash ^= hash >> 29;
    }
    for (; i < bytes.size(); ++i) hash = (hash ^ static_cast<unsigned char>(bytes[i])) * 0x100000001b3ULL;
    hash ^= hash >> 32;
    return static_cast<std::uint32_t>(hash);
}

std::string encode_header(kind type, std::uint64_t id, std::string_view payload, std::uint16_t attachments) {
    std::string header;
    header.reserve(header_size);
    put_le(header, magic, 4);
    header.push_back(static_cast<char>(version));
    header.push_back(static_cast<char>(type));
    put_le(header, attachments, 2);
    put_le(header, id, 8);
    put_le(header, payload.size(), 8);
    put_le(header, checksum(payload), 4);
    put_le(header, checksum(header), 4);
    return header;
}

std::string encode(kind type, std::uint64_t id, std::string_view payload, std::uint16_t attachments) {
    std::string out = encode_header(type, id, payload, attachments);
    out.append(payload);
    return out;
}

std::optional<frame> decoder::next() {
    const char* h = buffer_.data() + consumed_;
    if (pending() < header_size) {
        // Even a few bytes must begin like a header: stray bytes are caught as they come, not
        // blamed later on the frame that would complete them.
        const char expected[4] = {'F', 'R', 'N', 'T'};
        if (std::memcmp(h, expected, std::min<std::size_t>(pending(), 4)) != 0)
            throw protocol_error("bad frame: wrong magic number (not a fronta peer, or corrupt)");
        return std::nullopt;
    }
    if (get_le(h, 4) != magic) throw protocol_error("bad frame: wrong magic number (not a fronta peer, or corrupt)");
    if (static_cast<std::uint32_t>(get_le(h + 28, 4)) != checksum(std::string_view(h, 28)))
        throw protocol_error("bad frame: the header checksum does not match (corrupt data)");
    if (static_cast<std::uint8_t>(h[4]) != version)
        throw protocol_error("bad frame: protocol version " + std::to_string(static_cast<unsigned char>(h[4])) +
                             ", expected " + std::to_string(version) + " (a worker from another fronta version)");
    const auto type = static_cast<std::uint8_t>(h[5]);
    if (type < static_cast<std::uint8_t>(kind::hello) || type > static_cast<std::uint8_t>(kind::initialize))
        throw protocol_error("bad frame: unknown kind " + std::to_string(type));
    const auto attachments = static_cast<std::uint16_t>(get_le(h + 6, 2));
    if ((attachments & ~payload_attached) > max_attachments)
        throw protocol_error("bad frame: " + std::to_string(attachments) + " attachments exceed the limit of " +
                             std::to_string(max_attachments));
    const std::uint64_t length = get_le(h + 16, 8);
    if (length > max_payload_)
        throw protocol_error("bad frame: a payload of " + std::to_string(length) + " bytes exceeds the limit of " +
                             std::to_string(max_payload_));
    if (pending() < header_size + length) return std::nullopt;
    frame f;
    f.type = static_cast<kind>(type);
    f.id = get_le(h + 8, 8);
    f.attachments = attachments;
    f.payload.assign(h + header_size, length);
    if (static_cast<std::uint32_t>(get_le(h + 24, 4)) != checksum(f.payload))
        throw protocol_error("bad frame: the payload checksum does not match (corrupt data)");
    consumed_ += header_size + length;
    if (consumed_ == buffer_.size()) {
        buffer_.clear();
        consumed_ = 0;
    } else if (consumed_ > (1u << 20) && consumed_ > buffer_.size() / 2) {
        buffer_.erase(0, consumed_);
        consumed_ = 0;
    }
    return f;
}

}  // namespace fronta::process::wire
