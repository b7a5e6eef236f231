// libFuzzer target for the frame decoder: any bytes, split anywhere, must end in frames or a
// protocol_error, never a crash, a hang or unbounded memory. Run with `make fuzz`.
#include <cstddef>
#include <cstdint>
#include <string>

#include "process/wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace wire = fronta::process::wire;
    if (size == 0) return 0;
    // The first byte picks how the input is cut into reads, as a socket would deliver it.
    const std::size_t step = 1 + data[0] % 64;
    wire::decoder decoder(1 << 16);
    const char* bytes = reinterpret_cast<const char*>(data + 1);
    const std::size_t length = size - 1;
    try {
        for (std::size_t at = 0; at < length; at += step) {
            decoder.feed(bytes + at, std::min(step, length - at));
            while (auto frame = decoder.next()) {
                // Re-encoding a decoded frame must give back the same bytes.
                const std::string again = wire::encode(frame->type, frame->id, frame->payload, frame->attachments);
                if (again.size() != wire::header_size + frame->payload.size()) __builtin_trap();
            }
        }
    } catch (const wire::protocol_error&) {
    }
    return 0;
}
