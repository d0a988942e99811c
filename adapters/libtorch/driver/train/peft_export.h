// The adapter in PEFT's format (what `PeftModel.from_pretrained` reads).
// The merged full weights are merged_export.h's.
//
//   DIR/adapter_config.json        peft_type "LORA", task_type "CAUSAL_LM", r,
//                                  lora_alpha, lora_dropout, target_modules,
//                                  bias "none", fan_in_fan_out false, ...
//   DIR/adapter_model.safetensors  base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight [r, in]
//                                  base_model.model.model.layers.{i}.self_attn.q_proj.lora_B.weight [out, r]
//                                  (mlp modules under .mlp.; float32; metadata format "pt")
// PEFT saves the keys without the adapter name ("default"), as here.
#pragma once

#include <torch/types.h>

#include <string>

#include "model/qwen2_model.h"
#include "checkpoint/peft_adapter_config.h"  // the config file (read_adapter_config)
#include "train/lora.h"

namespace lr::driver {

// The PEFT key of an adapter matrix: peft_key("model.layers.0.self_attn.q_proj", "lora_A")
// = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight".
std::string peft_key(const std::string& module_path, const std::string& matrix);

// Writes both files into `dir` (created if needed; each file written atomically).
// The model must carry LoRA adapters (attach_lora). Throws std::invalid_argument
// when it has none, CheckpointError on I/O faults.
void save_peft_adapter(const std::string& dir, const Qwen2Model& model, const LoraConfig& config,
                       const std::string& base_model_name_or_path);

// Reads DIR/adapter_config.json and DIR/adapter_model.safetensors into the
// model: attaches LoRA with the file's config when the model has no adapters,
// else requires the attached ones to match (modules and r), then copies A and
// B. Every adapter must be in the file and every file key must name an adapter,
// with the right shapes. Returns the config read (seed 0). Throws
// CheckpointError (files, config fields, keys, shapes).
LoraConfig load_peft_adapter(const std::string& dir, Qwen2Model& model);

}  // namespace lr::driver
