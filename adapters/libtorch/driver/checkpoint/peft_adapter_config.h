// A PEFT LoRA adapter's adapter_config.json (what `PeftModel.from_pretrained`
// reads beside adapter_model.safetensors; train/peft_export.h has the rest):
// written from a LoraConfig, and read back with every field checked, since a
// downloaded adapter is a stranger's file. No LibTorch (fuzzed, fuzz/).
#pragma once

#include <string>

#include "train/lora_config.h"

namespace lr::driver {

inline constexpr const char* kPeftConfigFile = "adapter_config.json";
inline constexpr const char* kPeftWeightsFile = "adapter_model.safetensors";

// The JSON text PEFT writes for `config` (its other fields at PEFT's defaults).
std::string peft_adapter_config_json(const LoraConfig& config, const std::string& base_model_name_or_path);

// The LoraConfig (seed 0) of the file at PATH. Throws CheckpointError naming
// PATH and the field for a file that is not JSON, not a LoRA adapter, or
// holds what the loader does not implement (a regex for target_modules, bias,
// fan_in_fan_out, DoRA, rsLoRA) or cannot use: r not an integer in
// [1, defaults::lora::max_r], lora_alpha not a finite number > 0,
// lora_dropout not in [0, 1), target_modules empty, repeated or naming a
// module lora_supported_modules() does not list.
LoraConfig read_adapter_config(const std::string& path);

}  // namespace lr::driver
