// The experiment's stages as functions: the verbs call them, and so does
// `lightreasoner run`, which skips a stage whose outputs are complete.
//
// Each run_*_stage returns 0 on success and kExitInterrupted when Ctrl-C
// stopped it (its outputs are then in a resumable state: the same call goes
// on where it stopped); any other failure is thrown (std::exception with a
// one-line message naming the file or key at fault).
#pragma once

#include <string>

#include "config/experiment_config.h"

namespace lr::driver::cli {

// The exit status of a stage stopped by Ctrl-C (128 + SIGINT).
constexpr int kExitInterrupted = 130;

struct StageOptions {
  // eval: the models to evaluate, "base", "tuned", "sft" or "all" (base, then
  // tuned and sft when their adapters exist). Other stages ignore it.
  std::string models = "all";
};

// ---- eval: RUN/eval/<model>/<dataset>.jsonl and RUN/eval/<model>/summary.json
int run_eval_stage(const ExperimentConfig& config, const StageOptions& options = {});
// True when every model `options.models` selects (given the adapters present)
// has a complete summary.json for every configured dataset, made with the
// current settings.
bool eval_stage_complete(const ExperimentConfig& config, const StageOptions& options = {});

// ---- sft: RUN/sft/ (trajectories.jsonl, train/, train_metrics.jsonl,
// adapter/ when a trajectory was kept, summary.json)
int run_sft_stage(const ExperimentConfig& config, const StageOptions& options = {});
// True when RUN/sft/summary.json says the stage finished (with or without an
// adapter: "kept": 0 is a finished stage).
bool sft_stage_complete(const ExperimentConfig& config);

}  // namespace lr::driver::cli
