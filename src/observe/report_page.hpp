#pragma once
// The report page's inline CSS and script (report_page.cpp).
namespace fronta::report {
extern const char* const page_style;
extern const char* const page_script;
}  // namespace fronta::report
