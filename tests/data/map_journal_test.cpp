// The journal of a resumable map, as a file: header, records, torn tails, refusals.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "fronta/detail/map_journal.hpp"
#include "fronta/detail/typed_map_journal.hpp"

namespace fs = std::filesystem;
using fronta::detail::journal_file;
using fronta::detail::journal_identity;
using fronta::detail::journal_kind;

double halve(int x) { return x / 2.0; }
double third(int x) { return x / 3.0; }
FRONTA_REMOTE(third);

namespace {

struct scale {
    double factor = 1;
    double operator()(int x) const { return x * factor; }
    template <class A>
    void serialize(A& a) {
        a(factor);
    }
};

struct opaque {  // no serialize(): cannot be journaled
    int value = 0;
};

class map_journal : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("fronta_map_journal_" + std::to_string(getpid()) + "_" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        path_ = dir_ / "journal";
    }
    void TearDown() override { fs::remove_all(dir_); }

    static journal_identity identity() {
        journal_identity id;
        id.kind = journal_kind::map;
        id.function = "f (double (*)(int))";
        id.result_type = "std::vector<double>";
        id.chunk_size = 4;
        return id;
    }
    std::string contents() const {
        std::ifstream in(path_, std::ios::binary);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }
    void write_contents(const std::string& bytes) const {
        std::ofstream out(path_, std::ios::binary | std::ios::trunc);
        out << bytes;
    }
    // A journal with chunks 0, 1, 2 holding "zero", "one...", "two...".
    void write_three() const {
        journal_file j(path_, identity());
        j.append(0, 100, "zero");
        j.append(1, 101, std::string(1000, 'x'));
        j.append(2, 102, "two");
    }
    static std::string refusal(const fs::path& path, const journal_identity& id) {
        try {
            journal_file j(path, id);
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "(not refused)";
    }

    fs::path dir_;
    fs::path path_;
};

TEST_F(map_journal, hash_of_pieces_equals_hash_of_the_whole) {
    const std::string text = "the quick brown fox jumps over the lazy dog, 0123456789";
    fronta::detail::stream_hash pieces;
    for (std::size_t at = 0; at < text.size(); at += 3)
        pieces.update(text.data() + at, std::min<std::size_t>(3, text.size() - at));
    EXPECT_EQ(pieces.finish(), fronta::detail::hash_bytes(text));
    EXPECT_NE(fronta::detail::hash_bytes(text), fronta::detail::hash_bytes(text.substr(1)));
    EXPECT_NE(fronta::detail::hash_bytes("a"), fronta::detail::hash_bytes(std::string("a\0", 2)));
    EXPECT_NE(fronta::detail::hash_bytes(text, 1), fronta::detail::hash_bytes(text, 2));
}

TEST_F(map_journal, records_survive_reopening) {
    write_three();
    journal_file j(path_, identity());
    EXPECT_EQ(j.chunks(), (std::vector<std::uint64_t>{0, 1, 2}));
    EXPECT_EQ(j.torn_bytes(), 0u);
    EXPECT_EQ(j.find(0, 100), "zero");
    EXPECT_EQ(j.find(1, 101), std::string(1000, 'x'));
    EXPECT_EQ(j.find(2, 102), "two");
    EXPECT_EQ(j.find(3, 103), std::nullopt);
    j.append(5, 105, "");
    EXPECT_EQ(j.find(5, 105), "");
}

TEST_F(map_journal, a_chunk_from_other_inputs_is_refused) {
    write_three();
    journal_file j(path_, identity());
    try {
        (void)j.find(1, 999);
        FAIL() << "a chunk made from other inputs was accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("different inputs"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find(path_.string()), std::string::npos) << e.what();
    }
}

TEST_F(map_journal, another_function_kind_chunk_size_or_result_type_is_refused_and_left_alone) {
    write_three();
    const std::string before = contents();
    auto id = identity();
    id.function = "g (double (*)(int))";
    EXPECT_NE(refusal(path_, id).find("made by the function `f (double (*)(int))`, not `g"), std::string::npos)
        << refusal(path_, id);
    id = identity();
    id.function_state = 7;
    EXPECT_NE(refusal(path_, id).find("other values"), std::string::npos) << refusal(path_, id);
    id = identity();
    id.kind = journal_kind::map_reduce;
    EXPECT_NE(refusal(path_, id).find("made by map, not map_reduce"), std::string::npos) << refusal(path_, id);
    id = identity();
    id.chunk_size = 8;
    EXPECT_NE(refusal(path_, id).find("chunk_size 4, not 8"), std::string::npos) << refusal(path_, id);
    id = identity();
    id.result_type = "std::vector<float>";
    EXPECT_NE(refusal(path_, id).find("results are of type std::vector<double>, not std::vector<float>"),
              std::string::npos)
        << refusal(path_, id);
    EXPECT_NE(refusal(path_, id).find(path_.string()), std::string::npos);
    EXPECT_EQ(contents(), before);
}

TEST_F(map_journal, a_file_that_is_not_a_journal_is_refused_and_left_untouched) {
    for (const std::string& text :
         {std::string("station;temperature\nHamburg;12.0\n"), std::string("F"), std::string("FRNTJRNX and more")}) {
        write_contents(text);
        const std::string message = refusal(path_, identity());
        EXPECT_NE(message.find("not a fronta map journal"), std::string::npos) << message;
        EXPECT_EQ(contents(), text);
    }
    EXPECT_THROW(journal_file j(dir_, identity()), std::system_error);  // a directory
}

TEST_F(map_journal, a_torn_last_record_is_ignored_and_cut_off) {
    write_three();
    const std::string whole = contents();
    const std::size_t third_starts = [&] {  // the journal without chunk 2
        const std::string two_records = whole.substr(0, whole.size() - (28 + 3 + 8));
        return two_records.size();
    }();
    for (std::size_t cut :
         {third_starts + 1, third_starts + 27, third_starts + 29, whole.size() - 8, whole.size() - 1}) {
        write_contents(whole.substr(0, cut));
        {
            journal_file j(path_, identity());
            EXPECT_EQ(j.chunks(), (std::vector<std::uint64_t>{0, 1})) << "cut at " << cut;
            EXPECT_EQ(j.torn_bytes(), cut - third_starts);
            EXPECT_EQ(fs::file_size(path_), third_starts);
            j.append(2, 102, "two again");  // appended after whole records only
        }
        journal_file j(path_, identity());
        EXPECT_EQ(j.chunks(), (std::vector<std::uint64_t>{0, 1, 2}));
        EXPECT_EQ(j.find(2, 102), "two again");
        EXPECT_EQ(j.find(1, 101), std::string(1000, 'x'));
    }
}

TEST_F(map_journal, a_garbled_last_record_is_ignored_but_damage_before_it_is_refused) {
    write_three();
    std::string bytes = contents();
    bytes[bytes.size() - 10] ^= 0x40;  // in chunk 2's result
    write_contents(bytes);
    {
        journal_file j(path_, identity());
        EXPECT_EQ(j.chunks(), (std::vector<std::uint64_t>{0, 1}));
    }
    write_three();
    bytes = contents();
    bytes[bytes.size() - 500] ^= 0x40;  // in chunk 1's result
    write_contents(bytes);
    const std::string message = refusal(path_, identity());
    EXPECT_NE(message.find("damaged at byte"), std::string::npos) << message;
    EXPECT_EQ(contents(), bytes);
}

TEST_F(map_journal, a_torn_header_starts_afresh) {
    { journal_file j(path_, identity()); }
    const std::string header = contents();
    for (std::size_t cut : {std::size_t{8}, std::size_t{12}, header.size() - 3}) {
        write_contents(header.substr(0, cut));
        journal_file j(path_, identity());
        EXPECT_TRUE(j.chunks().empty());
        EXPECT_EQ(j.torn_bytes(), cut);
    }
    write_contents(header.substr(0, header.size() - 3));
    {
        journal_file j(path_, identity());
        EXPECT_TRUE(j.chunks().empty());
        j.append(0, 1, "a");
    }
    journal_file j(path_, identity());
    EXPECT_EQ(j.find(0, 1), "a");
}

TEST_F(map_journal, one_map_at_a_time) {
    journal_file first(path_, identity());
    EXPECT_THROW(journal_file second(path_, identity()), std::system_error);
}

TEST_F(map_journal, open_shares_a_journal_this_process_has_open) {
    auto first = journal_file::open(path_, identity());
    auto second = journal_file::open(path_, identity());
    EXPECT_EQ(first, second);
    auto other = identity();
    other.chunk_size = 5;
    EXPECT_THROW(journal_file::open(path_, other), std::invalid_argument);
    first->append(0, 1, "a");
    first.reset();
    EXPECT_EQ(second->find(0, 1), "a");
    second.reset();
    journal_file alone(path_, identity());  // closed: the lock is free again
    EXPECT_EQ(alone.find(0, 1), "a");
}

TEST_F(map_journal, a_journal_closed_by_one_thread_as_another_opens_it_is_never_found_locked) {
    { journal_file::open(path_, identity())->append(0, 1, "a"); }
    std::atomic<int> failures{0};
    const auto churn = [&] {
        for (int i = 0; i < 300; ++i) {
            try {
                auto j = journal_file::open(path_, identity());
                if (j->find(0, 1) != "a") ++failures;
            } catch (const std::exception&) {
                ++failures;
            }
        }
    };
    std::thread a(churn), b(churn);
    a.join();
    b.join();
    EXPECT_EQ(failures.load(), 0);
}

TEST_F(map_journal, typed_journal_stores_results_and_hashes_inputs) {
    using fronta::detail::open_map_journal;
    const std::vector<int> inputs{1, 2, 3};
    {
        auto j = open_map_journal<int, std::vector<double>>(path_, journal_kind::map, 3, &halve);
        auto found = j->find(0, inputs);
        EXPECT_FALSE(found.stored);
        j->record(0, found.input_hash, {0.5, 1.0, 1.5});
    }
    auto j = open_map_journal<int, std::vector<double>>(path_, journal_kind::map, 3, &halve);
    auto found = j->find(0, inputs);
    ASSERT_TRUE(found.stored);
    EXPECT_EQ(*found.stored, (std::vector<double>{0.5, 1.0, 1.5}));
    EXPECT_THROW(j->find(0, std::vector<int>{1, 2, 4}), std::invalid_argument);
    EXPECT_FALSE(j->find(1, std::vector<int>{1, 2, 4}).stored);
}

TEST_F(map_journal, functions_are_told_apart_by_name_and_state) {
    using fronta::detail::function_fingerprint;
    EXPECT_NE(function_fingerprint(&halve).first.find("halve"), std::string::npos)
        << function_fingerprint(&halve).first;
    EXPECT_NE(function_fingerprint(&third).first.find("(registered"), std::string::npos);
    EXPECT_NE(function_fingerprint(&halve), function_fingerprint(&third));
    EXPECT_NE(function_fingerprint(scale{2}).second, function_fingerprint(scale{3}).second);
    EXPECT_EQ(function_fingerprint(scale{2}), function_fingerprint(scale{2}));

    using fronta::detail::open_map_journal;
    { open_map_journal<int, std::vector<double>>(path_, journal_kind::map, 3, scale{2}); }
    EXPECT_THROW((open_map_journal<int, std::vector<double>>(path_, journal_kind::map, 3, scale{3})),
                 std::invalid_argument);
    EXPECT_THROW((open_map_journal<int, std::vector<double>>(path_, journal_kind::map, 3, &halve)),
                 std::invalid_argument);
    EXPECT_NO_THROW((open_map_journal<int, std::vector<double>>(path_, journal_kind::map, 3, scale{2})));
}

TEST_F(map_journal, types_cereal_cannot_write_are_refused) {
    using fronta::detail::open_map_journal;
    try {
        open_map_journal<opaque, std::vector<double>>(path_, journal_kind::map, 1, &halve);
        FAIL() << "unserializable inputs were accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("inputs"), std::string::npos) << e.what();
    }
    EXPECT_THROW((open_map_journal<int, std::vector<opaque>>(path_, journal_kind::map, 1, &halve)),
                 std::invalid_argument);
    EXPECT_FALSE(fs::exists(path_));
}

}  // namespace
