// 11: the talk's "run a pipeline on multiple files": one task per file, the reduction on the client.
// Python: totals = reduce(merge, executor.map(summarise_file, paths))
//   11_csv_files --executor threads
//   11_csv_files --executor processes
// The example writes a folder of sales CSV files (date,region,product,amount; 4 MB in all, the
// same bytes on every run) under the temporary directory, sums them per region on the chosen
// executor, checks the answer against a plain serial loop, and removes the folder.
#include <fronta/fronta.hpp>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

// What one file adds up to, per region. Amounts in cents: integer sums are exact, so the order in
// which the files are reduced cannot change the answer.
struct region_total {
    std::int64_t cents = 0;
    std::int64_t sales = 0;
    template <class Archive>
    void serialize(Archive& archive) {
        archive(cents, sales);
    }
    friend bool operator==(const region_total&, const region_total&) = default;
};
using summary = std::map<std::string, region_total>;

// The task: one file in, one small summary out. It runs in a worker thread or a worker process;
// only the path travels there and only the summary comes back.
summary summarise_file(const std::string& path) {
    const fronta::mapped_file file(path);  // a missing or unreadable file throws, naming the path
    std::string_view text = file.text();
    summary totals;
    std::size_t line_number = 0;
    auto bad_line = [&](const char* what) {
        return std::runtime_error(path + ":" + std::to_string(line_number) + ": " + what);
    };
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        const std::string_view line = text.substr(0, end);
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        if (++line_number == 1) continue;  // the header: date,region,product,amount
        // date,region,product,amount: the region is the second field, the amount the last.
        const std::size_t first = line.find(','), second = line.find(',', first + 1), last = line.rfind(',');
        if (first == std::string_view::npos || second == std::string_view::npos || last <= second)
            throw bad_line("expected 4 fields: date,region,product,amount");
        const std::string_view region = line.substr(first + 1, second - first - 1);
        const std::string_view amount = line.substr(last + 1);  // like 123.45
        const std::size_t dot = amount.find('.');
        std::int64_t units = 0, hundredths = 0;
        if (dot == std::string_view::npos || amount.size() - dot != 3 ||
            std::from_chars(amount.data(), amount.data() + dot, units).ptr != amount.data() + dot ||
            std::from_chars(amount.data() + dot + 1, amount.data() + amount.size(), hundredths).ptr !=
                amount.data() + amount.size())
            throw bad_line("the amount is not a number with two decimals");
        region_total& total = totals[std::string(region)];
        total.cents += units * 100 + hundredths;
        total.sales += 1;
    }
    return totals;
}
FRONTA_REMOTE(summarise_file);

// The reduction, on the client: merge one file's summary into the running totals.
void merge(summary& totals, const summary& part) {
    for (const auto& [region, t] : part) {
        totals[region].cents += t.cents;
        totals[region].sales += t.sales;
    }
}

// Writes `files` CSV files into `folder`, the same bytes on every run.
std::vector<std::string> write_sales_files(const fs::path& folder, int files, int rows_per_file) {
    static const char* const regions[] = {"north", "south", "east", "west", "central"};
    static const char* const products[] = {"widget", "gadget", "gizmo", "sprocket"};
    std::vector<std::string> paths;
    std::uint64_t state = 0x9E3779B97F4A7C15ull;
    auto next = [&] {  // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        return (state * 0x2545F4914F6CDD1Dull) >> 32;
    };
    for (int f = 0; f < files; ++f) {
        char name[32];
        std::snprintf(name, sizeof name, "sales-%03d.csv", f);
        paths.push_back((folder / name).string());
        std::ofstream out(paths.back());
        out << "date,region,product,amount\n";
        for (int r = 0; r < rows_per_file; ++r) {
            const auto cents = 100 + next() % 99'900;  // 1.00 to 999.99
            char line[96];
            std::snprintf(line, sizeof line, "2026-%02d-%02d,%s,%s,%llu.%02llu\n", 1 + f % 12, 1 + r % 28,
                          regions[next() % 5], products[next() % 4], static_cast<unsigned long long>(cents / 100),
                          static_cast<unsigned long long>(cents % 100));
            out << line;
        }
        if (!out) throw std::runtime_error("cannot write " + paths.back());
    }
    return paths;
}

fronta::executor make_executor(const std::string& kind) {
    if (kind == "threads") return fronta::thread_pool();
    if (kind == "processes") return fronta::process_pool();
    throw std::invalid_argument("unknown executor '" + kind + "' (threads or processes)");
}

// The folder of CSV files, removed when main returns (also after an error).
struct temporary_folder {
    fs::path path;
    temporary_folder() : path(fs::temp_directory_path() / ("fronta-csv-files-" + std::to_string(getpid()))) {
        fs::create_directories(path);
    }
    ~temporary_folder() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
};

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // worker processes are copies of this program: they stay in here
    std::string kind = "threads";
    for (int i = 1; i + 1 < argc; ++i)
        if (std::string(argv[i]) == "--executor") kind = argv[i + 1];
    try {
        fronta::executor pool = make_executor(kind);
        temporary_folder folder;
        const std::vector<std::string> paths = write_sales_files(folder.path, 32, 4'000);
        std::uintmax_t bytes = 0;
        for (const auto& p : paths) bytes += fs::file_size(p);
        std::printf("wrote %zu CSV files (%.1f MB) in %s\n", paths.size(), double(bytes) / 1e6, folder.path.c_str());

        // One task per file; results arrive in the order of `paths`, and are merged as they come.
        summary totals;
        for (const summary& part : pool.map(summarise_file, paths)) merge(totals, part);

        std::printf("per region, from %zu tasks on %zu %s:\n", paths.size(), pool.concurrency(), kind.c_str());
        for (const auto& [region, t] : totals)
            std::printf("  %-8s %7lld sales  %12lld.%02lld\n", region.c_str(), static_cast<long long>(t.sales),
                        static_cast<long long>(t.cents / 100), static_cast<long long>(t.cents % 100));

        // The same job as a plain loop: the executor must not change the answer.
        summary serial;
        for (const auto& p : paths) merge(serial, summarise_file(p));
        const bool same = serial == totals;
        std::printf("serial loop gives the same totals: %s\n", same ? "yes" : "NO");

        // A file that is not there: the task fails, and its error names the file.
        const std::string missing = (folder.path / "sales-999.csv").string();
        bool named = false;
        try {
            pool.submit(summarise_file, missing).get();
        } catch (const std::exception& e) {
            std::printf("a missing file: %s\n", e.what());
            named = std::string_view(e.what()).find(missing) != std::string_view::npos;
        }
        return same && named ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "11_csv_files: %s\n", e.what());
        return 2;
    }
}
