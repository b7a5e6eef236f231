// file_chunks shipped to worker processes: each worker maps the file itself and reads its chunks.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "fronta/file_chunks.hpp"
#include "fronta/process_pool.hpp"
#include "fronta/thread_pool.hpp"

namespace {

std::size_t count_lines(fronta::file_chunk chunk) {
    const std::string_view text = chunk.text();
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}
FRONTA_REMOTE(count_lines);

TEST(file_chunks, shipped_to_worker_processes_they_read_the_same_bytes) {
    const std::string path = "/tmp/fronta-chunks-" + std::to_string(getpid());
    {
        std::ofstream out(path);
        for (int i = 0; i < 100000; ++i) out << "station" << i % 413 << ';' << (i % 997) / 10.0 << '\n';
    }
    const auto chunks = fronta::file_chunks(path, {.chunk_bytes = 64 << 10});
    ASSERT_GT(chunks.size(), 10u);
    fronta::process_pool processes(2);
    fronta::thread_pool threads(2);
    std::size_t in_processes = 0, in_threads = 0;
    for (std::size_t n : processes.map(count_lines, chunks)) in_processes += n;
    for (std::size_t n : threads.map(count_lines, chunks)) in_threads += n;
    EXPECT_EQ(in_processes, 100000u);
    EXPECT_EQ(in_threads, 100000u);
    unlink(path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // workers are copies of this program
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
