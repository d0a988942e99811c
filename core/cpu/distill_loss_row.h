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

// A row's softmax statistics relative to its max logit m (raw):
// d = sum exp((z - m) / T); m = -Inf and d = 0 when every entry is -Inf.
struct SoftmaxStats {
  float m;
  double d;
  bool bad;  // a NaN or +Inf was seen
};
SoftmaxStats softmax_stats(const void* row, ElemType type, int64_t v, const LossSettings& settings, float* block);

// Whether row i has a target id, and w = the sum of its weights.
struct RowWeight {
  bool has_target;
  double w_total;
};
RowWeight row_weight(const SparseTargets& targets, int64_t i);

// The columns a row's pieces hold: ids [offset, offset + cols). The whole
// row is {0, V}; a vocabulary shard, its own.
struct IdRange {
  int64_t offset;
  int64_t cols;
  bool holds(int64_t id) const { return id >= offset && id < offset + cols; }
};

// With the whole row's m and log d: the loss terms of the target ids in
// `range` (returned), and their gradient, saved in ws.target_grad.
double target_terms(const void* z, ElemType type, IdRange range, const SparseTargets& targets, int64_t i, float m,
                    double log_d, double w_total, const LossSettings& settings, LossWorkspace& ws);

// The gradient of `range`'s columns: coef * w * q block by block (each
// block read before written, so g == z is safe), then the target ids in
// range from ws.target_grad.
void write_gradient(const void* z, ElemType type, IdRange range, const SparseTargets& targets, int64_t i, float m,
                    double log_d, double w_total, const LossSettings& settings, void* g, ElemType grad_type,
                    LossWorkspace& ws);

// Row i's loss (0 without a target id, NaN for a data fault); its gradient
// goes to `g` (nullptr: not wanted), which may be row i of the logits.
double distill_loss_row(const LogitsView& logits, const SparseTargets& targets, const LossSettings& settings,
                        int64_t i, void* g, ElemType grad_type, LossWorkspace& ws);

}  // namespace lr::core::cpu
