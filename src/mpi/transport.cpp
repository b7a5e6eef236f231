#include "mpi/transport.hpp"

#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <utility>

namespace fronta::mpi {
namespace {

void put_u64(char* out, std::uint64_t value) {
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}
std::uint64_t get_u64(const char* in) {
    std::uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value |= std::uint64_t(static_cast<unsigned char>(in[i])) << (8 * i);
    return value;
}
constexpr std::uint64_t header_magic = 0x464d5049544e5246ull;  // "FRNTIPMF"

void receive_pieces(MPI_Comm comm, int source, message& m, std::size_t total, std::size_t have) {
    while (have < total) {
        MPI_Status status;
        check(MPI_Probe(source, piece_tag, comm, &status), "MPI_Probe");
        int count = 0;
        check(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count");
        if (count <= 0 || static_cast<std::size_t>(count) > total - have)
            throw mpi_error("a message piece from rank " + std::to_string(source) + " does not fit the message");
        check(MPI_Recv(m.payload.data() + have, count, MPI_BYTE, source, piece_tag, comm, MPI_STATUS_IGNORE),
              "MPI_Recv");
        have += static_cast<std::size_t>(count);
    }
}

message finish_receive(MPI_Comm comm, const MPI_Status& status) {
    int count = 0;
    check(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count");
    buffer first(static_cast<std::size_t>(std::max(count, 0)));
    check(MPI_Recv(first.data(), count, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, comm, MPI_STATUS_IGNORE),
          "MPI_Recv");
    message m;
    m.source = status.MPI_SOURCE;
    m.tag = status.MPI_TAG;
    if (count < static_cast<int>(header_bytes))
        throw mpi_error("a message of " + std::to_string(count) + " bytes from rank " + std::to_string(m.source) +
                        " is shorter than its header");
    if (get_u64(first.data()) != header_magic)
        throw mpi_error("a message from rank " + std::to_string(m.source) + " is not a fronta message");
    m.id = get_u64(first.data() + 8);
    const std::uint64_t total = get_u64(first.data() + 16);
    const std::size_t have = first.size() - header_bytes;
    if (total < have) throw mpi_error("a message from rank " + std::to_string(m.source) + " has a wrong length");
    m.payload = buffer(total);
    if (have != 0) std::memcpy(m.payload.data(), first.data() + header_bytes, have);
    receive_pieces(comm, m.source, m, total, have);
    return m;
}

}  // namespace

buffer::buffer(std::size_t size) : size_(size) {
    constexpr std::size_t map_from = 1 << 20;
    if (size >= map_from) {
        void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (p == MAP_FAILED) throw std::bad_alloc();
        data_ = static_cast<char*>(p);
        mapped_ = true;
    } else if (size != 0) {
        data_ = new char[size];
    }
}
buffer::buffer(buffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)), mapped_(other.mapped_) {}
buffer& buffer::operator=(buffer&& other) noexcept {
    if (this != &other) {
        release();
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
        mapped_ = other.mapped_;
    }
    return *this;
}
buffer::~buffer() { release(); }
void buffer::release() noexcept {
    if (data_ == nullptr) return;
    if (mapped_)
        munmap(data_, size_);
    else
        delete[] data_;
    data_ = nullptr;
}

void check(int code, const char* what) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
    throw mpi_error(std::string(what) +
                    " failed: " + (length > 0 ? std::string(text, length) : "error " + std::to_string(code)));
}

sender::~sender() { abandon(); }

void sender::send_pieces(MPI_Comm comm, int destination, int first_tag, const char* data, std::size_t size,
                         std::vector<MPI_Request>& requests) {
    std::size_t offset = 0;
    int tag = first_tag;
    do {
        const std::size_t length = std::min(max_piece_, size - offset);
        MPI_Request request = MPI_REQUEST_NULL;
        const int code = MPI_Isend(data + offset, static_cast<int>(length), MPI_BYTE, destination, tag, comm, &request);
        if (code != MPI_SUCCESS) {
            for (auto& r : requests) MPI_Request_free(&r);
            requests.clear();
            check(code, "MPI_Isend");
        }
        requests.push_back(request);
        offset += length;
        tag = piece_tag;
    } while (offset < size);
}

void sender::post(MPI_Comm comm, int destination, int tag, std::uint64_t id, std::string_view payload) {
    in_flight f;
    f.header = std::make_unique<std::string>(header_bytes + payload.size(), '\0');
    char* out = f.header->data();
    put_u64(out, header_magic);
    put_u64(out + 8, id);
    put_u64(out + 16, payload.size());
    std::memcpy(out + header_bytes, payload.data(), payload.size());
    send_pieces(comm, destination, tag, out, f.header->size(), f.requests);
    pending_.push_back(std::move(f));
}

void sender::post(MPI_Comm comm, int destination, int tag, std::uint64_t id, std::string&& payload) {
    constexpr std::size_t copy_below = 64 * 1024;
    if (payload.size() < copy_below) return post(comm, destination, tag, id, std::string_view(payload));
    // The header goes alone and the payload follows as pieces, straight from the caller's string.
    in_flight f;
    f.header = std::make_unique<std::string>(header_bytes, '\0');
    put_u64(f.header->data(), header_magic);
    put_u64(f.header->data() + 8, id);
    put_u64(f.header->data() + 16, payload.size());
    f.body = std::make_unique<std::string>(std::move(payload));
    send_pieces(comm, destination, tag, f.header->data(), header_bytes, f.requests);
    send_pieces(comm, destination, piece_tag, f.body->data(), f.body->size(), f.requests);
    pending_.push_back(std::move(f));
}

bool sender::progress() {
    // Sends to different destinations complete in any order: test them all.
    for (auto it = pending_.begin(); it != pending_.end();) {
        int done = 0;
        check(MPI_Testall(static_cast<int>(it->requests.size()), it->requests.data(), &done, MPI_STATUSES_IGNORE),
              "MPI_Testall");
        it = done ? pending_.erase(it) : std::next(it);
    }
    return pending_.empty();
}

void sender::finish() {
    while (!pending_.empty()) {
        auto& front = pending_.front();
        check(MPI_Waitall(static_cast<int>(front.requests.size()), front.requests.data(), MPI_STATUSES_IGNORE),
              "MPI_Waitall");
        pending_.pop_front();
    }
}

void sender::abandon() noexcept {
    for (auto& f : pending_)
        for (auto& r : f.requests)
            if (r != MPI_REQUEST_NULL) MPI_Request_free(&r);
    // MPI may still read a freed request's buffer until the send completes: keep those alive.
    static std::mutex leaked_mutex;  // pools abandon from their own dispatcher threads
    static std::deque<in_flight> leaked;
    std::lock_guard lock(leaked_mutex);
    for (auto& f : pending_) leaked.push_back(std::move(f));
    pending_.clear();
}

std::optional<message> try_receive(MPI_Comm comm, int source, int tag) {
    int flag = 0;
    MPI_Status status;
    check(MPI_Iprobe(source, tag, comm, &flag, &status), "MPI_Iprobe");
    if (!flag) return std::nullopt;
    if (status.MPI_TAG == piece_tag)
        throw mpi_error("a message piece from rank " + std::to_string(status.MPI_SOURCE) + " came without its start");
    return finish_receive(comm, status);
}

void send_control(MPI_Comm comm, int destination, int tag, std::string_view payload) {
    sender s(max_piece_limit);
    s.post(comm, destination, tag, 0, payload);
    s.finish();
}

void backoff::pause() noexcept {
    // About 100 µs of polling with yields, then sleeps of 20 µs doubling to 1.3 ms.
    constexpr unsigned spin_rounds = 200;
    if (idle_rounds_ < spin_rounds) {
        ++idle_rounds_;
        sched_yield();
        return;
    }
    const unsigned step = std::min(idle_rounds_ - spin_rounds, 6u);
    ++idle_rounds_;
    timespec ts{0, static_cast<long>(20'000) << step};
    nanosleep(&ts, nullptr);
}

}  // namespace fronta::mpi
