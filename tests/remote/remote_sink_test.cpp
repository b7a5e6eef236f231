// remote_sink without any process: a loopback sink runs each shipped request in the calling
// thread, as a worker would, and records what it was given. Pins down how remote_executor_base and
// the type-erased `executor` reach a remote sink (shipped tasks only, with the sink's descriptor
// policy), and what a remote sink does with an in-process task.
#include <functional>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <memory>
#include <numeric>
#include <ranges>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fronta/detail/remote_executor_base.hpp"
#include "fronta/detail/remote_sink.hpp"
#include "fronta/executor.hpp"
#include "fronta/map_reduce.hpp"
#include "fronta/remote/call.hpp"
#include "fronta/shared_array.hpp"
#include "fronta/thread_pool.hpp"

namespace {

double square(double x) { return x * x; }
FRONTA_REMOTE(square);
double sum_shared(fronta::shared_array<const double> values) {
    return std::accumulate(values.begin(), values.end(), 0.0);
}
FRONTA_REMOTE(sum_shared);

class loopback_sink final : public fronta::detail::remote_sink {
public:
    explicit loopback_sink(bool descriptors) : descriptors_(descriptors) {}

    void enqueue_remote(fronta::remote::remote_task* t) override {
        shipped.fetch_add(1);
        descriptors_attached.fetch_add(t->call.attached.size());
        last_description = t->description;
        if (!t->start()) {
            t->cancel();
            return;
        }
        // What a worker receives: the bytes, and duplicates of the descriptors sent beside them.
        std::vector<int> received;
        for (int fd : t->call.attached.fds()) received.push_back(dup(fd));
        fronta::remote::attachments incoming;
        incoming.adopt(std::move(received));
        const std::string reply = fronta::remote::execute(fronta::remote::to_bytes(t->call), incoming);
        fronta::remote::attachments none;
        t->complete(reply, none);
    }
    bool passes_descriptors() const noexcept override { return descriptors_; }
    void shutdown(bool, bool) override {}
    std::size_t concurrency() const noexcept override { return 1; }

    std::atomic<int> shipped{0};
    std::atomic<std::size_t> descriptors_attached{0};
    std::string last_description;

private:
    bool descriptors_;
};

// The smallest remote executor: remote_executor_base over a loopback sink.
class loopback_pool : public fronta::detail::remote_executor_base {
public:
    explicit loopback_pool(bool descriptors) : remote_executor_base(std::make_shared<loopback_sink>(descriptors)) {}
    loopback_sink& target() const { return static_cast<loopback_sink&>(remote_target()); }
};

}  // namespace

TEST(remote_sink, refuses_an_in_process_task_and_fails_its_future) {
    loopback_sink sink(true);
    auto [fut, t] = fronta::detail::make_task([] { return 1; });
    EXPECT_THROW(sink.enqueue(t), std::logic_error);
    EXPECT_THROW(fut.get(), std::logic_error);
    EXPECT_EQ(sink.shipped.load(), 0);
}

double scaled(double x, double factor) { return x * factor; }
FRONTA_REMOTE(scaled);

TEST(remote_sink, remote_executor_ships_submit_and_map_chunks) {
    loopback_pool pool(true);
    EXPECT_DOUBLE_EQ(pool.submit(square, 3.0).get(), 9.0);
    EXPECT_EQ(pool.target().shipped.load(), 1);
    EXPECT_EQ(pool.target().last_description, "square");

    std::vector<double> results;
    for (double y : pool.map(square, std::views::iota(0, 10), {.chunk_size = 4})) results.push_back(y);
    ASSERT_EQ(results.size(), 10u);
    for (int i = 0; i < 10; ++i) EXPECT_DOUBLE_EQ(results[i], double(i) * i);
    EXPECT_EQ(pool.target().shipped.load(), 1 + 3);  // chunks of 4, 4 and 2
    EXPECT_EQ(pool.target().last_description, "square (map chunk)");

    double total = 0;
    for (double y : pool.map(scaled, std::vector<double>{1, 2}, std::vector<double>{10, 10})) total += y;
    EXPECT_DOUBLE_EQ(total, 30.0);
    EXPECT_EQ(pool.target().last_description, "scaled (map chunk)") << "several ranges: named after the function";
    EXPECT_DOUBLE_EQ(fronta::map_reduce(pool, square, std::vector<double>{1, 2, 3}, std::plus<double>(), 0.0), 14.0);
    EXPECT_EQ(pool.target().last_description, "square (map_reduce chunk)");
}

TEST(remote_sink, erased_executor_finds_a_remote_sink_and_ships_through_it) {
    loopback_pool pool(true);
    fronta::executor ex(pool);
    EXPECT_DOUBLE_EQ(ex.submit(square, 4.0).get(), 16.0);
    std::vector<double> results;
    for (double y : ex.map_unordered(square, std::vector<double>{1, 2, 3}, {.chunk_size = 2})) results.push_back(y);
    std::ranges::sort(results);
    EXPECT_EQ(results, (std::vector<double>{1, 4, 9}));
    EXPECT_EQ(pool.target().shipped.load(), 1 + 2);
    // What cannot be shipped is refused at run time, before the sink sees it.
    const int captured = 2;
    EXPECT_THROW(ex.submit([captured] { return captured; }), std::invalid_argument);
    EXPECT_EQ(pool.target().shipped.load(), 3);
}

TEST(remote_sink, erased_executor_uses_the_sinks_descriptor_policy) {
    auto values = fronta::shared_array<const double>::copy_of(std::vector<double>{1, 2, 3, 4});
    for (bool descriptors : {true, false}) {
        SCOPED_TRACE(descriptors ? "passes descriptors" : "bytes only");
        loopback_pool pool(descriptors);
        fronta::executor ex(pool);
        EXPECT_DOUBLE_EQ(ex.submit(sum_shared, values).get(), 10.0);
        // By descriptor where the transport passes them; by value (no descriptor) where it cannot.
        EXPECT_EQ(pool.target().descriptors_attached.load(), descriptors ? 1u : 0u);
        EXPECT_DOUBLE_EQ(pool.submit(sum_shared, values).get(), 10.0);
        EXPECT_EQ(pool.target().descriptors_attached.load(), descriptors ? 2u : 0u);
    }
}

TEST(remote_sink, erased_executor_over_a_thread_pool_stays_in_process) {
    fronta::thread_pool threads(1);
    fronta::executor ex(threads);
    const int captured = 5;  // a capture cannot be shipped, so this ran in process
    EXPECT_EQ(ex.submit([captured] { return captured * 2; }).get(), 10);
}
