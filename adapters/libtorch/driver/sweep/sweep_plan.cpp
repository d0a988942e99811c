#include "sweep/sweep_plan.h"

#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "io/run_layout.h"

namespace lr::driver {

namespace {

std::string quoted(const std::string& s) { return nlohmann::json(s).dump(); }

// A config error's lines as one line.
std::string one_line(std::string message) {
  for (size_t i = message.find('\n'); i != std::string::npos; i = message.find('\n', i)) message.replace(i, 1, "; ");
  return message;
}

std::vector<std::string> run_overrides(const ExperimentConfig& c, const std::vector<std::string>& overrides,
                                       const Variant& v, int64_t seed) {
  std::vector<std::string> all = overrides;
  all.insert(all.end(), {"models.expert=" + quoted(c.models.expert), "models.amateur=" + quoted(c.models.amateur),
                         "models.make_tiny=false", "models.pretrain=false"});
  all.insert(all.end(), v.overrides.begin(), v.overrides.end());
  all.push_back("run.out_dir=" + quoted(sweep_run_dir(c, v, seed).string()));
  all.push_back("run.seed=" + std::to_string(seed));
  return all;
}

void check_seeds(const ExperimentConfig& c) {
  if (c.sweep.seeds.empty()) throw std::runtime_error(c.source + ": sweep.seeds: empty; give at least one seed");
  std::set<int64_t> seen;
  for (int64_t s : c.sweep.seeds)
    if (!seen.insert(s).second)
      throw std::runtime_error(c.source + ": sweep.seeds: " + std::to_string(s) + " is listed twice");
}

SweepRun make_run(const ExperimentConfig& c, const std::vector<std::string>& overrides, const Variant& v,
                  int64_t seed) {
  try {
    return {v, seed, load_config(c.source, run_overrides(c, overrides, v, seed))};
  } catch (const ConfigError& e) {
    throw std::runtime_error("sweep.variants: \"" + v.name + "\": " + one_line(e.what()));
  }
}

}  // namespace

std::filesystem::path sweep_run_dir(const ExperimentConfig& c, const Variant& v, int64_t seed) {
  const RunLayout run(c.run.out_dir);
  return v.name == "base" ? run.sweep_base() : run.sweep_run(v.name, seed);
}

std::vector<SweepRun> plan_sweep(const ExperimentConfig& c, const std::vector<std::string>& overrides) {
  check_seeds(c);
  std::vector<SweepRun> runs;
  for (const Variant& v : sweep_variants(c)) {
    if (v.name == "base") {
      runs.push_back(make_run(c, overrides, v, c.run.seed));
      continue;
    }
    for (int64_t seed : c.sweep.seeds) runs.push_back(make_run(c, overrides, v, seed));
  }
  return runs;
}

}  // namespace lr::driver
