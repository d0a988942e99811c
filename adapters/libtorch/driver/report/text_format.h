// How the report writes numbers, durations and names.
#pragma once

#include <cstdint>
#include <string>

namespace lr::driver {

// What a missing value is shown as.
inline constexpr const char* kDash = "—";

// printf of one double.
std::string fmt(const char* format, double v);

// The paper's names for the bundled benchmarks; others as configured.
std::string display_name(const std::string& dataset);

// "12.0 s", "3.5 min", "2.10 h".
std::string duration_text(double seconds);

// 1770000 -> "1.77M (1,770,000)"; small counts as they are.
std::string count_text(int64_t n);

// Text for a Markdown table cell ('|' escaped, newlines as spaces).
std::string md_escape(const std::string& s);

}  // namespace lr::driver
