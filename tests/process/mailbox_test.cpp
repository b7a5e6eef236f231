// The mailbox rings (process/mailbox.hpp): records in order, wrap-around at the ring's end with
// bodies of every size, a full ring, the sleeping flag and doorbell, malformed records, and the
// two ends of one mailbox mapping the same memory.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "process/mailbox.hpp"
#include "process/wire.hpp"

using fronta::process::mailbox;
using fronta::process::ring;
namespace wire = fronta::process::wire;

namespace {

// A ring over memory of this process, small enough that records wrap around its end often.
struct small_ring {
    explicit small_ring(std::size_t capacity) : data(capacity), capacity(capacity) {}
    ring make() { return ring(&control, data.data(), capacity); }
    ring::control control{};
    std::vector<char> data;
    std::size_t capacity;
};

std::string body_of(std::size_t size, unsigned seed) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + (seed * 31 + i) % 26);
    return s;
}

}  // namespace

TEST(mailbox_ring, records_come_out_in_order_with_their_kind_and_body) {
    small_ring memory(256);
    ring r = memory.make();
    EXPECT_TRUE(r.empty());
    EXPECT_FALSE(r.peek().has_value());
    EXPECT_EQ(r.free_space(), 256u);
    ASSERT_TRUE(r.push(ring::tag::frame, "hello, ", "world"));
    ASSERT_TRUE(r.push(ring::tag::on_socket, {}, {}));
    ASSERT_TRUE(r.push(ring::tag::frame, "", "x"));
    EXPECT_EQ(r.free_space(), 256 - ring::record_size(12) - ring::record_size(0) - ring::record_size(1));
    EXPECT_FALSE(r.empty());
    std::string body;
    ASSERT_EQ(r.peek(), ring::tag::frame);
    r.pop(&body);
    EXPECT_EQ(body, "hello, world") << "the two parts, one after the other";
    ASSERT_EQ(r.peek(), ring::tag::on_socket);
    r.pop(&body);
    EXPECT_EQ(body, "");
    ASSERT_EQ(r.peek(), ring::tag::frame);
    r.pop(nullptr);  // dropped unread
    EXPECT_TRUE(r.empty());
    EXPECT_EQ(r.free_space(), 256u);
}

TEST(mailbox_ring, record_sizes_are_padded_to_eight_bytes_after_the_header) {
    EXPECT_EQ(ring::record_size(0), 8u);
    EXPECT_EQ(ring::record_size(1), 16u);
    EXPECT_EQ(ring::record_size(8), 16u);
    EXPECT_EQ(ring::record_size(9), 24u);
}

TEST(mailbox_ring, bodies_of_every_size_wrap_around_the_end_intact) {
    small_ring memory(256);
    ring producer = memory.make();
    ring consumer = memory.make();
    std::mt19937 random(7);
    std::deque<std::string> expected;
    std::size_t pushed_bytes = 0;
    unsigned seed = 0;
    for (int round = 0; round < 20'000; ++round) {
        // Push while there is room (bodies of 0 to 120 bytes, split anywhere), then take some.
        for (;;) {
            const std::size_t size = random() % 121;
            const std::string body = body_of(size, ++seed);
            const std::size_t split = size == 0 ? 0 : random() % (size + 1);
            if (!producer.push(ring::tag::frame, std::string_view(body).substr(0, split),
                               std::string_view(body).substr(split)))
                break;
            expected.push_back(body);
            pushed_bytes += ring::record_size(size);
        }
        const std::size_t take = 1 + random() % expected.size();
        for (std::size_t k = 0; k < take; ++k) {
            ASSERT_EQ(consumer.peek(), ring::tag::frame);
            std::string got;
            consumer.pop(&got);
            ASSERT_EQ(got, expected.front()) << "round " << round;
            expected.pop_front();
        }
    }
    EXPECT_GT(pushed_bytes, 1000 * memory.capacity) << "the ring wrapped around many times";
}

TEST(mailbox_ring, a_full_ring_refuses_a_record_until_the_consumer_takes_one) {
    small_ring memory(128);
    ring r = memory.make();
    const std::string body(24, 'b');  // 32 bytes a record: four fill the ring
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(r.push(ring::tag::frame, body, {})) << i;
    EXPECT_EQ(r.free_space(), 0u);
    EXPECT_FALSE(r.push(ring::tag::frame, body, {}));
    EXPECT_FALSE(r.push(ring::tag::on_socket, {}, {})) << "not even a marker fits";
    r.pop(nullptr);
    EXPECT_EQ(r.free_space(), 32u);
    EXPECT_FALSE(r.push(ring::tag::frame, body, {}, 8)) << "keep_free leaves room for markers";
    EXPECT_TRUE(r.push(ring::tag::frame, body, {}));
    EXPECT_FALSE(r.push(ring::tag::frame, std::string(200, 'x'), {})) << "longer than the ring";
}

TEST(mailbox_ring, a_sleeping_consumer_is_woken_once_and_an_awake_one_never) {
    small_ring memory(128);
    ring producer = memory.make();
    ring consumer = memory.make();
    ASSERT_TRUE(producer.push(ring::tag::frame, "a", {}));
    EXPECT_FALSE(producer.consumer_needs_wake()) << "the consumer is polling";
    consumer.set_sleeping(true);
    ASSERT_TRUE(producer.push(ring::tag::frame, "b", {}));
    EXPECT_TRUE(producer.consumer_needs_wake());
    EXPECT_FALSE(producer.consumer_needs_wake()) << "the flag was cleared: one doorbell";
    consumer.set_sleeping(true);
    consumer.set_sleeping(false);
    EXPECT_FALSE(producer.consumer_needs_wake()) << "it woke by itself";
}

// The protocol both ends follow, in two threads and an eventfd: the consumer sets its flag,
// looks once more, and only then sleeps; the producer publishes, then rings if the flag was set.
// A lost wake-up shows as a consumer asleep on a ring that is not empty (poll times out).
TEST(mailbox_ring, the_doorbell_protocol_loses_no_wake_up) {
    small_ring memory(1024);
    ring producer = memory.make();
    ring consumer = memory.make();
    const int doorbell = eventfd(0, EFD_CLOEXEC);
    ASSERT_GE(doorbell, 0);
    constexpr std::uint64_t messages = 100'000;
    std::atomic<int> lost_wake_ups{0};
    std::atomic<std::uint64_t> sleeps{0}, sleep_attempts{0};
    std::thread reader([&] {
        std::uint64_t next = 0;
        std::string body;
        while (next < messages) {
            if (consumer.peek()) {
                consumer.pop(&body);
                std::uint64_t value;
                std::memcpy(&value, body.data(), sizeof value);
                if (value != next) {
                    lost_wake_ups = 1000;  // out of order: fail loudly below
                    return;
                }
                ++next;
                continue;
            }
            consumer.set_sleeping(true);
            ++sleep_attempts;
            if (!consumer.empty()) {
                consumer.set_sleeping(false);
                continue;
            }
            ++sleeps;
            pollfd p{doorbell, POLLIN, 0};
            if (poll(&p, 1, 10'000) == 0) {
                ++lost_wake_ups;  // asleep for 10 s with a producer still pushing
                consumer.set_sleeping(false);
                if (lost_wake_ups > 3) return;
                continue;
            }
            std::uint64_t rings;
            [[maybe_unused]] auto n = read(doorbell, &rings, sizeof rings);
            consumer.set_sleeping(false);
        }
    });
    std::uint64_t rung = 0;
    for (std::uint64_t i = 0; i < messages; ++i) {
        const std::string_view bytes(reinterpret_cast<const char*>(&i), sizeof i);
        while (!producer.push(ring::tag::frame, bytes, {})) {
            if (lost_wake_ups.load() != 0) break;
            std::this_thread::yield();  // full: the reader is behind
        }
        if (lost_wake_ups.load() != 0) break;
        if (producer.consumer_needs_wake()) {
            const std::uint64_t one = 1;
            [[maybe_unused]] auto n = write(doorbell, &one, sizeof one);
            ++rung;
        }
    }
    reader.join();
    close(doorbell);
    EXPECT_EQ(lost_wake_ups.load(), 0);
    // Each doorbell clears a flag the consumer set (it may then have found a record and not slept).
    EXPECT_LE(rung, sleep_attempts.load()) << "a doorbell only for a consumer that set its flag";
    std::printf("%llu messages, the consumer slept %llu times, %llu doorbells\n",
                static_cast<unsigned long long>(messages), static_cast<unsigned long long>(sleeps.load()),
                static_cast<unsigned long long>(rung));
}

TEST(mailbox_ring, malformed_records_are_protocol_errors_not_reads_out_of_bounds) {
    {
        small_ring memory(128);
        ring r = memory.make();
        ASSERT_TRUE(r.push(ring::tag::frame, "abc", {}));
        const std::uint32_t bad_kind = 9;
        std::memcpy(memory.data.data() + 4, &bad_kind, 4);
        EXPECT_THROW(r.peek(), wire::protocol_error) << "an unknown kind";
    }
    {
        small_ring memory(128);
        ring r = memory.make();
        ASSERT_TRUE(r.push(ring::tag::frame, "abc", {}));
        const std::uint32_t too_long = 500;
        std::memcpy(memory.data.data(), &too_long, 4);
        EXPECT_THROW(r.peek(), wire::protocol_error) << "longer than what was published";
        EXPECT_THROW(r.pop(nullptr), wire::protocol_error);
    }
    {
        small_ring memory(128);
        ring r = memory.make();
        memory.control.tail.store(12);  // not a multiple of 8
        EXPECT_THROW(r.peek(), wire::protocol_error);
        memory.control.tail.store(1024);  // more than the ring holds
        EXPECT_THROW(r.peek(), wire::protocol_error);
    }
}

TEST(mailbox, both_ends_see_the_same_rings_each_way) {
    auto client = mailbox::create();
    auto worker = mailbox::open(dup(client->fd()));
    ring to_worker = client->requests();
    ring from_client = worker->requests();
    ring to_client = worker->replies();
    ring from_worker = client->replies();
    ASSERT_TRUE(to_worker.push(ring::tag::frame, "task", {}));
    EXPECT_TRUE(from_worker.empty()) << "replies are another ring";
    std::string got;
    ASSERT_EQ(from_client.peek(), ring::tag::frame);
    from_client.pop(&got);
    EXPECT_EQ(got, "task");
    ASSERT_TRUE(to_client.push(ring::tag::frame, "reply", {}));
    from_worker.pop(&got);
    EXPECT_EQ(got, "reply");
    EXPECT_EQ(to_worker.free_space(), mailbox::ring_capacity);
    // A frame inline is at most a quarter of a ring: four of the largest fill it.
    const std::string largest(mailbox::max_inline_frame - 8, 'q');
    int fitted = 0;
    while (to_worker.push(ring::tag::frame, largest, {})) ++fitted;
    EXPECT_EQ(fitted, 4);
}

TEST(mailbox, open_refuses_memory_that_is_not_a_mailbox) {
    const int fd = memfd_create("not-a-mailbox", MFD_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, 4096), 0);
    EXPECT_THROW(mailbox::open(fd), std::exception);  // and closes fd
    EXPECT_EQ(fcntl(fd, F_GETFD), -1) << "the descriptor was taken over and closed";
}
