// lightreasoner train --config FILE [--set key=value ...]: stage 2
// (stages/train_stage.cpp).
#include "commands.h"
#include "config_verb.h"
#include "stages/stage.h"

namespace lr::driver::cli {

void add_train_command(CLI::App& app) {
  add_config_verb(app,
                  {"train",
                   "Stage 2: LoRA on the expert to match RUN/supervision.jsonl's targets; resumable checkpoints in "
                   "RUN/train/, the adapter in PEFT's format in RUN/adapter/",
                   "train.updates=100", true, true},
                  [](const ExperimentConfig& c) { return run_train_stage(c); });
}

}  // namespace lr::driver::cli
