// The loss family on the CPU: the distillation loss KL(v || softmax(z / T))
// per row and its gradient with respect to z, optionally written over z
// itself, one row at a time (distill_loss_row.h). Same file stem as its CUDA
// form, core/cuda/distill_loss.cu.
#pragma once

#include <cstdint>

#include "logits_view.h"

namespace lr::core::cpu {

struct SparseTargets {
  Strided2D<const int32_t> ids;      // -1 = padding; validated: in [-1, V), no repeats
  Strided2D<const float> weights;    // validated: finite, >= 0, 0 at padding
  int64_t k = 0;
};

struct LossSettings {
  float temperature = 1.0f;
  // gradient multiplier applied to (w q - v) / T: grad_scale / D
  double grad_coef = 1.0;
};

// Writes per-row losses (NaN for data faults) into row_loss[0, N), and the
// gradient into grad (grad.data == nullptr: not wanted; grad may alias logits
// exactly). Rows with no target id get loss 0 and gradient 0.
void distill_loss_backward(const LogitsView& logits, const SparseTargets& targets,
                           const LossSettings& settings, double* row_loss, const MutLogitsView& grad);

}  // namespace lr::core::cpu
