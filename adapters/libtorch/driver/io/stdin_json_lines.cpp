#include "io/stdin_json_lines.h"
#include "io/bounded_lines.h"
#include "io/json_depth.h"

#include <stdexcept>

namespace lr::driver {

void bad_stdin_line(size_t number, const std::string& what) {
  throw std::runtime_error("stdin line " + std::to_string(number) + ": " + what);
}

void for_each_json_line(std::istream& in, const std::function<void(const nlohmann::json&, size_t)>& take) {
  std::string line;
  bool too_long = false;
  for (size_t number = 1; read_bounded_line(in, line, too_long); ++number) {
    if (too_long) bad_stdin_line(number, line_too_long_message());
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (json_too_deep(line)) bad_stdin_line(number, json_too_deep_message());
    nlohmann::json value;
    try {
      value = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
      bad_stdin_line(number, std::string("not JSON (") + e.what() + ")");
    }
    take(value, number);
  }
}

std::vector<std::string> read_json_string_lines(std::istream& in) {
  std::vector<std::string> out;
  for_each_json_line(in, [&out](const nlohmann::json& value, size_t number) {
    if (!value.is_string())
      bad_stdin_line(number, "expected a JSON string, got " + std::string(value.type_name()));
    out.push_back(value.get<std::string>());
  });
  return out;
}

}  // namespace lr::driver
