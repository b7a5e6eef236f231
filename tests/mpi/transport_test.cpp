// The MPI transport (mpi/transport.hpp) between two ranks, under mpirun -n 2: messages split in
// pieces by a small max_piece arrive whole, with their ids and tags, in the order sent; malformed
// messages are mpi_error. Both ranks run every test; rank 0 sends, rank 1 receives and answers.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "mpi/transport.hpp"

namespace mpi = fronta::mpi;

namespace {

int rank() {
    int r = -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

std::string pattern(std::size_t size, unsigned seed) {
    std::string s(size, '\0');
    std::uint32_t x = seed;
    for (auto& c : s) {
        x = x * 1664525u + 1013904223u;
        c = static_cast<char>(x >> 24);
    }
    return s;
}

// Waits (polling, as the pools do) for the next whole message from `source` with `tag`.
mpi::message receive(int source, int tag) {
    for (;;)
        if (auto m = mpi::try_receive(MPI_COMM_WORLD, source, tag)) return std::move(*m);
}

// Sizes around the piece boundaries of a 4096-byte piece (the header takes 24 bytes of the first),
// and far beyond them.
const std::vector<std::size_t> sizes{0,    1,     4072,  4073,  4096,  4097,    8168,
                                     8169, 10000, 65535, 65536, 65537, 300'000, 3'000'000};

}  // namespace

TEST(mpi_transport, messages_in_pieces_arrive_whole_with_ids_and_tags) {
    constexpr std::size_t piece = mpi::min_piece;
    if (rank() == 0) {
        mpi::sender out(piece);
        std::uint64_t id = 1000;
        for (std::size_t size : sizes) {
            // Both posts: a copied payload, and one taken over (sent from where it is).
            out.post(MPI_COMM_WORLD, 1, mpi::task_tag, id++, std::string_view(pattern(size, unsigned(size))));
            out.post(MPI_COMM_WORLD, 1, mpi::reply_tag, id++, pattern(size, unsigned(size) + 1));
        }
        out.finish();
        EXPECT_TRUE(out.idle());
        // The receiver answers with the count it checked.
        auto answer = receive(1, mpi::reply_tag);
        EXPECT_EQ(answer.id, 0u) << "control messages carry id 0";
        EXPECT_EQ(answer.payload.view(), std::to_string(2 * sizes.size()));
    } else {
        std::uint64_t id = 1000;
        std::size_t checked = 0;
        for (std::size_t size : sizes) {
            for (int k = 0; k < 2; ++k) {
                auto m = receive(MPI_ANY_SOURCE, MPI_ANY_TAG);
                EXPECT_EQ(m.source, 0);
                EXPECT_EQ(m.tag, k == 0 ? mpi::task_tag : mpi::reply_tag) << "size " << size;
                EXPECT_EQ(m.id, id++) << "in the order sent";
                ASSERT_EQ(m.payload.size(), size);
                EXPECT_TRUE(m.payload.view() == pattern(size, unsigned(size) + k)) << "size " << size;
                ++checked;
            }
        }
        mpi::send_control(MPI_COMM_WORLD, 0, mpi::reply_tag, std::to_string(checked));
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

TEST(mpi_transport, a_receive_for_one_tag_leaves_other_tags_waiting) {
    if (rank() == 0) {
        mpi::sender out(mpi::min_piece);
        out.post(MPI_COMM_WORLD, 1, mpi::task_tag, 1, std::string_view(pattern(20'000, 1)));
        out.post(MPI_COMM_WORLD, 1, mpi::stop_tag, 2, std::string_view("stop"));
        while (!out.progress()) {
        }
    } else {
        auto stop = receive(0, mpi::stop_tag);  // the task's pieces stay queued meanwhile
        EXPECT_EQ(stop.id, 2u);
        EXPECT_EQ(stop.payload.view(), "stop");
        EXPECT_FALSE(mpi::try_receive(MPI_COMM_WORLD, 0, mpi::stop_tag).has_value());
        auto task = receive(0, mpi::task_tag);
        EXPECT_EQ(task.id, 1u);
        EXPECT_TRUE(task.payload.view() == pattern(20'000, 1));
        EXPECT_FALSE(mpi::try_receive(MPI_COMM_WORLD, 0, MPI_ANY_TAG).has_value()) << "nothing left";
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

TEST(mpi_transport, malformed_messages_are_mpi_errors) {
    if (rank() == 0) {
        const char short_message[] = "too short";
        MPI_Send(short_message, sizeof short_message, MPI_BYTE, 1, mpi::task_tag, MPI_COMM_WORLD);
        const std::string not_fronta(64, 'z');
        MPI_Send(not_fronta.data(), int(not_fronta.size()), MPI_BYTE, 1, mpi::task_tag, MPI_COMM_WORLD);
        MPI_Send("piece", 5, MPI_BYTE, 1, mpi::piece_tag, MPI_COMM_WORLD);
    } else {
        try {
            receive(0, mpi::task_tag);
            FAIL() << "a message shorter than its header";
        } catch (const mpi::mpi_error& e) {
            EXPECT_NE(std::string(e.what()).find("shorter than its header"), std::string::npos) << e.what();
        }
        try {
            receive(0, mpi::task_tag);
            FAIL() << "a message without fronta's header";
        } catch (const mpi::mpi_error& e) {
            EXPECT_NE(std::string(e.what()).find("not a fronta message"), std::string::npos) << e.what();
        }
        try {
            receive(0, MPI_ANY_TAG);
            FAIL() << "a piece without its start";
        } catch (const mpi::mpi_error& e) {
            EXPECT_NE(std::string(e.what()).find("without its start"), std::string::npos) << e.what();
        }
        char drop[8];
        MPI_Recv(drop, sizeof drop, MPI_BYTE, 0, mpi::piece_tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

TEST(mpi_transport, check_names_the_call_and_mpis_reason) {
    EXPECT_NO_THROW(mpi::check(MPI_SUCCESS, "MPI_Send"));
    try {
        mpi::check(MPI_ERR_TAG, "MPI_Isend");
        FAIL();
    } catch (const mpi::mpi_error& e) {
        EXPECT_EQ(std::string(e.what()).rfind("MPI_Isend failed: ", 0), 0u) << e.what();
    }
}

int main(int argc, char** argv) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    testing::InitGoogleTest(&argc, argv);
    const int result = RUN_ALL_TESTS();
    int worst = 0;
    MPI_Allreduce(&result, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank() == 0 && result == 0 && worst != 0) std::printf("FAILED on rank 1: see its report above\n");
    MPI_Finalize();
    return worst;
}
