#include "config_checks.h"

#include <cmath>
#include <sstream>

namespace lr::driver::config_internal {

std::string fmt_double(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

StrCheck one_of(std::vector<std::string> options) {
  return [options](const std::string& s) -> std::string {
    for (const auto& o : options)
      if (s == o) return "";
    std::string list;
    for (const auto& o : options) list += (list.empty() ? "\"" : ", \"") + o + "\"";
    return "must be one of " + list + " (got \"" + s + "\")";
  };
}

std::string nonempty(const std::string& s) { return s.empty() ? "must not be empty" : ""; }

std::string has_question(const std::string& s) {
  return s.find("{question}") == std::string::npos ? "must contain {question}" : "";
}

std::string check_device(const std::string& s) {
  if (s == "cpu" || s == "cuda") return "";
  if (s.rfind("cuda:", 0) == 0 && s.size() > 5 && s.find_first_not_of("0123456789", 5) == std::string::npos)
    return "";
  return "must be \"cpu\", \"cuda\" or \"cuda:N\" (got \"" + s + "\")";
}

RealCheck in_range(double lo, bool lo_open, double hi, bool hi_open) {
  return [=](double v) -> std::string {
    const bool ok_lo = lo_open ? v > lo : v >= lo;
    const bool ok_hi = hi_open ? v < hi : v <= hi;
    if (ok_lo && ok_hi) return "";
    std::string range = std::string(lo_open ? "(" : "[") + fmt_double(lo) + ", " +
                        (std::isinf(hi) ? std::string("inf") : fmt_double(hi)) + (hi_open ? ")" : "]");
    return "must be in " + range + " (got " + fmt_double(v) + ")";
  };
}

}  // namespace lr::driver::config_internal
