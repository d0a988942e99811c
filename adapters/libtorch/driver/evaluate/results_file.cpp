#include "evaluate/results_file.h"
#include "io/bounded_lines.h"
#include "io/json_depth.h"
#include "io/whole_io.h"

#include <cstring>
#include <filesystem>

namespace lr::driver {

namespace fs = std::filesystem;
using json = ResultLine;

ResultLines read_result_lines(const std::string& path) {
  ResultLines out;
  const fs::path p(path);
  std::string text;
  if (fs::exists(p)) {
    if (const int err = read_whole_file(path, text))
      throw ResultsFileError(path + ": cannot read the results file: " + std::strerror(err));
    if (const auto overlong = first_overlong_line(text, path)) throw ResultsFileError(*overlong);
  }
  out.size = text.size();
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < text.size()) {
    ++line_no;
    const size_t nl = text.find('\n', pos);
    const bool last = nl == std::string::npos || text.find_first_not_of(" \t\r\n", nl) == std::string::npos;
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    if (nl == std::string::npos) break;  // no newline: an unfinished write, dropped
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      pos = nl + 1;
      out.good_end = pos;
      continue;
    }
    if (json_too_deep(line)) throw ResultsFileError(where + json_too_deep_message());
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
      if (last) break;  // a torn last line
      throw ResultsFileError(where + "not valid JSON (" + e.what() + ")");
    }
    if (!j.is_object() || !j.contains("id") || !j["id"].is_number_integer())
      throw ResultsFileError(where + "not a result line (a JSON object with an integer \"id\")");
    const int64_t id = j["id"].get<int64_t>();
    if (!out.records.emplace(id, std::move(j)).second)
      throw ResultsFileError(where + "problem " + std::to_string(id) + " appears twice");
    out.raw.emplace(id, std::move(line));
    pos = nl + 1;
    out.good_end = pos;
  }
  return out;
}

ResultsFile::ResultsFile(std::string path) : path_(std::move(path)) {
  const fs::path p(path_);
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  ResultLines lines = read_result_lines(path_);
  records_ = std::move(lines.records);
  if (lines.good_end < lines.size) {
    truncated_bytes_ = static_cast<int64_t>(lines.size - lines.good_end);
    fs::resize_file(p, lines.good_end);
  }
  out_ = AppendFile(path_);
}

void ResultsFile::append(const std::vector<json>& lines) {
  std::string block;
  for (const json& j : lines) {
    if (!j.contains("id") || !j["id"].is_number_integer())
      throw ResultsFileError(path_ + ": a result without an integer \"id\"");
    const int64_t id = j["id"].get<int64_t>();
    if (records_.count(id)) throw ResultsFileError(path_ + ": problem " + std::to_string(id) + " is already written");
    block += j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  }
  out_.append(block);
  for (const json& j : lines) records_.emplace(j["id"].get<int64_t>(), j);
}

}  // namespace lr::driver
