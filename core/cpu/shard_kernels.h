// The vocabulary-sharded calls on the CPU (lightreasoner.h, ABI 1.1): the
// partial pass over a shard and the finish over the gathered records, for
// each stage. Arguments are already validated by the C ABI layer (shapes,
// ranges, aliasing; target ids in [-1, V) without repeats); these cannot fail
// once called. Results equal the unsharded kernels of select_targets.h and
// distill_loss.h up to the order of summation. The CUDA forms:
// core/cuda/shard_kernels.h.
#pragma once

#include <cstdint>

#include "distill_loss.h"
#include "logits_view.h"
#include "select_targets.h"
#include "shard_records.h"

namespace lr::core::cpu {

// Stage 1. expert/amateur: the shard's columns (only [0, cols.shared_cols)
// are read). The record is the shard's KlStats (kl_merge.h) as it stands:
// e_max and a_max in units of z / T, so that the finish needs no
// temperature; the candidates recover max z as float(e_max * T), exactly.
void shard_select_stats(const LogitsView& expert, const LogitsView& amateur, const ShardColumns& cols,
                        float temperature, const RecordRows<double>& stats);

void shard_select_finish(const GatheredRecords<double>& stats, float kl_threshold, const SelectOutputs& out);

// rows.data == nullptr: output row j is logits row j.
void shard_target_candidates(const LogitsView& expert, const LogitsView& amateur, const ShardColumns& cols,
                             const GatheredRecords<double>& stats, Strided1D<const int64_t> rows,
                             int64_t num_rows, float temperature, float beta,
                             const RecordRows<float>& candidates);

void shard_targets_finish(const GatheredRecords<float>& candidates, float temperature, const TargetOutputs& out);

// Stage 2. cols.shared_cols = the shard's width; targets carry global ids.
void shard_loss_stats(const LogitsView& logits, const ShardColumns& cols, const SparseTargets& targets,
                      float temperature, const RecordRows<double>& stats);

// Writes per-row losses (NaN for faults, 0 for rows without a target) and
// the gradient of the shard's columns (grad.data == nullptr: not wanted; may
// alias logits exactly). settings.grad_coef = grad_scale / D as for
// distill_loss_backward.
void shard_loss_backward(const LogitsView& logits, const ShardColumns& cols, const SparseTargets& targets,
                         const GatheredRecords<double>& stats, const LossSettings& settings, double* row_loss,
                         const MutLogitsView& grad);

}  // namespace lr::core::cpu
