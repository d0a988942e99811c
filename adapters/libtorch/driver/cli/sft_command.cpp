// lightreasoner sft --config FILE [--set key=value ...]: the rejection-sampling
// SFT baseline (stages/sft_stage.cpp).
#include "commands.h"
#include "config_verb.h"
#include "stages/stage.h"

namespace lr::driver::cli {

void add_sft_command(CLI::App& app) {
  add_config_verb(app,
                  {"sft",
                   "The SFT baseline: expert trajectories on training problems, the correct ones kept, LoRA with "
                   "cross-entropy on their tokens; RUN/sft/ (resumable)",
                   "sft.num_problems=200", true, true},
                  [](const ExperimentConfig& c) { return run_sft_stage(c); });
}

}  // namespace lr::driver::cli
