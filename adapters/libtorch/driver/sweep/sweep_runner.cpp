// run_sweep: the runs of the plan in order, each with only the stages its
// row needs, each stage skipped when complete; then the table.
#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>

#include "io/atomic_file.h"
#include "io/run_layout.h"
#include "report/text_format.h"
#include "runtime/cout_to_cerr.h"
#include "runtime/interrupt.h"
#include "stages/stage.h"
#include "sweep/supervision_reuse.h"
#include "sweep/sweep.h"
#include "sweep/sweep_plan.h"

namespace lr::driver {

namespace {

using Clock = std::chrono::steady_clock;

struct Step {
  std::string name;
  std::function<bool()> complete;
  std::function<int()> run;
};

// base: eval base; sft rows: sft, eval sft; LightReasoner rows: sample, train, eval tuned.
std::vector<Step> steps_of(const SweepRun& r) {
  const ExperimentConfig& c = r.config;
  StageOptions eval;
  eval.models = r.variant.row_model;
  std::vector<Step> steps;
  if (r.variant.row_model == "tuned") {
    steps.push_back({"sample", [&c] { return sample_stage_complete(c); }, [&c] { return run_sample_stage(c); }});
    steps.push_back({"train", [&c] { return train_stage_complete(c); }, [&c] { return run_train_stage(c); }});
  }
  if (r.variant.row_model == "sft")
    steps.push_back({"sft", [&c] { return sft_stage_complete(c); }, [&c] { return run_sft_stage(c); }});
  steps.push_back({"eval " + eval.models, [&c, eval] { return eval_stage_complete(c, eval); },
                   [&c, eval] { return run_eval_stage(c, eval); }});
  return steps;
}

// One run's stages; false when Ctrl-C stopped it.
bool run_one(const SweepRun& r, const std::vector<SweepRun>& all) {
  const RunLayout run(r.config.run.out_dir);
  std::filesystem::create_directories(run.root());
  write_file_atomically(run.config().string(), to_toml(r.config));  // the run's effective config, for the record
  if (r.variant.row_model == "tuned") reuse_supervision(r, all);
  for (const Step& s : steps_of(r)) {
    if (InterruptScope::requested()) return false;
    if (s.complete()) {
      std::cerr << "sweep:   " << s.name << ": skipped: complete\n";
      continue;
    }
    std::cerr << "sweep:   " << s.name << "\n";
    if (s.run() == kExitInterrupted || InterruptScope::requested()) return false;
  }
  return true;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// "[i/N] variant seed s (elapsed ..., ETA ...)": the ETA from the mean time of
// the runs that had work to do so far.
void print_progress(size_t i, const std::vector<SweepRun>& runs, double elapsed, double worked_seconds,
                    size_t worked_runs) {
  const SweepRun& r = runs[i];
  std::string eta = worked_runs ? duration_text(worked_seconds / double(worked_runs) * double(runs.size() - i))
                                : std::string("-");
  std::cerr << "sweep: [" << i + 1 << "/" << runs.size() << "] " << r.variant.name << " seed " << r.seed
            << " (elapsed " << duration_text(elapsed) << ", ETA " << eta << ")\n";
}

}  // namespace

std::string run_sweep(const ExperimentConfig& c, const std::vector<std::string>& overrides) {
  const std::vector<SweepRun> runs = plan_sweep(c, overrides);  // every variant checked before anything runs
  CoutToCerr redirect;  // stdout: the table's path alone
  InterruptScope interrupt;
  const Clock::time_point t0 = Clock::now();
  std::cerr << "sweep: " << c.source << " -> " << c.run.out_dir << " (" << runs.size() << " runs)\n";
  prepare_models(c);
  // [diagnostics] enabled: once, on the sweep's own config (they depend on the
  // models and stage 1's settings only); the table includes RUN/diagnostics.json.
  if (c.diagnostics.enabled && !diagnose_stage_complete(c)) {
    std::cerr << "sweep: diagnose\n";
    if (run_diagnose_stage(c) == kExitInterrupted) {
      std::cerr << "sweep: interrupted; the same command resumes\n";
      return "";
    }
  }
  double worked_seconds = 0;
  size_t worked_runs = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    print_progress(i, runs, seconds_since(t0), worked_seconds, worked_runs);
    const Clock::time_point t = Clock::now();
    if (!run_one(runs[i], runs)) {
      std::cerr << "sweep: interrupted; the same command resumes\n";
      return "";
    }
    if (seconds_since(t) > 1.0) {  // a run skipped whole (under a second) says nothing of the time left
      worked_seconds += seconds_since(t);
      ++worked_runs;
    }
  }
  const std::string table = write_sweep_table(c);
  std::cerr << "sweep: done in " << duration_text(seconds_since(t0)) << "; the table is " << table << "\n";
  return table;
}

}  // namespace lr::driver
