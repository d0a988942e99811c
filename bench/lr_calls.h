// Our library's four entry points called on LibTorch-owned CPU storage, with
// outputs the caller allocated. Every call throws std::runtime_error, with
// lr_last_error(), if the library returns anything but LR_OK.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace lrbench {

struct LrTargetsOut {
  at::Tensor ids;      // [N, K] int32
  at::Tensor weights;  // [N, K] float32
  at::Tensor support;  // [N] int32
};
LrTargetsOut alloc_targets(int64_t rows, int64_t k);

// kl [N] float32, keep [N] uint8.
void lr_select(const at::Tensor& expert, const at::Tensor& amateur, float kappa, at::Tensor& kl,
               at::Tensor& keep);

// All rows (rows == NULL); K is out.ids.size(1).
void lr_targets(const at::Tensor& expert, const at::Tensor& amateur, float beta,
                LrTargetsOut& out);

void lr_fused(const at::Tensor& expert, const at::Tensor& amateur, float kappa, float beta,
              at::Tensor& kl, at::Tensor& keep, LrTargetsOut& out);

// MEAN reduction; loss [1] float32; grad [N, V] of the logits' dtype, or the
// logits tensor itself for the in-place form.
void lr_loss(const at::Tensor& logits, const at::Tensor& ids, const at::Tensor& weights,
             at::Tensor& loss, at::Tensor& grad);

}  // namespace lrbench
