#include "io/settings_file.h"

#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "io/json_depth.h"
#include "io/json_files.h"
#include "io/whole_io.h"

namespace lr::driver {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
std::optional<std::string> diff(const json& a, const json& b, const std::string& prefix) {
  if (a.is_object() && b.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      const std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
      if (!b.contains(it.key())) return key + ": then " + it.value().dump() + ", now absent";
      if (auto d = diff(it.value(), b.at(it.key()), key)) return d;
    }
    for (auto it = b.begin(); it != b.end(); ++it)
      if (!a.contains(it.key()))
        return (prefix.empty() ? it.key() : prefix + "." + it.key()) + ": then absent, now " + it.value().dump();
    return std::nullopt;
  }
  if (a != b) {
    auto shorten = [](const std::string& s) { return s.size() > 80 ? s.substr(0, 77) + "..." : s; };
    return (prefix.empty() ? std::string("settings") : prefix) + ": then " + shorten(a.dump()) + ", now " +
           shorten(b.dump());
  }
  return std::nullopt;
}
}  // namespace

std::optional<std::string> settings_difference(const json& then, const json& now) { return diff(then, now, ""); }

std::optional<json> read_settings(const std::string& dir) {
  const fs::path p = fs::path(dir) / "settings.json";
  if (!fs::exists(p)) return std::nullopt;
  std::string text;
  if (const int err = read_whole_file(p.string(), text))
    throw std::runtime_error(p.string() + ": cannot be read: " + std::strerror(err));
  if (json_too_deep(text)) throw std::runtime_error(p.string() + ": " + json_too_deep_message());
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
    throw std::runtime_error(p.string() + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw std::runtime_error(p.string() + ": not a JSON object");
  return j;
}

void write_settings(const std::string& dir, const json& settings) {
  write_json_atomically((fs::path(dir) / "settings.json").string(), nlohmann::ordered_json(settings));
}

}  // namespace lr::driver
