#include "stages/shard_parts.h"

#include "io/run_layout.h"

namespace lr::driver {

namespace fs = std::filesystem;

std::vector<std::string> parts_of(const fs::path& file) {
  std::vector<std::string> out;
  for (const RunLayout::ShardFile& s : RunLayout::shards_of(file)) out.push_back(s.file.string());
  return out;
}

std::vector<std::string> parts_of_other_worlds(const fs::path& file, int world) {
  std::vector<std::string> out;
  for (const RunLayout::ShardFile& s : RunLayout::shards_of(file))
    if (s.world != world) out.push_back(s.file.string());
  return out;
}

void remove_parts(const fs::path& file) {
  for (const RunLayout::ShardFile& s : RunLayout::shards_of(file)) fs::remove(s.file);
  std::error_code ec;
  if (fs::is_empty(RunLayout::shards_dir_of(file), ec) && !ec) fs::remove(RunLayout::shards_dir_of(file), ec);
}

}  // namespace lr::driver
