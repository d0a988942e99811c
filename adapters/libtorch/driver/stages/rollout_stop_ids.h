// The stop ids of the expert's rollouts in stage 1 and in the diagnostics:
// sample.stop_ids, else the expert's eos ids plus the ChatML ones
// (runtime/model_loading.h's chat_stop_ids_for), so both stop where eval and
// sft do.
#pragma once

#include <cstdint>
#include <vector>

#include "config/experiment_config.h"
#include "runtime/model_loading.h"

namespace lr::driver {

inline std::vector<int64_t> rollout_stop_ids(const ExperimentConfig& c, const Qwen2Config& expert,
                                             const Tokenizer& tokenizer) {
  return c.sample.stop_ids.empty() ? chat_stop_ids_for(c.models.expert, expert, tokenizer) : c.sample.stop_ids;
}

}  // namespace lr::driver
