// The value checks the schema (config_schema.h) attaches to keys: each returns
// "" when the value is fine, else what is wrong, in the words the error shows.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace lr::driver::config_internal {

using StrCheck = std::function<std::string(const std::string&)>;
using RealCheck = std::function<std::string(double)>;

inline constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();
inline constexpr double kInf = std::numeric_limits<double>::infinity();

// v as the errors print it (shortest, "0.05").
std::string fmt_double(double v);

StrCheck one_of(std::vector<std::string> options);
std::string nonempty(const std::string& s);
std::string has_question(const std::string& s);  // a template: must contain {question}
std::string check_device(const std::string& s);  // "cpu", "cuda" or "cuda:N"

// [lo, hi], (lo, hi), ... as the open flags say; hi may be kInf.
RealCheck in_range(double lo, bool lo_open, double hi, bool hi_open);

}  // namespace lr::driver::config_internal
