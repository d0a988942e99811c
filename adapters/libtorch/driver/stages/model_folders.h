// The folders the run writes its own models into (tiny_models.cpp,
// pretrained_models.cpp): each is built under a temporary sibling name and
// renamed into place last, with a marker file recording the settings that
// made it, so a kill leaves either no folder or a complete one, and a later
// run knows whether what it finds is what the config asks for.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace lr::driver {

// A sibling of `dir` to build it in, emptied first.
std::filesystem::path scratch_for(const std::filesystem::path& dir);

// Removes scratch folders a killed earlier run left beside `dir`.
void remove_stale_scratch(const std::filesystem::path& dir);

// Renames the finished scratch folder to `dir` (creating its parent).
void publish_folder(const std::filesystem::path& scratch, const std::filesystem::path& dir);

struct FolderMarker {
  std::string file;     // the marker's name inside the folder, e.g. "lightreasoner_tiny.json"
  std::string written_by;  // for messages: "models.make_tiny"
  std::string section;     // for messages: the settings it records, "[models.tiny]"
};

// Whether `dir` holds what `want` describes: true when it does, false when
// there is nothing there; an error naming `key` and the folder when it holds
// something else (no marker, or other settings).
bool folder_holds(const std::filesystem::path& dir, const nlohmann::json& want, const std::string& key,
                  const FolderMarker& marker);

}  // namespace lr::driver
