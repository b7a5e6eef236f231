// The report as a person sees it: the page loaded from a file in headless Chromium (Debian's
// `chromium`, installed by `scripts/install-deps.sh browser`). Checked in the DOM after the
// page's script ran: one task-stream row per worker, the number of task marks the script drew,
// the per-function counts; and in a screenshot: not blank, the functions' colours are there.
// Chromium runs in a child process with a time limit. Where it is missing or cannot start, the
// tests are skipped and say why.
#include <gtest/gtest.h>
#include <png.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include "fronta/report.hpp"
#include "report_helpers.hpp"

namespace {

using namespace report_test;

std::optional<std::string> find_chromium() {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        for (const char* name : {"chromium", "chromium-browser"}) {
            const fs::path candidate = fs::path(dir) / name;
            if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
        }
    }
    return std::nullopt;
}

child_result run_chromium(const std::string& chromium, const scratch_dir& dir, std::vector<std::string> what,
                          const fs::path& page, int seconds) {
    std::vector<std::string> args = {chromium,
                                     "--headless=new",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--disable-dev-shm-usage",
                                     "--hide-scrollbars",
                                     "--no-first-run",
                                     "--user-data-dir=" + (dir / "profile").string(),
                                     "--host-resolver-rules=MAP * ~NOTFOUND",  // the page must need no network
                                     "--virtual-time-budget=10000"};
    args.insert(args.end(), what.begin(), what.end());
    args.push_back("file://" + page.string());
    return run_child(args, seconds, dir.path);
}

std::string tail(const std::string& s) { return s.size() > 600 ? s.substr(s.size() - 600) : s; }

// Chromium's path, once it has shown that it runs here; otherwise why not.
struct browser {
    std::string chromium, why_not;
};
const browser& the_browser() {
    static const browser b = [] {
        browser r;
        const auto found = find_chromium();
        if (!found) {
            r.why_not = "chromium is not installed (scripts/install-deps.sh browser installs it)";
            return r;
        }
        scratch_dir dir;
        write_file(dir / "probe.html",
                   "<html><body><script>document.body.dataset.probe = 'ran';</script></body></html>");
        const auto run = run_chromium(*found, dir, {"--dump-dom"}, dir / "probe.html", 60);
        if (run.timed_out || run.out.find("data-probe=\"ran\"") == std::string::npos) {
            r.why_not = "chromium cannot run here (" +
                        std::string(run.timed_out ? "no answer in 60 s" : "exit " + std::to_string(run.exit_code)) +
                        "): " + tail(run.err);
            return r;
        }
        r.chromium = *found;
        return r;
    }();
    return b;
}

#define SKIP_WITHOUT_BROWSER()                                                 \
    if (!the_browser().why_not.empty()) GTEST_SKIP() << the_browser().why_not; \
    const std::string chromium = the_browser().chromium

std::string attribute(const std::string& tag, const std::string& name) {
    std::smatch m;
    if (std::regex_search(tag, m, std::regex(" " + name + "=\"([^\"]*)\""))) return m[1];
    return "<none>";
}

std::string element_tag(const std::string& dom, const std::string& id) {
    std::smatch m;
    if (std::regex_search(dom, m, std::regex("<[a-z]+[^>]* id=\"" + id + "\"[^>]*>"))) return m[0];
    return "";
}

// The text of the tasks column of a function's row in the table.
std::string table_count(const std::string& dom, const std::string& fn) {
    std::smatch m;
    if (!std::regex_search(dom, m, std::regex("<tr data-fn=\"" + fn + "\"[^>]*>(.*?)</tr>"))) return "<no row>";
    const std::string row = m[1];
    if (std::regex_search(row, m, std::regex("<td class=\"n\">([^<]*)</td>"))) return m[1];
    return "<no cell>";
}

// A run on a thread pool of 3 workers (functions a, b) and a process pool of 2 (function c,
// with transfer and reply), 4 cancelled tasks that never ran, one failure.
void write_browser_run(const fs::path& path) {
    std::vector<std::string> l = {header_line(), pool_line(1, "thread_pool", 3), pool_line(2, "process_pool", 2)};
    for (int w = 1; w <= 3; ++w) l.push_back(worker_line(w, 1, "thread_pool 1 worker " + std::to_string(w - 1)));
    for (int w = 4; w <= 5; ++w) l.push_back(worker_line(w, 2, "process_pool 2 worker " + std::to_string(w - 4)));
    double clock[6] = {};
    long id = 0;
    for (int i = 0; i < 150; ++i) {
        task t{.id = ++id, .fn = i % 3 == 0 ? "b" : "a", .worker = 1 + i % 3};
        t.submit = i * 5.0;
        t.start = std::max(clock[t.worker], t.submit + 1);
        t.end = t.start + (t.fn == "a" ? 40 : 90);
        clock[t.worker] = t.end;
        if (i == 70) t.outcome = "failed", t.error = "bad row";
        l.push_back(task_line(t));
    }
    for (int i = 0; i < 40; ++i) {
        task t{.id = ++id, .fn = "c", .pool = 2, .worker = 4 + i % 2, .transfer = 15, .reply = 10};
        t.submit = i * 20.0;
        t.start = std::max(clock[t.worker] + 15, t.submit + 15);
        t.end = t.start + 120;
        clock[t.worker] = t.end + 10;
        t.bytes_out = 1000;
        l.push_back(task_line(t));
    }
    for (int i = 0; i < 4; ++i)
        l.push_back(task_line(
            {.id = ++id, .fn = "a", .worker = 0, .submit = 700, .start = 700, .end = 700, .outcome = "cancelled"}));
    l.push_back(end_line(6000, id));
    write_file(path, lines(l));
}

struct png_pixels {
    unsigned width = 0, height = 0;
    std::vector<unsigned char> rgb;
};

png_pixels decode_png(const fs::path& path) {
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, path.c_str())) throw std::runtime_error(image.message);
    image.format = PNG_FORMAT_RGB;
    png_pixels p;
    p.width = image.width;
    p.height = image.height;
    p.rgb.resize(PNG_IMAGE_SIZE(image));
    if (!png_image_finish_read(&image, nullptr, p.rgb.data(), 0, nullptr)) throw std::runtime_error(image.message);
    return p;
}

TEST(report_browser, the_task_stream_has_a_row_per_worker_and_a_mark_per_task_and_the_table_its_counts) {
    SKIP_WITHOUT_BROWSER();
    scratch_dir dir;
    write_browser_run(dir / "run.jsonl");
    fronta::write_trace_report(dir / "run.jsonl", dir / "run.html");
    const auto run = run_chromium(chromium, dir, {"--dump-dom"}, dir / "run.html", 90);
    ASSERT_FALSE(run.timed_out) << "chromium did not finish in 90 s";
    ASSERT_EQ(run.exit_code, 0) << tail(run.err);
    const std::string& dom = run.out;
    const std::string body = [&] {
        std::smatch m;
        return std::regex_search(dom, m, std::regex("<body[^>]*>")) ? std::string(m[0]) : std::string();
    }();
    EXPECT_EQ(attribute(body, "data-drawn"), "1") << "the page's script ran to its end";
    const std::string stream = element_tag(dom, "stream");
    ASSERT_FALSE(stream.empty()) << dom.substr(0, 2000);
    EXPECT_EQ(attribute(stream, "data-rows"), "5") << stream;
    EXPECT_EQ(attribute(stream, "data-marks"), "190") << "every task that ran, none of the 4 cancelled: " << stream;
    EXPECT_EQ(attribute(stream, "data-mode"), "tasks");
    EXPECT_NE(dom.find("5 worker rows, 190 task marks drawn"), std::string::npos) << "the caption a person reads";
    EXPECT_EQ(table_count(dom, "a"), "104");
    EXPECT_EQ(table_count(dom, "b"), "50");
    EXPECT_EQ(table_count(dom, "c"), "40");
    EXPECT_NE(dom.find("bad row"), std::string::npos) << "the failure's message is on the page";
}

TEST(report_browser, a_screenshot_shows_the_charts_in_the_functions_colours) {
    SKIP_WITHOUT_BROWSER();
    scratch_dir dir;
    write_browser_run(dir / "run.jsonl");
    fronta::write_trace_report(dir / "run.jsonl", dir / "run.html");
    const auto run =
        run_chromium(chromium, dir, {"--window-size=1400,1000", "--screenshot=" + (dir / "shot.png").string()},
                     dir / "run.html", 90);
    ASSERT_FALSE(run.timed_out) << "chromium did not finish in 90 s";
    ASSERT_TRUE(fs::exists(dir / "shot.png")) << tail(run.err);
    const auto shot = decode_png(dir / "shot.png");
    ASSERT_EQ(shot.width, 1400u);
    std::size_t ink = 0;
    std::set<unsigned> colours;
    std::map<std::string, std::size_t> function_pixels;
    const std::map<std::string, std::array<int, 3>> palette = {{"a", {0x4e, 0x79, 0xa7}},
                                                               {"b", {0xf2, 0x8e, 0x2b}},
                                                               {"c", {0x59, 0xa1, 0x4f}}};
    for (std::size_t i = 0; i + 2 < shot.rgb.size(); i += 3) {
        const int r = shot.rgb[i], g = shot.rgb[i + 1], b = shot.rgb[i + 2];
        if (r < 235 || g < 235 || b < 235) ++ink;  // not white nor the page's light grey
        colours.insert((r >> 4) << 8 | (g >> 4) << 4 | (b >> 4));
        for (const auto& [fn, c] : palette)
            if (std::abs(r - c[0]) < 6 && std::abs(g - c[1]) < 6 && std::abs(b - c[2]) < 6) ++function_pixels[fn];
    }
    const std::size_t pixels = shot.rgb.size() / 3;
    EXPECT_GT(ink, pixels / 10) << "the page is nearly blank";
    EXPECT_GT(colours.size(), 20u) << "too few colours for charts";
    for (const auto& [fn, c] : palette) EXPECT_GT(function_pixels[fn], 300u) << "marks of " << fn << " are not drawn";
}

TEST(report_browser, a_report_of_a_million_tasks_renders_in_time) {
    SKIP_WITHOUT_BROWSER();
    scratch_dir dir;
    const long n = many_tasks();
    write_many_tasks(dir / "big.jsonl", n, 8);
    fronta::write_trace_report(dir / "big.jsonl", dir / "big.html");
    const auto began = std::chrono::steady_clock::now();
    const auto run = run_chromium(chromium, dir, {"--dump-dom"}, dir / "big.html", 90);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    ASSERT_FALSE(run.timed_out) << "chromium did not render the report of " << n << " tasks in 90 s";
    std::printf("report of %ld tasks (%.0f kB) rendered by chromium in %.1f s\n", n,
                static_cast<double>(fs::file_size(dir / "big.html")) / 1e3, seconds);
    const std::string stream = element_tag(run.out, "stream");
    EXPECT_EQ(attribute(stream, "data-rows"), "8") << stream;
    EXPECT_EQ(attribute(stream, "data-mode"), "bins");
    EXPECT_EQ(attribute(stream, "data-tasks"), std::to_string(n)) << "the bins drawn hold every task";
}

}  // namespace
