// The merged full weights, for a plain Hugging Face checkpoint of the trained
// model (train.export_merged): each LoRA-wrapped Linear's weight becomes
// W + (alpha / r) B A, every other tensor is the base's.
#pragma once

#include <torch/types.h>

#include <map>
#include <string>

#include "model/qwen2_model.h"

namespace lr::driver {

// The model's weights under their Hugging Face names (model.embed_tokens.weight,
// model.layers.{i}..., model.norm.weight, lm_head.weight unless tied), in the
// model's dtype, each LoRA-wrapped Linear's weight merged (computed in
// float32, cast to the weight's dtype). The model is not changed.
std::map<std::string, torch::Tensor> merged_state_dict(const Qwen2Model& model);

// DIR/config.json (the model's config) and DIR/model.safetensors (merged_state_dict).
void save_merged_model(const std::string& dir, const Qwen2Model& model);

// train.export_merged: a checkpoint folder at dir that Qwen2Model::load and
// transformers read like the base at base_dir: model.safetensors holds every
// tensor of the base under its name, shape and dtype, the adapted modules'
// weights merged (base weight in float32 + the adapter's delta, cast back), the
// rest copied; config.json, generation_config.json and the tokenizer files
// (tokenizer.json, tokenizer_config.json, vocab.json, merges.txt,
// special_tokens_map.json, added_tokens.json) are copied where the base has
// them. Each file is written atomically. The model must carry LoRA adapters
// and be the base's architecture. Throws std::invalid_argument (no adapters)
// or CheckpointError (a base file, or a tensor to merge missing or of another shape).
void export_merged_checkpoint(const std::string& dir, const Qwen2Model& model, const std::string& base_dir);

}  // namespace lr::driver
