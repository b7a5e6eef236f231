// file_chunks shipped to worker processes: each worker maps the file itself and reads its chunks.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "fronta/errors.hpp"
#include "fronta/file_chunks.hpp"
#include "fronta/process_pool.hpp"
#include "fronta/shared_array.hpp"
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

// Shrinks the file under its own mapping, then reads what was its last byte: the kernel raises
// SIGBUS for a mapped page past the end of a file.
int read_after_the_file_shrank(fronta::file_chunk chunk) {
    const std::string_view text = chunk.text();
    if (truncate(chunk.path.c_str(), 0) != 0) throw std::system_error(errno, std::generic_category(), "truncate");
    return static_cast<unsigned char>(*static_cast<const volatile char*>(&text.back()));
}
FRONTA_REMOTE(read_after_the_file_shrank);

TEST(file_chunks, a_file_that_shrinks_under_a_worker_fails_its_task_with_worker_died) {
    const std::string path = "/tmp/fronta-shrinking-" + std::to_string(getpid());
    {
        std::ofstream out(path);
        for (int i = 0; i < 100000; ++i) out << "row " << i << '\n';
    }
    const auto chunks = fronta::file_chunks(path, {.chunk_bytes = 1 << 30});
    ASSERT_EQ(chunks.size(), 1u);
    fronta::process_pool pool(1);
    EXPECT_THROW(pool.submit(read_after_the_file_shrank, chunks[0]).get(), fronta::worker_died);
    {
        std::ofstream out(path);
        out << "one\ntwo\n";
    }
    EXPECT_EQ(pool.submit(count_lines, fronta::file_chunks(path)[0]).get(), 2u)
        << "the pool replaced the worker; the rewritten file is mapped afresh";
    unlink(path.c_str());
}

double sum_of(fronta::shared_array<const double> values) {
    double total = 0;
    for (double v : values) total += v;
    return total;
}
FRONTA_REMOTE(sum_of);

// A file-backed shared_array: workers map the same file through its descriptor; nothing is copied.
TEST(shared_array_map_file, workers_read_the_file_through_its_descriptor) {
    const std::string path = "/tmp/fronta-doubles-" + std::to_string(getpid());
    std::vector<double> values(100000);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>(i % 1000) / 4;
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(values.data()),
               static_cast<std::streamsize>(values.size() * sizeof(double)));
    const auto mapped = fronta::shared_array<const double>::map_file(path);
    ASSERT_EQ(mapped.size(), values.size());
    const double expected = sum_of(mapped);
    fronta::process_pool processes(2);
    fronta::thread_pool threads(1);
    EXPECT_EQ(processes.submit(sum_of, mapped).get(), expected);
    EXPECT_EQ(threads.submit(sum_of, mapped).get(), expected);
    unlink(path.c_str());
}

TEST(shared_array_map_file, a_file_of_partial_elements_or_a_missing_one_is_an_error) {
    const std::string path = "/tmp/fronta-partial-" + std::to_string(getpid());
    std::ofstream(path, std::ios::binary) << "12345";  // 5 bytes: not whole doubles
    EXPECT_THROW(fronta::shared_array<const double>::map_file(path), std::invalid_argument);
    unlink(path.c_str());
    EXPECT_THROW(fronta::shared_array<const double>::map_file(path), std::system_error);
}

}  // namespace

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // workers are copies of this program
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
