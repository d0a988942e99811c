// What the stages and the model-running verbs share: the tokenizer of a
// checkpoint folder, its stop ids, and a device and dtype by name.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/model_config.h"
#include "tokenizer/tokenizer.h"

namespace lr::driver {

// DIR/tokenizer.json (and tokenizer_config.json beside it when present).
Tokenizer tokenizer_in(const std::string& dir);

// Stop ids: generation_config.json's eos ids, else config.json's, else the tokenizer's eos.
std::vector<int64_t> stop_ids_for(const std::string& dir, const Qwen2Config& config, const Tokenizer& tokenizer);

// stop_ids_for plus the tokenizer's <|im_end|> and <|endoftext|> when it has
// them: a base model (Qwen2.5-Math-1.5B lists only <|endoftext|>) answering a
// ChatML prompt ends its turn with <|im_end|>. The Qwen2.5-Math toolkit stops
// at both whatever the model.
std::vector<int64_t> chat_stop_ids_for(const std::string& dir, const Qwen2Config& config, const Tokenizer& tokenizer);

// "cpu", "cuda" or "cuda:N"; a CUDA name without a CUDA device is an error
// naming `what`. "cuda" in a rank of a distributed launch is cuda:LOCAL_RANK.
torch::Device device_from(const std::string& name, const std::string& what);

// "float32" or "bfloat16".
torch::ScalarType dtype_from(const std::string& name);

}  // namespace lr::driver
