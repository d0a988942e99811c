// The baseline: LightReasoner's math written with LibTorch CPU tensor ops, the
// way a PyTorch user would write it (whole-row log_softmax, masks, topk,
// scatter). Compute is float32 whatever the logits' dtype: bf16/fp16 logits are
// converted to float first. Temperature 1 and the full vocabulary are shared by
// both models (shared_vocab = V), as in the benchmarks.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace lrbench {

struct TorchSelect {
  at::Tensor kl;    // [N] float32
  at::Tensor keep;  // [N] bool
};

struct TorchTargets {
  at::Tensor ids;      // [N, K] int32, -1 = padding
  at::Tensor weights;  // [N, K] float32, 0 = padding, descending
  at::Tensor support;  // [N] int32, |M| before truncation
};

struct TorchFused {
  TorchSelect select;
  TorchTargets targets;  // rows not kept are padding, support 0
};

struct TorchLoss {
  at::Tensor loss;  // 0-d float32, MEAN over counted rows
  at::Tensor grad;  // [N, V], the logits' dtype
};

// kl = sum p_E (log p_E - log p_A); keep = kl > kappa.
TorchSelect torch_select(const at::Tensor& expert, const at::Tensor& amateur, float kappa);

// Support M = {a : z_E(a) >= max z_E + log beta}; the K largest-p_E members of
// M via topk of the masked expert log-probs; weights = softmax over them of
// log p_E - log p_A; sorted by descending weight.
TorchTargets torch_targets(const at::Tensor& expert, const at::Tensor& amateur, int64_t k,
                           float beta);

// Both of the above sharing the two log_softmaxes; targets only for kept rows.
TorchFused torch_select_and_build(const at::Tensor& expert, const at::Tensor& amateur,
                                  float kappa, int64_t k, float beta);

// loss = mean_i [sum v log v - sum v log_softmax(z)[ids]], grad = (softmax(z) - v) / D.
TorchLoss torch_loss_backward(const at::Tensor& logits, const at::Tensor& ids,
                              const at::Tensor& weights);

// As above, the gradient overwriting the logits; returns the loss.
at::Tensor torch_loss_backward_inplace(at::Tensor& logits, const at::Tensor& ids,
                                       const at::Tensor& weights);

}  // namespace lrbench
