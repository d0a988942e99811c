// The settings that LightReasoner's training and the SFT baseline share (the
// paper compares them with the same adapter and optimiser): the LoRA of
// [lora], and AdamW, gradient clipping, checkpoint interval and the shuffling
// seed from [train] and run.seed, and the process's place in a data-parallel
// group (distributed/process_group.h: rank, world size, the gradients'
// all-reduce). Each stage then sets its own learning rate, batch and length.
#pragma once

#include "config/experiment_config.h"
#include "train/lora.h"
#include "train/trainer.h"

namespace lr::driver {

LoraConfig lora_config(const ExperimentConfig& c);

TrainOptions shared_train_options(const ExperimentConfig& c);

}  // namespace lr::driver
