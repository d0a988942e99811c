// lightreasoner pretrain --config FILE [--set key=value ...]: the miniature's
// models trained from scratch (models.pretrain; stages/pretrained_models.cpp).
// `run` does the same first.
#include <iostream>
#include <stdexcept>

#include "commands.h"
#include "config_verb.h"
#include "stages/pretrained_models.h"
#include "stages/stage.h"

namespace lr::driver::cli {

void add_pretrain_command(CLI::App& app) {
  add_config_verb(app,
                  {"pretrain",
                   "Train the expert, the amateur and expert-general from scratch on the synthetic task "
                   "(models.pretrain = true; [pretrain]); resumable, complete models skipped",
                   "pretrain.chain_steps=800"},
                  [](const ExperimentConfig& c) {
                    if (!c.models.pretrain)
                      throw std::runtime_error(c.source + ": models.pretrain is false: nothing to pretrain");
                    return ensure_pretrained_models(c);
                  });
}

}  // namespace lr::driver::cli
