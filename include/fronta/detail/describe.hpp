#pragma once
// Human-readable durations for error messages ("no result within 250 ms").

#include <chrono>
#include <cstdio>
#include <string>

namespace fronta::detail {

template <class Rep, class Period>
std::string describe(std::chrono::duration<Rep, Period> d) {
    const double seconds = std::chrono::duration<double>(d).count();
    char text[64];
    if (seconds >= 1.0 || seconds <= -1.0)
        std::snprintf(text, sizeof text, "%g s", seconds);
    else if (seconds >= 1e-3 || seconds <= -1e-3)
        std::snprintf(text, sizeof text, "%g ms", seconds * 1e3);
    else
        std::snprintf(text, sizeof text, "%g us", seconds * 1e6);
    return text;
}

}  // namespace fronta::detail
