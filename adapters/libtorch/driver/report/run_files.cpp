#include "report/run_files.h"

#include "io/json_files.h"
#include "io/run_layout.h"

namespace lr::driver {

namespace {

ModelScores read_scores(const RunLayout& run, const std::string& model) {
  ModelScores m;
  const auto s = read_json_file(run.eval_summary(model).string());
  if (!s || !s->contains("datasets") || !(*s)["datasets"].is_object()) return m;
  m.present = true;
  m.complete = s->value("complete", false);
  for (const auto& [name, d] : (*s)["datasets"].items()) {
    if (!d.is_object() || d.value("n", int64_t{0}) == 0) continue;
    m.accuracy[name] = 100.0 * d.value("accuracy", 0.0);
    m.n_total[name] = {d.value("n", int64_t{0}), d.value("total", int64_t{0})};
  }
  return m;
}

}  // namespace

RunFiles read_run_files(const ExperimentConfig& c) {
  const RunLayout run(c.run.out_dir);
  RunFiles f;
  f.stats = read_json_file(run.supervision_stats().string());
  f.diagnostics = read_json_file(run.diagnostics().string());
  f.seconds = read_json_file(run.stage_seconds().string());
  f.train_done = read_json_file(run.train_complete().string());
  f.sft = read_json_file(run.sft_summary().string());
  f.lr_metrics = read_json_objects(run.train_metrics().string());
  f.sft_metrics = read_json_objects(run.sft_metrics().string());
  for (const EvalDataset& d : c.eval.datasets) f.datasets.push_back(d.name);
  f.models = {{"base", read_scores(run, "base")}, {"sft", read_scores(run, "sft")}, {"tuned", read_scores(run, "tuned")}};
  return f;
}

}  // namespace lr::driver
