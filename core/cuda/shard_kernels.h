// Host entry points of the vocabulary-sharded CUDA kernels (lightreasoner.h,
// ABI 1.1), one per lr_shard_* call. As in cuda_kernels.h: arguments are
// validated by the C ABI layer; these only enqueue work on `stream` (no
// synchronisation, no cudaMalloc beyond the library's scratch pool) and
// throw DeviceError on a runtime failure. Values the host cannot read
// without a synchronisation (rows indices, target ids and weights) are
// checked on the device and fault only their row, as in 1.0. The CPU
// references: core/cpu/shard_kernels.h.
#pragma once

#include <cstdint>

#include "cuda_kernels.h"
#include "shard_records.h"

namespace lr::core::cuda {

struct ShardSelectStatsJob {
  LogitsView expert, amateur;
  ShardColumns cols;
  float temperature = 1.0f;
  RecordRows<double> stats;
};
void launch_shard_select_stats(const ShardSelectStatsJob& job, void* stream);

struct ShardSelectFinishJob {
  GatheredRecords<double> stats;
  float kl_threshold = 0.0f;
  Strided1D<float> kl{nullptr, 1};
  Strided1D<uint8_t> keep{nullptr, 1};  // data == nullptr: not wanted
};
void launch_shard_select_finish(const ShardSelectFinishJob& job, void* stream);

struct ShardCandidatesJob {
  LogitsView expert, amateur;
  ShardColumns cols;
  GatheredRecords<double> stats;
  Strided1D<const int64_t> rows{nullptr, 1};  // nullptr: all rows; out of range: count -1
  int64_t out_rows = 0;
  float temperature = 1.0f;
  double log_beta = 0.0;
  RecordRows<float> candidates;  // width = candidates_width(K), K <= kMaxTargetSlots
};
void launch_shard_target_candidates(const ShardCandidatesJob& job, void* stream);

struct ShardTargetsFinishJob {
  GatheredRecords<float> candidates;
  float temperature = 1.0f;
  int64_t k = 0;
  Strided2D<int32_t> ids{nullptr, 0, 1};
  Strided2D<float> weights{nullptr, 0, 1};
  Strided1D<int32_t> support_size{nullptr, 1};
};
void launch_shard_targets_finish(const ShardTargetsFinishJob& job, void* stream);

struct ShardLossStatsJob {
  LogitsView logits;
  ShardColumns cols;  // shared_cols = the shard's width
  int64_t k = 0;
  Strided2D<const int32_t> ids{nullptr, 0, 1};
  Strided2D<const float> weights{nullptr, 0, 1};
  float temperature = 1.0f;
  RecordRows<double> stats;
};
void launch_shard_loss_stats(const ShardLossStatsJob& job, void* stream);

// The loss fields (reduction, grad_scale, temperature, outputs, grad) keep
// LossJob's meaning; `logits` is the shard.
struct ShardLossBackwardJob {
  LossJob loss;
  ShardColumns cols;
  GatheredRecords<double> stats;
  int64_t vocab = 0;  // V, the full width (required): target ids outside [-1, V) fault their row
};
void launch_shard_loss_backward(const ShardLossBackwardJob& job, void* stream);

}  // namespace lr::core::cuda
