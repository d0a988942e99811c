// Internal helpers shared by the checkpoint sources (not part of the interface).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace lr::driver::detail {

// Parses JSON text, refusing duplicate keys in any object (nlohmann keeps the
// last one silently). Messages start with `where` and call the text `what`.
// Throws CheckpointError.
nlohmann::json parse_json_strict(const std::string& text, const std::string& where, const std::string& what);

// The whole file; throws CheckpointError naming it.
std::string read_text_file(const std::string& path);

}  // namespace lr::driver::detail
