#include "sample/supervision_merge.h"

#include <filesystem>
#include <optional>

#include "io/atomic_file.h"
#include "sample/supervision_store.h"

namespace lr::driver {

namespace {

// A store file's blocks, checked against the settings; nullopt when absent or empty.
std::optional<SupervisionBlocks> blocks_of(const std::string& path, const nlohmann::json& settings) {
  if (!std::filesystem::exists(path) || std::filesystem::file_size(path) == 0) return std::nullopt;
  SupervisionBlocks b = read_supervision_blocks(path);
  if (b.settings != settings) throw other_settings_error(path, b.settings, settings);
  return b;
}

}  // namespace

int64_t merge_supervision_parts(const std::string& path, const nlohmann::json& settings,
                                const std::vector<int64_t>& ids, const std::vector<std::string>& parts) {
  const std::optional<SupervisionBlocks> file = blocks_of(path, settings);
  std::vector<SupervisionBlocks> read;
  for (const std::string& p : parts)
    if (std::optional<SupervisionBlocks> b = blocks_of(p, settings)) read.push_back(std::move(*b));
  std::string text = file ? file->header : (read.empty() ? std::string() : read.front().header);
  if (file)
    for (int64_t id : file->order) text += file->problems.at(id);
  int64_t added = 0;
  for (int64_t id : ids) {
    if (file && file->problems.count(id)) continue;
    for (const SupervisionBlocks& part : read) {
      const auto it = part.problems.find(id);
      if (it == part.problems.end()) continue;
      text += it->second;
      ++added;
      break;
    }
  }
  const bool whole = file && text.size() == std::filesystem::file_size(path);  // no partial tail to drop
  if (text.empty() || (added == 0 && whole)) return added;
  write_file_atomically(path, text);
  return added;
}

}  // namespace lr::driver
