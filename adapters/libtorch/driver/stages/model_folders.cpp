#include "stages/model_folders.h"

#include <unistd.h>

#include <optional>
#include <stdexcept>

#include "io/json_files.h"

namespace lr::driver {

namespace fs = std::filesystem;

fs::path scratch_for(const fs::path& dir) {
  fs::path tmp = dir;
  tmp += ".partial-" + std::to_string(::getpid());
  fs::remove_all(tmp);
  return tmp;
}

void remove_stale_scratch(const fs::path& dir) {
  std::error_code ec;
  const fs::path parent = dir.parent_path();
  if (!fs::is_directory(parent, ec)) return;
  const std::string prefix = dir.filename().string() + ".partial-";
  for (const auto& e : fs::directory_iterator(parent, ec))
    if (e.path().filename().string().rfind(prefix, 0) == 0) fs::remove_all(e.path(), ec);
}

void publish_folder(const fs::path& scratch, const fs::path& dir) {
  fs::create_directories(dir.parent_path());
  fs::rename(scratch, dir);
}

bool folder_holds(const fs::path& dir, const nlohmann::json& want, const std::string& key, const FolderMarker& m) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return false;
  const std::optional<nlohmann::json> have = read_json_file((dir / m.file).string());
  if (!have)
    throw std::runtime_error(key + ": " + dir.string() + " exists but was not written by " + m.written_by + " (no " +
                             m.file + "); point " + key + " elsewhere, or set " + m.written_by +
                             " = false to use it");
  if (*have != want)
    throw std::runtime_error(key + ": " + dir.string() + " holds a model made with other settings (" +
                             (dir / m.file).string() + " differs from " + m.section +
                             "); remove the folder to remake it");
  return true;
}

}  // namespace lr::driver
