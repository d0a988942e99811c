// lightreasoner diagnose --config FILE [--set key=value ...]: the diagnostics
// that explain a result (stages/diagnose_stage.cpp).
#include "commands.h"
#include "config_verb.h"
#include "stages/stage.h"

namespace lr::driver::cli {

void add_diagnose_command(CLI::App& app) {
  add_config_verb(app,
                  {"diagnose",
                   "Diagnostics on the first diagnostics.problems problems of the first eval dataset: stage 1's "
                   "statistics on the expert's greedy rollouts, greedy decoding from the contrastive target, "
                   "overturns vs fixes on the gold solutions; RUN/diagnostics.json",
                   "diagnostics.problems=50"},
                  [](const ExperimentConfig& c) { return run_diagnose_stage(c); });
}

}  // namespace lr::driver::cli
