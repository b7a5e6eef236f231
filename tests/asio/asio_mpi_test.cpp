// Futures of an mpi_pool inside standalone Asio: `mpirun -n 3 asio_mpi_test` (rank 0 runs the
// tests on an io_context, ranks 1-2 serve as workers). The handlers run on the io_context's thread,
// never on the pool's dispatcher; a cancelled wait cancels a task that has not started.

#include <gtest/gtest.h>
#include <unistd.h>

#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fronta/asio.hpp"
#include "fronta/init.hpp"
#include "fronta/mpi_pool.hpp"

namespace {

using namespace std::chrono_literals;
using namespace ::asio::experimental::awaitable_operators;

// The rank and pid that ran the task, and x squared.
std::pair<int, long> rank_and_square(int x) { return {fronta::mpi_pool::world().first, static_cast<long>(x) * x}; }
FRONTA_REMOTE(rank_and_square);

int fail_on_rank(int x) { throw std::runtime_error("failed on a worker with " + std::to_string(x)); }
FRONTA_REMOTE(fail_on_rank);

// Holds a worker until the file `path` exists (a gate across processes without sleeping blindly:
// the client creates the file).
int hold_until_file(std::string path) {
    while (access(path.c_str(), F_OK) != 0) std::this_thread::sleep_for(1ms);
    return 1;
}
FRONTA_REMOTE(hold_until_file);

void run_all(::asio::io_context& io) {
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (!io.stopped() && std::chrono::steady_clock::now() < deadline) io.run_for(100ms);
    ASSERT_TRUE(io.stopped()) << "the io_context still had work after 120 s";
    io.restart();
}

TEST(asio_mpi_world, values_and_exceptions_of_worker_ranks_arrive_on_the_io_context) {
    fronta::mpi_pool pool(fronta::mpi_pool_options{.launch = fronta::mpi_launch::world});
    ::asio::io_context io;
    const auto io_thread = std::this_thread::get_id();
    auto result = ::asio::co_spawn(
        io,
        [&]() -> ::asio::awaitable<std::pair<long, std::vector<int>>> {
            long sum = 0;
            std::vector<int> ranks;
            for (int i = 1; i <= 30; ++i) {
                auto [rank, sq] =
                    co_await fronta::asio::async_get(pool.submit(rank_and_square, i), ::asio::use_awaitable);
                EXPECT_EQ(std::this_thread::get_id(), io_thread);
                sum += sq;
                ranks.push_back(rank);
            }
            auto [rank, sq] = co_await fronta::asio::run_in_executor(pool, rank_and_square, 31, ::asio::use_awaitable);
            sum += sq;
            ranks.push_back(rank);
            try {
                co_await fronta::asio::async_get(pool.submit(fail_on_rank, 2), ::asio::use_awaitable);
                ADD_FAILURE() << "expected the worker's exception";
            } catch (const std::exception& e) {
                EXPECT_NE(std::string(e.what()).find("failed on a worker with 2"), std::string::npos) << e.what();
            }
            co_return std::pair{sum, ranks};
        },
        ::asio::use_future);
    run_all(io);
    auto [sum, ranks] = result.get();
    EXPECT_EQ(sum, 31L * 32 * 63 / 6);
    for (int r : ranks) EXPECT_TRUE(r == 1 || r == 2) << r;
}

TEST(asio_mpi_world, a_timer_beats_a_queued_task_and_the_task_is_cancelled) {
    fronta::mpi_pool pool(fronta::mpi_pool_options{.launch = fronta::mpi_launch::world});
    const std::string gate_file = "asio_mpi_gate_" + std::to_string(getpid());
    unlink(gate_file.c_str());
    // Both workers held; the third task queues in the client.
    std::vector<fronta::future<int>> held;
    for (int i = 0; i < 2; ++i) held.push_back(pool.submit(hold_until_file, gate_file));
    auto queued = pool.submit(rank_and_square, 5);
    ::asio::io_context io;
    auto winner = ::asio::co_spawn(
        io,
        [&]() -> ::asio::awaitable<std::size_t> {
            ::asio::steady_timer timer(co_await ::asio::this_coro::executor, 1ms);
            auto r = co_await (fronta::asio::async_get(queued, ::asio::use_awaitable) ||
                               timer.async_wait(::asio::use_awaitable));
            co_return r.index();
        },
        ::asio::use_future);
    run_all(io);
    const std::size_t index = winner.get();
    {
        FILE* f = fopen(gate_file.c_str(), "w");
        if (f != nullptr) fclose(f);
    }
    for (auto& h : held) EXPECT_EQ(h.get(), 1);
    unlink(gate_file.c_str());
    // The pool may have sent the third task ahead to a worker's queue (it was then "started" for
    // the client and cannot be cancelled); either way the wait ended with the timer.
    EXPECT_EQ(index, 1U);
    if (queued.cancelled())
        SUCCEED();
    else
        EXPECT_EQ(queued.get().second, 25);
}

}  // namespace

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // worker ranks serve in here and exit
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
