// The settings a folder of results was made with (RUN/eval/<model>/,
// RUN/sft/), kept beside them as settings.json so a resumed or repeated run
// never mixes results made with other settings.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace lr::driver {

// The first difference between two settings objects as "key: then X, now Y"
// (dotted key), or nullopt when they are equal.
std::optional<std::string> settings_difference(const nlohmann::json& then, const nlohmann::json& now);

// Reads DIR/settings.json (nullopt when absent). Throws std::runtime_error
// naming the file when it is not a JSON object.
std::optional<nlohmann::json> read_settings(const std::string& dir);

// Writes DIR/settings.json atomically (io/json_files.h; DIR created when needed).
void write_settings(const std::string& dir, const nlohmann::json& settings);

}  // namespace lr::driver
