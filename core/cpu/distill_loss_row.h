// One row of the distillation loss on the CPU: the softmax statistics in one
// pass, the loss at the target ids, then the gradient written over the row
// (in place included) and at the target ids. distill_loss.cpp runs it over
// the rows; the CUDA form of a row is the loss kernel of
// core/cuda/distill_loss.cu with core/cuda/distill_loss_row.cuh.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "block_kernels.h"
#include "distill_loss.h"

namespace lr::core::cpu {

// Per-thread scratch, allocated before the row loop.
struct LossWorkspace {
  explicit LossWorkspace(int64_t k) : block(kBlock), target_grad(static_cast<size_t>(k)) {}
  std::vector<float> block;
  std::vector<double> target_grad;  // gradient at the target ids, saved before an in-place overwrite
};

// Row i's loss (0 without a target id, NaN for a data fault); its gradient
// goes to `g` (nullptr: not wanted), which may be row i of the logits.
double distill_loss_row(const LogitsView& logits, const SparseTargets& targets, const LossSettings& settings,
                        int64_t i, void* g, ElemType grad_type, LossWorkspace& ws);

}  // namespace lr::core::cpu
