// A LoRA adapter's settings (no LibTorch: the PEFT config reader,
// checkpoint/peft_adapter_config.h, is fuzzed without it).
#pragma once

#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "config/defaults.h"

namespace lr::driver {

struct LoraConfig {  // defaults: the config's [lora] (config/defaults.h)
  int64_t r = defaults::lora::r;
  double alpha = defaults::lora::alpha;
  double dropout = defaults::lora::dropout;
  std::vector<std::string> target_modules{std::begin(defaults::lora::target_modules),
                                          std::end(defaults::lora::target_modules)};
  uint64_t seed = 0;  // seeds A's initialisation (its own generator, not the global one)
};

// The module names attach_lora understands, in the model's module order.
inline const std::vector<std::string>& lora_supported_modules() {
  static const std::vector<std::string> names = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                 "gate_proj", "up_proj", "down_proj"};
  return names;
}

}  // namespace lr::driver
