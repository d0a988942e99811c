// models.pretrain = true (pretrained_models.cpp): the miniature's models
// trained from scratch on the synthetic task (pretrain/README.md): a small
// BPE (pretrain.vocab, RUN/models/pretrain-tokenizer), the amateur at
// models.amateur (the general mix), the expert at models.expert (the general
// mix, then the chains) and RUN/models/expert-general (the expert after the
// general mix). Each unless already there with the same settings (a folder
// made with other settings is an error naming it); each appears whole;
// resumable (RUN/models/.pretrain/). `pretrain` calls it, and `run` through
// prepare_models (stage.h).
#pragma once

#include "config/experiment_config.h"

namespace lr::driver {

// Returns 0, or kExitInterrupted (stage.h) after a Ctrl-C. Does nothing when
// models.pretrain is false.
int ensure_pretrained_models(const ExperimentConfig& config);

}  // namespace lr::driver
