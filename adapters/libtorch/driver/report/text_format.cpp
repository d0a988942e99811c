#include "report/text_format.h"

#include <cstdio>
#include <map>

namespace lr::driver {

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string display_name(const std::string& dataset) {
  static const std::map<std::string, std::string> names = {
      {"gsm8k", "GSM8K"}, {"math", "MATH"}, {"svamp", "SVAMP"}, {"asdiv", "ASDiv"},
      {"minerva_math", "Minerva Math"}, {"olympiadbench", "OlympiadBench"}, {"mmlu_stem", "MMLU-STEM"}};
  const auto it = names.find(dataset);
  return it == names.end() ? dataset : it->second;
}

std::string duration_text(double s) {
  if (s < 120) return fmt("%.1f s", s);
  if (s < 7200) return fmt("%.1f min", s / 60);
  return fmt("%.2f h", s / 3600);
}

std::string count_text(int64_t n) {
  std::string digits = std::to_string(n), grouped;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) grouped += ",";
    grouped += digits[i];
  }
  if (n < 10000) return grouped;
  return fmt("%.2fM", double(n) / 1e6) + " (" + grouped + ")";
}

std::string md_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '|') out += "\\|";
    else if (ch == '\n') out += ' ';
    else out += ch;
  }
  return out;
}

}  // namespace lr::driver
