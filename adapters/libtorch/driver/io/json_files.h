// JSON and JSON-lines files of a run folder: lenient readers (a file that is
// absent or not JSON reads as nothing: a stage not run yet, or killed while
// writing a file that is only ever replaced whole) and the atomic writer.
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace lr::driver {

// PATH's text when it can be read and nests no deeper than kMaxJsonDepth; nullopt otherwise.
std::optional<std::string> read_json_text(const std::string& path);

// The document in PATH; nullopt when the file is absent or not JSON.
// Json = nlohmann::ordered_json keeps the file's key order.
// JSON nested deeper than kMaxJsonDepth (io/json_depth.h) is not JSON here:
// copying or printing it would overflow the stack.
template <class Json = nlohmann::json>
std::optional<Json> read_json_file(const std::string& path) {
  const std::optional<std::string> text = read_json_text(path);
  if (!text) return std::nullopt;
  Json j = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

// The JSON objects of a JSON-lines file, in order; other lines are skipped.
std::vector<nlohmann::json> read_json_objects(const std::string& path);

// PATH's new contents, indented, through write_file_atomically (io/atomic_file.h);
// the parent folder is created when needed. Invalid UTF-8 is replaced.
void write_json_atomically(const std::string& path, const nlohmann::ordered_json& value);

}  // namespace lr::driver
