#include "sweep/variants.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "io/run_layout.h"

namespace lr::driver {

namespace {

// What a LightReasoner row runs with, stated so that its description holds
// whatever the sweep's config sets.
const std::vector<std::string> kLightReasoner = {"sample.selection=kl", "sample.targets=contrastive"};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<Variant> builtins(const ExperimentConfig& c) {
  const std::string general = RunLayout(c.run.out_dir).pretrained_expert_general().string();
  return {
      {"base", "the expert, untuned", {}, "base"},
      {"sft", "rejection-sampling SFT (its right trajectories)", {"sft.source=rejection"}, "sft"},
      {"gt_supervision", "SFT on the ground-truth solutions", {"sft.source=ground_truth"}, "sft"},
      {"lightreasoner", "selection kl, targets contrastive", kLightReasoner, "tuned"},
      {"all_steps", "selection all, targets contrastive",
       {"sample.selection=all", "sample.targets=contrastive"}, "tuned"},
      {"random_steps", "selection random, targets contrastive",
       {"sample.selection=random", "sample.targets=contrastive"}, "tuned"},
      {"expert_targets", "selection kl, targets expert", {"sample.selection=kl", "sample.targets=expert"}, "tuned"},
      {"argmax_targets", "selection kl, targets argmax (no contrast)",
       {"sample.selection=kl", "sample.targets=argmax"}, "tuned"},
      {"all_steps_argmax", "selection all, targets argmax (neither)",
       {"sample.selection=all", "sample.targets=argmax"}, "tuned"},
      {"same_size_amateur", "amateur: the same-size generalist (models/expert-general)",
       with(kLightReasoner, {"models.amateur=" + nlohmann::json(general).dump()}), "tuned"},
  };
}

std::string builtin_list() {
  std::string s;
  for (const auto& n : builtin_variant_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

[[noreturn]] void fail(const std::string& entry, const std::string& what) {
  throw std::runtime_error("sweep.variants: \"" + entry + "\": " + what);
}

// "NAME: key=value; key=value": a LightReasoner run with those overrides (their
// keys and values are checked when the sweep builds its run configs).
Variant parse_custom(const std::string& entry, size_t colon) {
  Variant v;
  v.name = trim(entry.substr(0, colon));
  if (v.name.empty() || v.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
                            std::string::npos)
    fail(entry, "a custom variant's NAME is letters, digits, '_' or '-' (it names a folder)");
  const auto& names = builtin_variant_names();
  if (std::find(names.begin(), names.end(), v.name) != names.end())
    fail(entry, "\"" + v.name + "\" is a built-in variant; give the custom one another NAME");
  std::vector<std::string> own;
  std::string rest = entry.substr(colon + 1);
  for (size_t start = 0; start <= rest.size();) {
    const size_t semi = std::min(rest.find(';', start), rest.size());
    const std::string item = trim(rest.substr(start, semi - start));
    if (!item.empty() && item.find('=') == std::string::npos) fail(entry, "\"" + item + "\" is not key=value");
    if (!item.empty()) own.push_back(item);
    start = semi + 1;
  }
  if (own.empty()) fail(entry, "no key=value after \"" + v.name + ":\"");
  v.overrides = with(kLightReasoner, own);
  v.row_model = "tuned";
  v.description = "LightReasoner with";
  for (size_t i = 0; i < own.size(); ++i) v.description += (i ? ", " : " ") + own[i];
  return v;
}

}  // namespace

const std::vector<std::string>& builtin_variant_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const Variant& v : builtins(ExperimentConfig{})) out.push_back(v.name);
    return out;
  }();
  return names;
}

Variant parse_variant(const std::string& entry, const ExperimentConfig& c) {
  const size_t colon = entry.find(':');
  if (colon != std::string::npos) return parse_custom(entry, colon);
  const std::string name = trim(entry);
  for (const Variant& v : builtins(c)) {
    if (v.name != name) continue;
    if (name == "same_size_amateur" && !c.models.pretrain)
      fail(entry, "needs models.pretrain = true (the pretrain step writes the same-size amateur, models/expert-general)");
    return v;
  }
  fail(entry, "unknown variant; the built-ins are " + builtin_list() + ", or a custom \"NAME: key=value; key=value\"");
}

std::vector<Variant> sweep_variants(const ExperimentConfig& c) {
  std::vector<Variant> out = {parse_variant("base", c)};
  std::set<std::string> seen = {"base"};
  for (const std::string& entry : c.sweep.variants) {
    Variant v = parse_variant(entry, c);
    if (v.name == "base") continue;  // always the first row
    if (!seen.insert(v.name).second) fail(entry, "the variant \"" + v.name + "\" is listed twice");
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace lr::driver
