// lightreasoner sample --config FILE [--set key=value ...]: stage 1
// (stages/sample_stage.cpp).
#include "commands.h"
#include "config_verb.h"
#include "stages/stage.h"

namespace lr::driver::cli {

void add_sample_command(CLI::App& app) {
  add_config_verb(app,
                  {"sample",
                   "Stage 1: expert rollouts, expert/amateur contrast, selected steps with their soft targets, "
                   "appended to RUN/supervision.jsonl (resumable)",
                   "sample.kl_threshold=0.5", true, true},
                  [](const ExperimentConfig& c) { return run_sample_stage(c); });
}

}  // namespace lr::driver::cli
