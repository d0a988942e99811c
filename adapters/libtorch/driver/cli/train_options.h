// The trainer settings that LightReasoner's training and the SFT baseline
// share (the paper compares them with the same optimiser): AdamW, gradient
// clipping, checkpoint interval and the shuffling seed, from [train] and
// run.seed. Each stage then sets its own learning rate, batch and length.
#pragma once

#include "config/experiment_config.h"
#include "train/trainer.h"

namespace lr::driver::cli {

TrainOptions shared_train_options(const ExperimentConfig& c);

}  // namespace lr::driver::cli
