#include "config_overrides.h"

#include "experiment_config.h"
#include "schema_keys.h"

namespace lr::driver::config_internal {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

bool valid_dotted_key(const std::string& k) {
  if (k.empty() || k.front() == '.' || k.back() == '.' || k.find("..") != std::string::npos) return false;
  return k.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") ==
         std::string::npos;
}

// {v = value}: the value parsed as TOML, or as a bare string.
toml::table parse_value(const std::string& file, const std::string& key, const std::string& value) {
  toml::table parsed;
  try {
    parsed = toml::parse("v = " + value);
  } catch (const toml::parse_error& e) {
    // A bare word is a string; something that looks like a TOML value but
    // does not parse is an error.
    if (value.empty() || std::string("\"'[{").find(value.front()) != std::string::npos ||
        value.find_first_of("\"'[]{}\n") != std::string::npos)
      throw ConfigError(file + ": --set " + key + ": cannot parse the value " + value + " (" +
                        std::string(e.description()) + ")");
    parsed = toml::table{};
    parsed.insert_or_assign("v", value);
  }
  if (parsed.size() != 1 || !parsed.get("v"))
    throw ConfigError(file + ": --set " + key + ": the value must be one TOML value (got " + value + ")");
  if (schema_keys().string_keys.count(key) && !parsed.get("v")->is_string()) parsed.insert_or_assign("v", value);
  return parsed;
}

// Walks (creating) the sections of the dotted key and puts value's node there.
void put_at(const std::string& file, const std::string& key, toml::table& value, toml::table& root) {
  toml::table* t = &root;
  std::string walked;
  size_t start = 0;
  for (;;) {
    const size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (dot == std::string::npos) {
      value.get("v")->visit([&](auto&& node) { t->insert_or_assign(part, std::move(node)); });
      return;
    }
    walked += (walked.empty() ? "" : ".") + part;
    toml::node* n = t->get(part);
    if (!n) {
      t->insert_or_assign(part, toml::table{});
      n = t->get(part);
    }
    if (!n->is_table()) throw ConfigError(file + ": --set " + key + ": " + walked + " is not a table in the file");
    t = n->as_table();
    start = dot + 1;
  }
}

}  // namespace

std::string apply_override(const std::string& file, const std::string& text, toml::table& root) {
  const auto eq = text.find('=');
  if (eq == std::string::npos)
    throw ConfigError(file + ": --set \"" + text + "\": expected key=value (e.g. sample.kl_threshold=0.5)");
  const std::string key = trim(text.substr(0, eq));
  const std::string value = trim(text.substr(eq + 1));
  if (!valid_dotted_key(key))
    throw ConfigError(file + ": --set \"" + text + "\": \"" + key +
                      "\" is not a dotted key (e.g. sample.kl_threshold=0.5)");
  if (!schema_keys().keys.count(key))
    throw ConfigError(file + ": --set " + key + ": unknown key \"" + key + "\"" + did_you_mean(key));
  toml::table parsed = parse_value(file, key, value);
  put_at(file, key, parsed, root);
  return key;
}

}  // namespace lr::driver::config_internal
