// The connection (process/connection.hpp) over a socketpair in one process: frames round trip,
// large payloads through shared memory, descriptors beside frames, frames through a mailbox in
// the order they were queued, a peer that closes, and garbage as protocol_error.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "process/connection.hpp"
#include "process/mailbox.hpp"
#include "process/wire.hpp"

using fronta::process::connection;
using fronta::process::mailbox;
using fronta::process::received_frame;
namespace wire = fronta::process::wire;

namespace {

struct pair_of_ends {
    std::unique_ptr<connection> a, b;
    explicit pair_of_ends(std::size_t threshold = std::size_t{1} << 20) {
        int fds[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw std::runtime_error("socketpair");
        a = std::make_unique<connection>(fds[0], threshold);
        b = std::make_unique<connection>(fds[1], threshold);
    }
};

// Receives on `c` (a blocking socket) until a frame is complete.
received_frame next_frame(connection& c) {
    for (;;) {
        if (auto f = c.next()) return std::move(*f);
        if (c.receive() == connection::status::closed) throw std::runtime_error("the peer closed");
    }
}

std::string pattern(std::size_t size) {
    std::string s(size, '\0');
    std::uint32_t x = 99;
    for (auto& c : s) {
        x = x * 1664525u + 1013904223u;
        c = static_cast<char>(x >> 24);
    }
    return s;
}

}  // namespace

TEST(connection, frames_round_trip_with_kind_id_and_payload) {
    pair_of_ends ends;
    ends.a->queue(wire::kind::hello, 0, "build-1");
    ends.a->queue(wire::kind::task, 7, "hello");
    ends.a->queue(wire::kind::reply, 8, "");
    ASSERT_TRUE(ends.a->flush());
    EXPECT_FALSE(ends.a->has_queued());
    auto hello = next_frame(*ends.b);
    EXPECT_EQ(hello.frame.type, wire::kind::hello);
    EXPECT_EQ(hello.payload(), "build-1");
    auto task = next_frame(*ends.b);
    EXPECT_EQ(task.frame.type, wire::kind::task);
    EXPECT_EQ(task.frame.id, 7u);
    EXPECT_EQ(task.payload(), "hello");
    EXPECT_TRUE(task.shared.empty()) << "small payloads travel on the socket";
    auto reply = next_frame(*ends.b);
    EXPECT_EQ(reply.frame.type, wire::kind::reply);
    EXPECT_EQ(reply.frame.id, 8u);
    EXPECT_EQ(reply.payload(), "");
    // And the other way.
    ends.b->queue(wire::kind::reply, 7, "world");
    ASSERT_TRUE(ends.b->flush());
    EXPECT_EQ(next_frame(*ends.a).payload(), "world");
}

TEST(connection, a_payload_larger_than_the_socket_holds_arrives_whole) {
    pair_of_ends ends;  // 600 kB: under the shared-memory threshold, more than a socket buffer
    const std::string big = pattern(600'000);
    std::thread writer([&] {
        ends.a->queue(wire::kind::task, 1, big);
        ends.a->flush(true);  // blocks while the socket is full
    });
    auto got = next_frame(*ends.b);
    writer.join();
    EXPECT_TRUE(got.shared.empty());
    EXPECT_TRUE(got.payload() == big);
}

TEST(connection, payloads_over_the_threshold_go_through_shared_memory) {
    pair_of_ends ends(4096);
    const std::string big = pattern(3'000'000);
    const std::string small = pattern(4000);
    ends.a->queue(wire::kind::task, 1, big);
    ends.a->queue(wire::kind::task, 2, small);
    ASSERT_TRUE(ends.a->flush());
    auto first = next_frame(*ends.b);
    EXPECT_EQ(first.frame.id, 1u);
    EXPECT_FALSE(first.shared.empty()) << "read in place from shared memory";
    EXPECT_EQ(first.frame.attachments, 0u) << "the segment is not one of the task's attachments";
    EXPECT_TRUE(first.payload() == big);
    auto second = next_frame(*ends.b);
    EXPECT_EQ(second.frame.id, 2u);
    EXPECT_TRUE(second.shared.empty());
    EXPECT_TRUE(second.payload() == small);
}

TEST(connection, descriptors_travel_beside_their_frame) {
    pair_of_ends ends;
    int pipe_ends[2];
    ASSERT_EQ(pipe2(pipe_ends, O_CLOEXEC), 0);
    {
        fronta::remote::attachments attached;
        EXPECT_EQ(attached.add(pipe_ends[1]), 0u);
        EXPECT_EQ(attached.add(pipe_ends[1]), 0u) << "once per distinct descriptor";
        ends.a->queue(wire::kind::task, 5, "with a pipe", &attached);
        ends.a->queue(wire::kind::task, 6, "without");
        ASSERT_TRUE(ends.a->flush());
    }
    close(pipe_ends[1]);  // the receiver's copy is the only writer left
    auto with = next_frame(*ends.b);
    EXPECT_EQ(with.frame.id, 5u);
    EXPECT_EQ(with.payload(), "with a pipe");
    ASSERT_EQ(with.frame.attachments, 1u);
    const int received = with.attached.get(0);
    ASSERT_GE(received, 0);
    ASSERT_EQ(write(received, "!", 1), 1);
    char c = 0;
    ASSERT_EQ(read(pipe_ends[0], &c, 1), 1);
    EXPECT_EQ(c, '!') << "the descriptor is the same pipe";
    auto without = next_frame(*ends.b);
    EXPECT_EQ(without.frame.attachments, 0u);
    with = received_frame{};  // closes the received copy: the pipe has no writer now
    EXPECT_EQ(read(pipe_ends[0], &c, 1), 0);
    close(pipe_ends[0]);
}

TEST(connection, a_peer_that_closes_is_seen_on_both_sides) {
    pair_of_ends ends;
    ends.a->queue(wire::kind::task, 1, "last words");
    ASSERT_TRUE(ends.a->flush());
    ends.a.reset();
    EXPECT_EQ(next_frame(*ends.b).payload(), "last words") << "what was sent before arrives";
    EXPECT_EQ(ends.b->receive(), connection::status::closed);
    ends.b->queue(wire::kind::reply, 1, "to nobody");
    EXPECT_FALSE(ends.b->flush()) << "sending to a closed peer fails, without SIGPIPE";
}

TEST(connection, garbage_is_a_protocol_error) {
    pair_of_ends ends;
    const char junk[] = "this is not a fronta frame, not at all, no.";
    ASSERT_EQ(write(ends.a->fd(), junk, sizeof junk), static_cast<ssize_t>(sizeof junk));
    ASSERT_EQ(ends.b->receive(), connection::status::data);
    EXPECT_THROW(ends.b->next(), wire::protocol_error);
}

TEST(connection, a_frame_announcing_descriptors_that_never_came_is_a_protocol_error) {
    pair_of_ends ends;
    const std::string frame = wire::encode(wire::kind::task, 1, "x", 2);
    ASSERT_EQ(write(ends.a->fd(), frame.data(), frame.size()), static_cast<ssize_t>(frame.size()));
    try {
        next_frame(*ends.b);
        FAIL() << "expected protocol_error";
    } catch (const wire::protocol_error& e) {
        EXPECT_NE(std::string(e.what()).find("announces 2 descriptors"), std::string::npos) << e.what();
    }
    pair_of_ends other;
    const std::string in_memory = wire::encode(wire::kind::task, 1, std::string(16, '\0'), 1 | wire::payload_attached);
    ASSERT_EQ(write(other.a->fd(), in_memory.data(), in_memory.size()), static_cast<ssize_t>(in_memory.size()));
    EXPECT_THROW(next_frame(*other.b), wire::protocol_error) << "payload in shared memory without its descriptor";
}

// With a mailbox, small tasks go through the ring and others (descriptors, hello) on the socket,
// with a marker in the ring: the receiver still takes them in the order they were queued.
TEST(connection, through_a_mailbox_frames_keep_their_order) {
    pair_of_ends ends;
    auto client_box = mailbox::create();
    auto worker_box = mailbox::open(dup(client_box->fd()));
    const int to_worker = eventfd(0, EFD_CLOEXEC), to_client = eventfd(0, EFD_CLOEXEC);
    ends.a->use_mailbox(std::move(client_box), true, dup(to_worker), to_client);
    ends.b->use_mailbox(std::move(worker_box), false, dup(to_client), to_worker);
    ASSERT_TRUE(ends.a->has_mailbox());

    int pipe_ends[2];
    ASSERT_EQ(pipe2(pipe_ends, O_CLOEXEC), 0);
    fronta::remote::attachments attached;
    attached.add(pipe_ends[0]);
    ends.a->queue(wire::kind::task, 1, "inline one");
    ends.a->queue(wire::kind::task, 2, "with a descriptor", &attached);
    ends.a->queue(wire::kind::task, 3, "inline two");
    ASSERT_TRUE(ends.a->can_queue());
    ASSERT_TRUE(ends.a->flush());
    close(pipe_ends[0]);
    close(pipe_ends[1]);

    EXPECT_TRUE(ends.b->ring_ready());
    auto first = ends.b->next_inline_frame();
    ASSERT_TRUE(first.has_value()) << "the first frame is inline in the ring: no system call";
    EXPECT_EQ(first->frame.id, 1u);
    EXPECT_EQ(first->payload(), "inline one");
    EXPECT_TRUE(ends.b->waiting_for_socket()) << "the next one's marker is in the ring, its frame on the socket";
    EXPECT_FALSE(ends.b->next_inline_frame().has_value());
    auto second = next_frame(*ends.b);
    EXPECT_EQ(second.frame.id, 2u);
    EXPECT_EQ(second.frame.attachments, 1u);
    auto third = next_frame(*ends.b);
    EXPECT_EQ(third.frame.id, 3u);
    EXPECT_EQ(third.payload(), "inline two");
    EXPECT_FALSE(ends.b->ring_ready());

    // The doorbell rings for a receiver that said it sleeps, and only then.
    ends.a->set_sleeping(true);
    ends.b->queue(wire::kind::reply, 1, "done");
    ASSERT_TRUE(ends.b->flush());
    std::uint64_t rings = 0;
    ASSERT_EQ(read(to_client, &rings, sizeof rings), static_cast<ssize_t>(sizeof rings));
    EXPECT_EQ(rings, 1u);
    ends.a->set_sleeping(false);
    EXPECT_EQ(next_frame(*ends.a).payload(), "done");
    // A task pushed by another thread lands in the ring too.
    ASSERT_TRUE(ends.a->push_task_from_another_thread(4, "lone task"));
    auto lone = ends.b->next_inline_frame();
    ASSERT_TRUE(lone.has_value());
    EXPECT_EQ(lone->frame.id, 4u);
    EXPECT_EQ(lone->payload(), "lone task");
}
