#pragma once
// Messages between an mpi_pool client and its worker ranks: a 24-byte header (task id, total
// payload length) and the payload, split into pieces of at most `max_piece` bytes because an MPI
// count is an `int`. The first piece carries the message's tag (task, reply, ...); the rest follow
// with `piece_tag` from the same sender, and MPI's non-overtaking rule keeps them in order.
// Every call checks its MPI error code and throws `mpi_error` with MPI's explanation.

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fronta::mpi {

enum tag : int {
    hello_tag = 7101,       // client -> worker: build id; worker -> client: "ok" or why not
    task_tag = 7102,        // client -> worker: a serialized remote::request
    reply_tag = 7103,       // worker -> client: the reply to task `id`
    stop_tag = 7104,        // client -> worker: this pool is done (spawned workers exit, world ranks wait)
    exit_tag = 7105,        // client -> world worker: the program is ending, leave
    piece_tag = 7106,       // the rest of a message longer than one piece
    initialize_tag = 7107,  // client -> worker: the pool's initializer (a request), after the hello;
                            // worker -> client: its reply. No task goes to a worker before that reply.
};

inline constexpr std::size_t header_bytes = 24;
inline constexpr std::size_t min_piece = 4096;
inline constexpr std::size_t max_piece_limit = 0x7fff0000;  // below INT_MAX bytes per MPI message

class mpi_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Throws mpi_error naming `what` unless `code` is MPI_SUCCESS.
void check(int code, const char* what);

/// Bytes received. Large ones live in memory mapped with MAP_POPULATE: on virtual machines where
/// every first touch of a page traps, letting the kernel fill the pages at once is many times
/// faster than faulting them in one by one as MPI writes.
class buffer {
public:
    buffer() = default;
    explicit buffer(std::size_t size);
    buffer(buffer&& other) noexcept;
    buffer& operator=(buffer&& other) noexcept;
    ~buffer();
    char* data() noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    std::string_view view() const noexcept { return {data_, size_}; }

private:
    void release() noexcept;
    char* data_ = nullptr;
    std::size_t size_ = 0;
    bool mapped_ = false;
};

struct message {
    int source = -1;
    int tag = 0;
    std::uint64_t id = 0;
    buffer payload;
};

/// Nonblocking sends in progress, with the buffers they read from.
class sender {
public:
    explicit sender(std::size_t max_piece) : max_piece_(max_piece) {}
    ~sender();
    sender(const sender&) = delete;
    sender& operator=(const sender&) = delete;

    /// Starts sending; returns at once. The payload is copied.
    void post(MPI_Comm comm, int destination, int tag, std::uint64_t id, std::string_view payload);
    /// As above, taking the payload over: a large one is sent from where it is, without a copy.
    void post(MPI_Comm comm, int destination, int tag, std::uint64_t id, std::string&& payload);
    /// Completes what it can without blocking; true if nothing is left in flight.
    bool progress();
    /// Blocks until every send completed.
    void finish();
    bool idle() const noexcept { return pending_.empty(); }
    /// Drops sends that can never complete (the job is failing): frees requests without waiting.
    void abandon() noexcept;

private:
    void send_pieces(MPI_Comm comm, int destination, int first_tag, const char* data, std::size_t size,
                     std::vector<MPI_Request>& requests);
    struct in_flight {
        std::unique_ptr<std::string> header;
        std::unique_ptr<std::string> body;
        std::vector<MPI_Request> requests;
    };
    std::size_t max_piece_;
    std::deque<in_flight> pending_;
};

/// Receives one whole message if its first piece has arrived from `source` (or MPI_ANY_SOURCE)
/// with `tag` (or MPI_ANY_TAG except piece_tag); the remaining pieces are then awaited.
/// Throws mpi_error on a malformed message.
std::optional<message> try_receive(MPI_Comm comm, int source, int tag);

/// Blocking send of a small control message (hello, stop, exit).
void send_control(MPI_Comm comm, int destination, int tag, std::string_view payload);

/// Waits for input with a bounded spin and then sleeps that grow to `max_sleep_us`: an idle rank
/// costs little CPU, a busy one answers within microseconds.
class backoff {
public:
    void reset() noexcept { idle_rounds_ = 0; }
    void pause() noexcept;

private:
    unsigned idle_rounds_ = 0;
};

}  // namespace fronta::mpi
