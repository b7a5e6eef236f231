// The flagship example billion_rows (examples/13_billion_rows.cpp), run as a program: its answer
// equals a plain serial reference written here (std::getline, std::stod, std::map), byte for byte,
// on threads, processes and MPI; a malformed line fails naming its byte offset; an empty file
// gives an empty answer; the same --rows give the same file for any number of workers.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <climits>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void write_file(const fs::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
}

// The answer computed the plain way: line by line, through doubles, in an ordered map.
std::string serial_reference(const fs::path& path) {
    struct stats {
        long long min = LLONG_MAX, max = LLONG_MIN, sum = 0, count = 0;
    };
    std::map<std::string, stats> stations;
    std::ifstream in(path, std::ios::binary);
    std::string line;
    while (std::getline(in, line)) {
        const auto semicolon = line.find(';');
        const long long tenths = std::llround(std::stod(line.substr(semicolon + 1)) * 10);
        stats& s = stations[line.substr(0, semicolon)];
        s.min = std::min(s.min, tenths);
        s.max = std::max(s.max, tenths);
        s.sum += tenths;
        ++s.count;
    }
    const auto decimal = [](long long tenths) {
        char text[32];
        std::snprintf(text, sizeof text, "%.1f", static_cast<double>(tenths) / 10.0);
        return std::string(text);
    };
    std::string out;
    for (const auto& [name, s] : stations) {
        const auto mean = static_cast<long long>(std::floor(static_cast<double>(s.sum) / s.count + 0.5));
        out += name + "=" + decimal(s.min) + "/" + decimal(mean) + "/" + decimal(s.max) + "\n";
    }
    return out;
}

struct run_result {
    int status = -1;     // the exit code; -1 if killed
    std::string output;  // stdout and stderr
};

// Runs a shell command with a time limit, so a hang fails the test instead of stalling it.
run_result run(const std::string& command) {
    run_result result;
    std::FILE* pipe = popen(("timeout -k 5 120 " + command + " 2>&1").c_str(), "r");
    if (pipe == nullptr) return result;
    char buffer[4096];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) result.output.append(buffer, n);
    const int status = pclose(pipe);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

const std::string program = BILLION_ROWS_PROGRAM;

class billion_rows_fixture : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        char pattern[] = "/tmp/billion_rows_test.XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        directory = pattern;
        measurements = directory / "measurements.txt";
        // 1 million rows, about 14 MB: with --chunk-mb 0.5, some 28 chunks.
        const run_result generated = run(program + " --generate-only --rows 1000000 --file " + measurements.string());
        ASSERT_EQ(generated.status, 0) << generated.output;
        reference = serial_reference(measurements);
    }
    static void TearDownTestSuite() { fs::remove_all(directory); }

    // The program's answer (--output) for `file` on `launch` (a command line before the options).
    static std::string answer(const std::string& launch, const fs::path& file, const std::string& name) {
        const fs::path output = directory / (name + ".answer");
        const run_result r =
            run(launch + " --file " + file.string() + " --chunk-mb 0.5 --json --output " + output.string());
        EXPECT_EQ(r.status, 0) << r.output;
        EXPECT_NE(r.output.find("\"bytes\": " + std::to_string(fs::file_size(file))), std::string::npos) << r.output;
        return read_file(output);
    }

    // A file of valid lines with `bad` at byte offset `*offset`, in the middle of a later chunk.
    static fs::path file_with_bad_line(const std::string& bad, std::size_t* offset) {
        const std::string valid = read_file(measurements);
        const std::size_t cut = valid.find('\n', 3'000'000) + 1;  // after the first 6 chunks of 0.5 MiB
        const std::size_t end = valid.find('\n', 6'000'000) + 1;
        *offset = cut;
        const fs::path path = directory / "bad.txt";
        write_file(path, valid.substr(0, cut) + bad + "\n" + valid.substr(cut, end - cut));
        return path;
    }

    // The message of the std::runtime_error that parse_chunk throws, as it is: from a worker
    // process or rank it comes back as the same type, with the same text.
    static void expect_malformed_names_offset(const std::string& launch) {
        const std::vector<std::string> bad_lines = {"Oslo-3.5",   ";1.0",  "Oslo;12.34", "Oslo;1.",   "Oslo;abc",
                                                    "Oslo;123.4", "Oslo;", "",           "Oslo;+1.0", "Oslo;1.0\r"};
        for (const std::string& bad : bad_lines) {
            std::size_t offset = 0;
            const fs::path path = file_with_bad_line(bad, &offset);
            const run_result r = run(launch + " --chunk-mb 0.5 --file " + path.string());
            EXPECT_NE(r.status, 0) << "bad line '" << bad << "' was accepted:\n" << r.output;
            EXPECT_NE(r.output.find("billion_rows: malformed line at byte offset " + std::to_string(offset) + " of " +
                                    path.string()),
                      std::string::npos)
                << "bad line '" << bad << "':\n"
                << r.output;
        }
    }

    static inline fs::path directory;
    static inline fs::path measurements;
    static inline std::string reference;
};

using billion_rows = billion_rows_fixture;

TEST_F(billion_rows, reference_sees_every_station) {
    EXPECT_GT(std::count(reference.begin(), reference.end(), '\n'), 400);
}

TEST_F(billion_rows, generation_is_byte_identical_for_any_worker_count) {
    const fs::path one = directory / "one.txt", three = directory / "three.txt", more = directory / "more.txt";
    ASSERT_EQ(run(program + " --generate-only --rows 300000 --workers 1 --file " + one.string()).status, 0);
    ASSERT_EQ(run(program + " --generate-only --rows 300000 --workers 3 --file " + three.string()).status, 0);
    ASSERT_EQ(run(program + " --generate-only --rows 300001 --workers 2 --file " + more.string()).status, 0);
    const std::string a = read_file(one), b = read_file(three), c = read_file(more);
    ASSERT_GT(a.size(), 300000u * 7);
    EXPECT_TRUE(a == b) << "the same --rows made different files with 1 and 3 workers";
    EXPECT_EQ(std::count(a.begin(), a.end(), '\n'), 300000);
    // Row r depends on r alone: one more row is one more line at the end.
    EXPECT_EQ(c.substr(0, a.size()), a);
    EXPECT_EQ(std::count(c.begin(), c.end(), '\n'), 300001);
    // A file of the expected size is kept: running again does not rewrite it.
    const auto written = fs::last_write_time(one);
    const run_result again = run(program + " --generate-only --rows 300000 --file " + one.string());
    EXPECT_EQ(again.status, 0);
    EXPECT_NE(again.output.find("reusing"), std::string::npos) << again.output;
    EXPECT_EQ(fs::last_write_time(one), written);
}

TEST_F(billion_rows, threads_answer_equals_serial_reference) {
    EXPECT_EQ(answer(program + " --executor threads --workers 2", measurements, "threads"), reference);
    EXPECT_EQ(answer(program + " --executor threads --workers 3", measurements, "threads3"), reference);
}

TEST_F(billion_rows, processes_answer_equals_serial_reference) {
    EXPECT_EQ(answer(program + " --executor processes --workers 2", measurements, "processes"), reference);
}

TEST_F(billion_rows, malformed_line_names_its_byte_offset_on_threads) {
    expect_malformed_names_offset(program + " --executor threads");
}

TEST_F(billion_rows, malformed_line_names_its_byte_offset_on_processes) {
    expect_malformed_names_offset(program + " --executor processes");
}

TEST_F(billion_rows, empty_file_gives_empty_answer) {
    const fs::path empty = directory / "empty.txt";
    write_file(empty, "");
    for (const std::string kind : {"threads", "processes"}) {
        const fs::path output = directory / "empty.answer";
        write_file(output, "stale");
        const run_result r = run(program + " --executor " + kind + " --file " + empty.string() + " --output " +
                                 output.string() + " --json");
        EXPECT_EQ(r.status, 0) << r.output;
        EXPECT_EQ(read_file(output), "") << kind;
        EXPECT_NE(r.output.find("\"rows\": 0"), std::string::npos) << r.output;
    }
}

TEST_F(billion_rows, last_line_may_lack_its_newline) {
    const fs::path file = directory / "short.txt";
    write_file(file, "Oslo;1.0\nBergen;-0.4\nOslo;-2.5");
    EXPECT_EQ(answer(program + " --executor threads", file, "short"), "Bergen=-0.4/-0.4/-0.4\nOslo=-2.5/-0.7/1.0\n");
    EXPECT_EQ(serial_reference(file), "Bergen=-0.4/-0.4/-0.4\nOslo=-2.5/-0.7/1.0\n");
}

TEST_F(billion_rows, bad_flags_fail_with_usage) {
    const run_result r = run(program + " --executor gpu --file " + measurements.string());
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.output.find("unknown executor 'gpu'"), std::string::npos) << r.output;
    EXPECT_NE(run(program + " --rows many").status, 0);
    const fs::path not_a_file = directory / "a_directory";
    fs::create_directories(not_a_file);
    const run_result unreadable = run(program + " --file " + not_a_file.string());
    EXPECT_NE(unreadable.status, 0);
    EXPECT_NE(unreadable.output.find(not_a_file.string()), std::string::npos) << unreadable.output;
}

#ifdef FRONTA_HAVE_MPI
using billion_rows_mpi = billion_rows_fixture;

TEST_F(billion_rows_mpi, world_answer_equals_serial_reference) {
    const std::string launch = std::string(BILLION_ROWS_MPIEXEC) + " -n 3 " + program + " --executor mpi";
    EXPECT_EQ(answer(launch, measurements, "mpirun"), reference);
}

TEST_F(billion_rows_mpi, spawned_answer_equals_serial_reference) {
    EXPECT_EQ(answer(program + " --executor mpi", measurements, "spawned"), reference);
}

TEST_F(billion_rows_mpi, malformed_line_names_its_byte_offset_on_spawned_ranks) {
    std::size_t offset = 0;
    const fs::path path = file_with_bad_line("Oslo;12.34", &offset);
    const run_result r = run(program + " --executor mpi --chunk-mb 0.5 --file " + path.string());
    EXPECT_NE(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("billion_rows: malformed line at byte offset " + std::to_string(offset)), std::string::npos)
        << r.output;
}
#endif

}  // namespace
