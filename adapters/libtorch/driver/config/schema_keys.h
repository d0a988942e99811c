// The dotted keys the schema knows (for --set and for "did you mean").
#pragma once

#include <set>
#include <string>

namespace lr::driver::config_internal {

struct SchemaKeys {
  std::set<std::string> keys;         // every key: "lora.r", "models.tiny.heads", ...
  std::set<std::string> string_keys;  // keys whose value is one string
  std::set<std::string> sections;     // "run", "models", "models.tiny", ...
};

const SchemaKeys& schema_keys();

// " (did you mean x?)" when a known key or section is within edit distance 2
// of key, else "".
std::string did_you_mean(const std::string& key);

}  // namespace lr::driver::config_internal
