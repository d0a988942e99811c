// `--set key=value` overrides, applied to the parsed TOML before it is read,
// so that an overridden value goes through the same checks as one in the file.
#pragma once

#include <toml++/toml.h>

#include <string>

namespace lr::driver::config_internal {

// Applies one "key=value" to root (creating missing sections) and returns the
// key. value is a TOML value or a bare word (a string); a string key takes
// unquoted text as text even when it reads as another TOML type
// (run.out_dir=2024-01-01). Throws ConfigError (naming file) for a malformed
// text, a key the schema does not know, or a value that does not parse.
std::string apply_override(const std::string& file, const std::string& text, toml::table& root);

}  // namespace lr::driver::config_internal
