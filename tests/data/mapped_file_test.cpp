// mapped_file and file_chunks in one process: contents, errors, and chunks that cover a file once.
#include "fronta/mapped_file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <system_error>

#include "fronta/file_chunks.hpp"

namespace {

std::string temp_path(const std::string& name) { return "/tmp/fronta-data-" + std::to_string(getpid()) + "-" + name; }

struct temp_file {
    explicit temp_file(const std::string& name, const std::string& contents) : path(temp_path(name)) {
        std::ofstream(path, std::ios::binary) << contents;
    }
    ~temp_file() { unlink(path.c_str()); }
    std::string path;
};

TEST(mapped_file, maps_the_whole_file_as_bytes_and_text) {
    temp_file f("whole", "Hamburg;12.0\nBulawayo;8.9\n");
    fronta::mapped_file m(f.path);
    EXPECT_EQ(m.text(), "Hamburg;12.0\nBulawayo;8.9\n");
    EXPECT_EQ(m.size(), 26u);
    EXPECT_EQ(m.bytes().size(), 26u);
    EXPECT_EQ(static_cast<char>(m.bytes()[0]), 'H');
    EXPECT_EQ(m.path(), f.path);
}

TEST(mapped_file, an_empty_file_maps_to_an_empty_view) {
    temp_file f("empty", "");
    fronta::mapped_file m(f.path);
    EXPECT_TRUE(m.empty());
    EXPECT_EQ(m.text(), "");
    EXPECT_TRUE(m.bytes().empty());
}

TEST(mapped_file, a_missing_file_names_the_path_and_the_cause) {
    const std::string path = temp_path("missing");
    try {
        fronta::mapped_file m(path);
        FAIL() << "no error for a missing file";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), ENOENT);
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find(std::strerror(ENOENT)), std::string::npos) << e.what();
    }
    EXPECT_THROW(fronta::mapped_file("/tmp"), std::system_error) << "a directory is not a file";
}

TEST(mapped_file, moves_keep_one_owner) {
    temp_file f("move", "abc");
    fronta::mapped_file a(f.path);
    fronta::mapped_file b(std::move(a));
    EXPECT_EQ(b.text(), "abc");
    EXPECT_TRUE(a.empty());
    fronta::mapped_file c;
    c = std::move(b);
    EXPECT_EQ(c.text(), "abc");
    EXPECT_TRUE(b.empty());
}

// Every byte in exactly one chunk, in order; every chunk but the last ends with the delimiter and
// holds at least chunk_bytes (or runs to the end); records stay whole.
void check_cover(const std::string& contents, std::size_t chunk_bytes) {
    temp_file f("cover", contents);
    const auto chunks = fronta::file_chunks(f.path, {.chunk_bytes = chunk_bytes});
    std::string joined;
    std::uint64_t next = 0;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        const auto& c = chunks[i];
        ASSERT_EQ(c.offset, next) << "chunk " << i;
        ASSERT_GT(c.size, 0u);
        const std::string_view text = c.text();
        ASSERT_EQ(text, std::string_view(contents).substr(c.offset, c.size));
        if (i + 1 < chunks.size()) {
            EXPECT_EQ(text.back(), '\n') << "chunk " << i << " ends inside a record";
            EXPECT_GE(c.size, chunk_bytes);
            // The chunk ends at the first delimiter that reaches chunk_bytes: no earlier one does.
            EXPECT_EQ(text.substr(0, text.size() - 1).find('\n', chunk_bytes - 1), std::string_view::npos);
        }
        joined += text;
        next = c.offset + c.size;
    }
    EXPECT_EQ(joined, contents);
}

TEST(file_chunks, cover_the_file_exactly_once_at_record_boundaries) {
    std::mt19937 random(7);
    for (int round = 0; round < 40; ++round) {
        std::string contents;
        const int lines = static_cast<int>(random() % 200);
        for (int i = 0; i < lines; ++i) contents += std::string(random() % 40, 'x') + "\n";
        if (random() % 2) contents += "no newline at the end";
        for (std::size_t chunk : {1u, 2u, 7u, 64u, 1000u, 100000u}) check_cover(contents, chunk);
    }
}

TEST(file_chunks, a_record_longer_than_a_chunk_stays_whole) {
    const std::string contents = "short\n" + std::string(5000, 'L') + "\nend\n";
    temp_file f("long", contents);
    const auto chunks = fronta::file_chunks(f.path, {.chunk_bytes = 100});
    ASSERT_EQ(chunks.size(), 2u);
    EXPECT_EQ(chunks[0].text(), "short\n" + std::string(5000, 'L') + "\n");
    EXPECT_EQ(chunks[1].text(), "end\n");
}

TEST(file_chunks, other_delimiters_an_empty_file_and_bad_options) {
    temp_file f("semicolons", "a;b;c;d");
    const auto chunks = fronta::file_chunks(f.path, {.chunk_bytes = 2, .delimiter = ';'});
    ASSERT_EQ(chunks.size(), 4u);
    EXPECT_EQ(chunks[3].text(), "d");
    temp_file empty("nothing", "");
    EXPECT_TRUE(fronta::file_chunks(empty.path).empty());
    EXPECT_THROW(fronta::file_chunks(f.path, {.chunk_bytes = 0}), std::invalid_argument);
    EXPECT_THROW(fronta::file_chunks(temp_path("absent")), std::system_error);
}

TEST(file_chunks, a_chunk_of_a_file_that_shrank_is_a_clear_error) {
    temp_file f("shrinks", std::string(1000, 'a') + "\n" + std::string(1000, 'b') + "\n");
    auto chunks = fronta::file_chunks(f.path, {.chunk_bytes = 500});
    ASSERT_EQ(chunks.size(), 2u);
    chunks[1].offset += 5000;  // as if the file had been cut shorter since
    EXPECT_THROW((void)chunks[1].text(), std::out_of_range);
    EXPECT_EQ(chunks[0].text().size(), 1001u);
}

}  // namespace
