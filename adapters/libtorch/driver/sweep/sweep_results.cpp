#include "sweep/sweep_results.h"

#include <filesystem>
#include <optional>

#include "io/json_files.h"
#include "io/run_layout.h"
#include "sweep/sweep_plan.h"

namespace lr::driver {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string relative(const fs::path& p, const ExperimentConfig& c) {
  return p.lexically_relative(c.run.out_dir).string();
}

std::map<int64_t, bool> read_correct(const fs::path& results) {
  std::map<int64_t, bool> out;
  for (const json& line : read_json_objects(results.string()))
    if (line.contains("id") && line["id"].is_number_integer() && line.contains("correct") &&
        line["correct"].is_boolean())
      out[line["id"].get<int64_t>()] = line["correct"].get<bool>();
  return out;
}

// Why a run has no evaluation summary.
std::string missing_summary_note(const RunLayout& run, const std::string& model, const ExperimentConfig& c) {
  if (model == "sft") {
    const std::optional<json> sft = read_json_file(run.sft_summary().string());
    if (sft && sft->value("kept", int64_t{-1}) == 0) return "the SFT baseline kept no right trajectory (no model)";
  }
  return "not run yet (no " + relative(run.eval_summary(model), c) + ")";
}

// One run's datasets, each only when its evaluation is complete and its results file is there.
std::map<std::string, DatasetResult> read_run(const ExperimentConfig& c, const RunLayout& run,
                                              const std::string& model, std::vector<std::string>& notes,
                                              const std::string& who) {
  std::map<std::string, DatasetResult> out;
  const std::optional<json> summary = read_json_file(run.eval_summary(model).string());
  if (!summary || !summary->is_object()) {
    notes.push_back(who + ": " + missing_summary_note(run, model, c));
    return out;
  }
  const json datasets = summary->value("datasets", json::object());
  for (const EvalDataset& d : c.eval.datasets) {
    const json s = datasets.is_object() ? datasets.value(d.name, json::object()) : json::object();
    const fs::path results = run.eval_results(model, d.name);
    if (!s.value("complete", false) || !fs::exists(results)) {
      notes.push_back(who + ": " + d.name + " not evaluated completely (" + relative(results, c) + ")");
      continue;
    }
    DatasetResult r;
    r.accuracy = 100.0 * s.value("accuracy", 0.0);
    r.n = s.value("n", int64_t{0});
    r.correct = read_correct(results);
    out[d.name] = std::move(r);
  }
  return out;
}

VariantRuns read_variant(const ExperimentConfig& c, const Variant& v) {
  VariantRuns out{v, {}, {}};
  const std::vector<int64_t> seeds = v.name == "base" ? std::vector<int64_t>{c.run.seed} : c.sweep.seeds;
  for (int64_t seed : seeds) {
    const RunLayout run(sweep_run_dir(c, v, seed));
    const std::string who = v.name == "base" ? v.name : v.name + " seed " + std::to_string(seed);
    auto datasets = read_run(c, run, v.row_model, out.notes, who);
    if (!datasets.empty()) out.seeds[seed] = std::move(datasets);
  }
  return out;
}

}  // namespace

std::vector<VariantRuns> read_sweep_runs(const ExperimentConfig& c, const std::vector<Variant>& variants) {
  std::vector<VariantRuns> out;
  for (const Variant& v : variants) out.push_back(read_variant(c, v));
  return out;
}

const DatasetResult* result_at(const VariantRuns& v, int64_t seed, const std::string& dataset) {
  auto s = v.variant.name == "base" ? v.seeds.begin() : v.seeds.find(seed);
  if (s == v.seeds.end()) return nullptr;
  auto d = s->second.find(dataset);
  return d == s->second.end() ? nullptr : &d->second;
}

}  // namespace lr::driver
