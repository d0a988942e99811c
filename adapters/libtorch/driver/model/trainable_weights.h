// Every weight of a Qwen2Model by its Hugging Face name, and a way to train
// them all (pretrain/: models trained from scratch).
#pragma once

#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

#include "model/qwen2_model.h"

namespace lr::driver {

// The weights in checkpoint/tiny_model.h's qwen2_parameter_shapes order
// (lm_head.weight last, left out when tied). The tensors are the model's own
// handles: what is done to them in place is done to the model.
std::vector<std::pair<std::string, torch::Tensor>> named_weights(const Qwen2Model& model);

// Gives every weight storage of its own (a contiguous copy: the loaded ones
// may be views into a read-only mapped file) and makes it require grad; returns
// them in named_weights' order, the trainable tensors for train/trainer.h.
// A tied lm_head stays tied (it is the embedding's tensor).
std::vector<torch::Tensor> make_weights_trainable(const Qwen2Model& model);

}  // namespace lr::driver
