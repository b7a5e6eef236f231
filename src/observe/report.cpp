// write_trace_report: finds the records file of a trace, reads it, writes the page.
#include "fronta/report.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "observe/report_data.hpp"

namespace fronta {

void write_trace_report(const std::filesystem::path& trace, const std::filesystem::path& html,
                        const report_options& options) {
    // Before the reading, which takes seconds on a big trace: where the page cannot go.
    std::error_code error;
    const auto folder = html.has_parent_path() ? html.parent_path() : std::filesystem::path(".");
    if (std::filesystem::is_directory(html, error))
        throw std::runtime_error("cannot write the report " + html.string() + ": " + std::strerror(EISDIR));
    if (access(folder.c_str(), W_OK) != 0)
        throw std::runtime_error("cannot write the report " + html.string() + ": " + std::strerror(errno));
    const std::string page = report::render_report(report::read_trace(report::records_path(trace), options));
    std::ofstream out(html, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write the report " + html.string() + ": " + std::strerror(errno));
    out.write(page.data(), static_cast<std::streamsize>(page.size()));
    out.close();
    if (!out) throw std::runtime_error("cannot write the report " + html.string() + ": " + std::strerror(errno));
}

}  // namespace fronta
