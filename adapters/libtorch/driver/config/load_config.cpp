// load_config: parse the TOML, apply the --set overrides, read it through the
// schema (every problem collected), check what spans several keys, resolve
// the paths.
#include <filesystem>
#include <set>

#include "config_overrides.h"
#include "config_paths.h"
#include "config_reader.h"
#include "config_schema.h"

namespace lr::driver {
namespace {

namespace fs = std::filesystem;
using config_internal::ConfigReader;

toml::table parse_toml(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw ConfigError(path + ": cannot read the config file (no such file)");
  try {
    return toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw ConfigError(path + ":" + std::to_string(e.source().begin.line) + ":" +
                      std::to_string(e.source().begin.column) + ": TOML syntax error: " +
                      std::string(e.description()));
  }
}

// The checks that span several keys.
void check_across_keys(const ExperimentConfig& c, ConfigReader& reader) {
  const auto& t = c.models.tiny;
  if (t.heads > 0 && t.kv_heads > 0 && t.heads % t.kv_heads != 0)
    reader.error("models.tiny.kv_heads", reader.node_at("models", "tiny"), "must divide models.tiny.heads");
  if (t.heads > 0 && (t.expert_hidden % t.heads != 0 || t.amateur_hidden % t.heads != 0))
    reader.error("models.tiny.heads", reader.node_at("models", "tiny"),
                 "must divide models.tiny.expert_hidden and models.tiny.amateur_hidden");
  if (c.models.make_tiny && c.models.pretrain)
    reader.error("models.pretrain", reader.node_at("models", "pretrain"),
                 "and models.make_tiny are both true: choose random tiny models or pretrained ones");
  if (!c.models.make_tiny && !c.models.pretrain) {
    if (c.models.expert.empty())
      reader.error("models.expert", reader.node_at("models", "expert"),
                   "required: the expert's Hugging Face folder (or models.make_tiny / models.pretrain = true)");
    if (c.models.amateur.empty())
      reader.error("models.amateur", reader.node_at("models", "amateur"),
                   "required: the amateur's Hugging Face folder (or models.make_tiny / models.pretrain = true)");
  }
  const auto& p = c.pretrain;
  if (p.heads % p.kv_heads != 0)
    reader.error("pretrain.kv_heads", reader.node_at("pretrain", "kv_heads"), "must divide pretrain.heads");
  if (p.expert_hidden % p.heads != 0 || p.amateur_hidden % p.heads != 0)
    reader.error("pretrain.heads", reader.node_at("pretrain", "heads"),
                 "must divide pretrain.expert_hidden and pretrain.amateur_hidden");
  if (p.warmup_steps > p.general_steps)
    reader.error("pretrain.warmup_steps", reader.node_at("pretrain", "warmup_steps"),
                 "must not exceed pretrain.general_steps (" + std::to_string(p.general_steps) + ")");
  if (c.train.warmup_steps > c.train.updates)
    reader.error("train.warmup_steps", reader.node_at("train", "warmup_steps"),
                 "must not exceed train.updates (" + std::to_string(c.train.updates) + ")");
}

}  // namespace

ExperimentConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  toml::table root = parse_toml(path);
  std::set<std::string> overridden;
  for (const auto& o : overrides) overridden.insert(config_internal::apply_override(path, o, root));

  ExperimentConfig c;
  c.source = config_internal::absolute_normal(path);
  const fs::path config_dir = fs::path(c.source).parent_path();
  ConfigReader reader(path, root, overridden, [&](const std::string& p) {
    return config_internal::absolute_normal(config_dir / fs::path(p));
  });
  config_internal::visit_config(c, reader);
  reader.finish_root();
  check_across_keys(c, reader);
  if (!reader.errors.empty()) {
    std::string msg;
    for (const auto& e : reader.errors) msg += (msg.empty() ? "" : "\n") + e;
    if (reader.unreported) msg += "\n(and " + std::to_string(reader.unreported) + " more problems)";
    throw ConfigError(msg);
  }
  config_internal::resolve_paths(c, config_dir);
  return c;
}

}  // namespace lr::driver
