#include "io/json_files.h"

#include <filesystem>

#include "io/atomic_file.h"
#include "io/bounded_lines.h"
#include "io/json_depth.h"
#include "io/whole_io.h"

namespace lr::driver {

std::optional<std::string> read_json_text(const std::string& path) {
  std::string text;
  if (read_whole_file(path, text) != 0 || json_too_deep(text)) return std::nullopt;
  return text;
}

std::vector<nlohmann::json> read_json_objects(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  bool too_long = false;
  while (read_bounded_line(in, line, too_long)) {
    if (too_long || json_too_deep(line)) continue;  // as any other line that is not a JSON object
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

void write_json_atomically(const std::string& path, const nlohmann::ordered_json& value) {
  const std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  write_file_atomically(path, value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

}  // namespace lr::driver
