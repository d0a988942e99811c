// The rejection-sampling SFT baseline's objective (METHOD.md, "Baseline: rejection-sampling SFT"):
// next-token cross-entropy on every trajectory token, none on the prompt.
//
// A sample is prompt + trajectory ids; the targets are ids[t] for t in
// [loss_start, len), each predicted by the logits at position t - 1. The loss
// of a batch is the mean over all its target tokens (token-weighted, as
// transformers' causal-LM loss with the prompt labelled -100). It goes
// through the LibTorch adapter's loss Function with a one-hot target (K = 1):
// KL(onehot || softmax(z)) = -log softmax(z)[target], gradient softmax(z) -
// onehot, with no extra [N, V] log-softmax tensor kept for backward.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "model/qwen2_model.h"
#include "train/objective.h"

namespace lr::driver {

struct SequenceSample {
  std::vector<int64_t> ids;  // prompt + trajectory
  int64_t loss_start = 1;    // the first target index (the prompt's length); in [1, ids.size())
};

// Target tokens of a sample: ids.size() - loss_start.
int64_t target_tokens(const SequenceSample& sample);

// The mean cross-entropy over every target token of the batch (0-d float32,
// differentiable w.r.t. the LoRA weights). Rows are right-padded (pad id 0,
// attention mask 0); options as objective.h's (one dropout seed per sample;
// the sum is over target tokens). Throws std::invalid_argument for an empty
// batch or a loss_start outside [1, ids.size()).
torch::Tensor sequence_ce_loss(const Qwen2Model& model, const std::vector<SequenceSample>& batch,
                               const ObjectiveOptions& options = {});

}  // namespace lr::driver
