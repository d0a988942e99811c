// The select/targets family on the CPU: KL and the kappa-filter (select),
// contrastive targets (targets), and both in one pass over each row pair.
// Same file stem as its CUDA form, core/cuda/select_targets.cu. Arguments are already validated by the C ABI layer; these
// functions cannot fail once called (scratch is allocated up front, before
// any output is written).
#pragma once

#include <cstdint>

#include "logits_view.h"

namespace lr::core::cpu {

struct SelectOutputs {
  Strided1D<float> kl;
  Strided1D<uint8_t> keep;  // data == nullptr: not wanted
};

struct TargetOutputs {
  Strided2D<int32_t> ids;
  Strided2D<float> weights;
  Strided1D<int32_t> support_size;
  int64_t k = 0;
};

void select_steps(const LogitsView& expert, const LogitsView& amateur, int64_t shared_vocab,
                  float temperature, float kl_threshold, const SelectOutputs& out);

// rows.data == nullptr: row j of the output is row j of the logits.
void build_targets(const LogitsView& expert, const LogitsView& amateur, Strided1D<const int64_t> rows,
                   int64_t num_rows, int64_t shared_vocab, float temperature, float beta,
                   const TargetOutputs& out);

void select_and_build(const LogitsView& expert, const LogitsView& amateur, int64_t shared_vocab,
                      float temperature, float kl_threshold, float beta, const SelectOutputs& sel,
                      const TargetOutputs& tgt);

}  // namespace lr::core::cpu
