#include "config_paths.h"

#include "bundled_data.h"

namespace lr::driver::config_internal {

namespace fs = std::filesystem;

std::string absolute_normal(const fs::path& p) {
  std::error_code ec;
  fs::path a = fs::absolute(p, ec);
  if (ec) a = p;
  return a.lexically_normal().string();
}

void resolve_paths(ExperimentConfig& c, const fs::path& config_dir) {
  c.run.out_dir = absolute_normal(c.run.out_dir);
  auto input = [&](std::string& p) {
    if (!p.empty()) p = absolute_normal(config_dir / fs::path(p));
  };
  input(c.models.expert);
  input(c.models.amateur);
  input(c.models.tiny.tokenizer);
  if (c.models.make_tiny) {
    if (c.models.expert.empty()) c.models.expert = absolute_normal(fs::path(c.run.out_dir) / "models/tiny-expert");
    if (c.models.amateur.empty())
      c.models.amateur = absolute_normal(fs::path(c.run.out_dir) / "models/tiny-amateur");
  }
  if (c.models.pretrain) {
    if (c.models.expert.empty()) c.models.expert = absolute_normal(fs::path(c.run.out_dir) / "models/expert");
    if (c.models.amateur.empty()) c.models.amateur = absolute_normal(fs::path(c.run.out_dir) / "models/amateur");
  }
  if (c.data.bundled_dir.empty())
    c.data.bundled_dir = absolute_normal(default_bundled_dir());
  else
    input(c.data.bundled_dir);
  if (c.data.train_file.empty())
    c.data.train_file = absolute_normal(fs::path(c.data.bundled_dir) / kBundledTrainFile);
  else
    input(c.data.train_file);
  for (auto& d : c.eval.datasets)
    if (d.file.empty()) {
      if (const BundledSet* b = find_bundled(d.name)) d.file = absolute_normal(fs::path(c.data.bundled_dir) / b->rel_file);
    }
}

}  // namespace lr::driver::config_internal
