// Device reads of the sharded calls' records (core/shard_records.h): a
// record by index (the views' at() is host code), and the merges a partial
// or finish kernel makes of one row's gathered records. Every thread of a
// block may call these for the same row: W is small and the reads broadcast.
#pragma once

#include <cstdint>

#include "block_reduce.cuh"
#include "shard_records.h"

namespace lr::core::cuda {

template <class T>
__device__ __forceinline__ T* record_at(const RecordRows<T>& r, int64_t row) {
  return r.data + row * r.row_stride;
}
template <class T>
__device__ __forceinline__ const T* record_at(const GatheredRecords<T>& g, int64_t shard, int64_t row) {
  return g.data + shard * g.shard_stride + row * g.row_stride;
}

// A row's gathered select stats reduced to what decides its support:
// whether the row is a data fault (a NaN / +Inf in any shard, or a side
// with no finite logit anywhere), else the global expert maximum as the raw
// logit. The records hold max z / T; z is a float, so rounding the product
// back to float recovers it exactly (as on the CPU).
struct GatheredMax {
  bool fault;
  float z_max;
};
__device__ __forceinline__ GatheredMax gathered_expert_max(const GatheredRecords<double>& stats, int64_t row,
                                                           double t) {
  bool fault = false;
  double e_max = -INFINITY, a_max = -INFINITY;
  for (int64_t w = 0; w < stats.shards; ++w) {
    const double* rec = record_at(stats, w, row);
    fault |= rec[SelectStatsField::fault] != 0.0;
    e_max = fmax(e_max, rec[SelectStatsField::e_max]);
    a_max = fmax(a_max, rec[SelectStatsField::a_max]);
  }
  if (fault || e_max == -INFINITY || a_max == -INFINITY) return {true, 0.0f};
  return {false, static_cast<float>(e_max * t)};
}

// A row's gathered KL statistics (KlStats as they are: maxima in units of
// z / T) merged in shard order, in double: its KL, NaN for a data fault,
// +Inf where some shard saw an amateur -Inf under a finite expert logit (as
// the unsharded kernel decides it).
__device__ __forceinline__ double gathered_kl(const GatheredRecords<double>& stats, int64_t row) {
  KlStats all{-INFINITY, -INFINITY, 0.0, 0.0, 0.0};
  bool fault = false, amateur_zero = false;
  for (int64_t w = 0; w < stats.shards; ++w) {
    const double* rec = record_at(stats, w, row);
    if (rec[SelectStatsField::fault] != 0.0) {
      fault = true;
      continue;
    }
    const KlStats piece{rec[SelectStatsField::e_max], rec[SelectStatsField::a_max],
                        rec[SelectStatsField::dE], rec[SelectStatsField::dA], rec[SelectStatsField::s]};
    amateur_zero |= piece.s == INFINITY;
    all = merge(all, piece);
  }
  if (fault || all.mE == -INFINITY || all.mA == -INFINITY) return NAN;
  return amateur_zero ? INFINITY : kl_of(all);
}

// A row's gathered loss stats merged: the global raw maximum m, the softmax
// denominator d relative to m / T, the sum of v_k z_k / T over all target
// ids, and whether some shard saw a NaN / +Inf.
struct GatheredLoss {
  bool fault;
  float m;
  double d, vz;
};
__device__ __forceinline__ GatheredLoss gathered_loss(const GatheredRecords<double>& stats, int64_t row, double t) {
  GatheredLoss g{false, -INFINITY, 0.0, 0.0};
  double m = -INFINITY;
  for (int64_t w = 0; w < stats.shards; ++w) {
    const double* rec = record_at(stats, w, row);
    g.fault |= rec[LossStatsField::fault] != 0.0;
    m = fmax(m, rec[LossStatsField::z_max]);
  }
  g.m = static_cast<float>(m);  // a float logit: exact
  if (g.fault || m == -INFINITY) return g;
  for (int64_t w = 0; w < stats.shards; ++w) {
    const double* rec = record_at(stats, w, row);
    const double d = rec[LossStatsField::d];
    if (d > 0.0) g.d += d * exp((rec[LossStatsField::z_max] - m) / t);
    g.vz += rec[LossStatsField::vz];
  }
  return g;
}

}  // namespace lr::core::cuda
