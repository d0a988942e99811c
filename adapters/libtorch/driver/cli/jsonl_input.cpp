#include "jsonl_input.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace lr::driver::cli {

std::vector<std::string> read_json_string_lines(std::istream& in) {
  std::vector<std::string> out;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    nlohmann::json value;
    try {
      value = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw std::runtime_error("stdin line " + std::to_string(number) + ": not JSON (" + e.what() + ")");
    }
    if (!value.is_string())
      throw std::runtime_error("stdin line " + std::to_string(number) + ": expected a JSON string, got " +
                               std::string(value.type_name()));
    out.push_back(value.get<std::string>());
  }
  return out;
}

}  // namespace lr::driver::cli
