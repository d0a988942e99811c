// The per-row records of the vocabulary-sharded calls (lightreasoner.h, ABI
// 1.1, lr_shard_*), the views the kernels read and write them through, and
// where a shard lies. One home for both devices: core/cpu/shard_kernels.h and
// core/cuda/shard_kernels.h take these types. Field order is the ABI's
// documented record layout: never reorder.
#pragma once

#include <cstdint>

#include "logits_view.h"

namespace lr::core {

// float64 record of lr_shard_select_stats (LR_SHARD_SELECT_STATS).
struct SelectStatsField {
  enum : int64_t { e_max = 0, a_max, dE, dA, s, fault, width };
};
// float64 record of lr_shard_loss_stats (LR_SHARD_LOSS_STATS).
struct LossStatsField {
  enum : int64_t { z_max = 0, d, vz, fault, width };
};
// float32 record of lr_shard_target_candidates: [count, (id, z_e, z_a) x K].
inline constexpr int64_t candidates_width(int64_t k) { return 1 + 3 * k; }
inline constexpr int64_t candidates_k(int64_t width) { return (width - 1) / 3; }
// Ids travel as float32 values: exact up to 2^24.
constexpr int64_t kMaxShardedSharedVocab = int64_t{1} << 24;

#ifdef __CUDACC__
#define LR_HOST_DEVICE __host__ __device__
#else
#define LR_HOST_DEVICE
#endif

// Whether a gathered candidates record (K slots) is one that
// lr_shard_target_candidates can have written: count -1 (the row's data
// fault), or an integer in [0, 2^24] whose first min(count, K) slots hold an
// integer id in [0, 2^24), a finite expert logit and an amateur logit that
// is finite or -Inf, the other slots id -1. A finish faults a row with any
// other record (support -1) and never converts its numbers: they may be
// anything the host's buffer held. Comparisons only, so NaN fails each test.
LR_HOST_DEVICE inline bool candidates_record_valid(const float* r, int64_t k) {
  constexpr float kLimit = float(kMaxShardedSharedVocab), kMaxFinite = 3.40282347e38f;
  const float count = r[0];
  if (count == -1.0f) return true;
  if (!(count >= 0.0f && count <= kLimit) || count != float(int64_t(count))) return false;
  const int64_t listed = int64_t(count) < k ? int64_t(count) : k;
  for (int64_t s = 0; s < k; ++s) {
    const float id = r[1 + 3 * s], z_e = r[2 + 3 * s], z_a = r[3 + 3 * s];
    if (s >= listed) {
      if (id != -1.0f) return false;
      continue;
    }
    if (!(id >= 0.0f && id < kLimit) || id != float(int64_t(id))) return false;
    if (!(z_e >= -kMaxFinite && z_e <= kMaxFinite) || !(z_a <= kMaxFinite)) return false;
  }
  return true;
}

// Where a validated shard lies. Columns [0, shared_cols) of the shard are the
// global ids [offset, offset + shared_cols), all below S (stage 1) or V (loss).
struct ShardColumns {
  int64_t offset = 0;
  int64_t shared_cols = 0;
};

// [rows, width] records one call writes: unit stride along the record.
template <class T>
struct RecordRows {
  T* data = nullptr;
  int64_t rows = 0;
  int64_t width = 0;
  int64_t row_stride = 0;  // elements
  T* at(int64_t r) const { return data + r * row_stride; }
};

// [shards, rows, width] gathered records a finish call reads: unit stride
// along the record, any other strides.
template <class T>
struct GatheredRecords {
  const T* data = nullptr;
  int64_t shards = 0;
  int64_t rows = 0;
  int64_t width = 0;
  int64_t shard_stride = 0;  // elements
  int64_t row_stride = 0;    // elements
  const T* at(int64_t w, int64_t r) const { return data + w * shard_stride + r * row_stride; }
};

}  // namespace lr::core
