#include "evaluate/batch_timing.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "io/append_file.h"
#include "io/atomic_file.h"
#include "io/json_files.h"

namespace lr::driver {

namespace fs = std::filesystem;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The last byte of a non-empty file, read alone (the file may be large).
int last_byte(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(-1, std::ios::end);
  return in.get();
}

// A file's text, ended by a newline when it has any (a torn last line then
// stays one bad line instead of spoiling the next).
std::string ended(std::string text) {
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text;
}

}  // namespace

void append_batch_timing(const std::string& path, int64_t batch, const std::vector<int64_t>& ids, double seconds) {
  const fs::path p(path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  const bool torn = fs::exists(p) && fs::file_size(p) > 0 && last_byte(path) != '\n';
  AppendFile(path).append((torn ? "\n" : "") +
                          nlohmann::json{{"batch", batch}, {"ids", ids}, {"seconds", seconds}}.dump() + "\n");
}

double timed_seconds(const std::string& path, const std::set<int64_t>& ids) {
  double total = 0;
  for (const nlohmann::json& j : read_json_objects(path)) {
    if (!j.contains("ids") || !j["ids"].is_array() || j["ids"].empty() || !j.value("seconds", 0.0)) continue;
    int64_t mine = 0;
    for (const auto& id : j["ids"]) mine += id.is_number_integer() && ids.count(id.get<int64_t>()) ? 1 : 0;
    total += j.value("seconds", 0.0) * static_cast<double>(mine) / static_cast<double>(j["ids"].size());
  }
  return total;
}

void merge_timing_parts(const std::string& path, const std::vector<std::string>& parts) {
  std::string added;
  for (const std::string& part : parts) added += ended(read_text(part));
  if (added.empty()) return;
  write_file_atomically(path, ended(read_text(path)) + added);
}

}  // namespace lr::driver
