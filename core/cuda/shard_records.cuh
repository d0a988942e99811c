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

// A row's gathered select stats reduced to what decides its support: the
// global raw maxima, and whether the row is a data fault (a NaN / +Inf in
// any shard, or a side with no finite logit anywhere).
struct GatheredMaxima {
  bool fault;
  float e_max, a_max;
};
__device__ __forceinline__ GatheredMaxima gathered_maxima(const GatheredRecords<double>& stats, int64_t row) {
  GatheredMaxima g{false, -INFINITY, -INFINITY};
  for (int64_t w = 0; w < stats.shards; ++w) {
    const double* rec = record_at(stats, w, row);
    g.fault |= rec[SelectStatsField::fault] != 0.0;
    g.e_max = fmaxf(g.e_max, static_cast<float>(rec[SelectStatsField::e_max]));
    g.a_max = fmaxf(g.a_max, static_cast<float>(rec[SelectStatsField::a_max]));
  }
  g.fault |= g.e_max == -INFINITY || g.a_max == -INFINITY;
  return g;
}

// A row's gathered KL statistics merged in shard order, in double (maxima
// in units of z / T): its KL, NaN for a data fault, +Inf where some shard
// saw an amateur -Inf under a finite expert logit (as the unsharded kernel).
__device__ __forceinline__ double gathered_kl(const GatheredRecords<double>& stats, int64_t row, double t) {
  KlStats all{-INFINITY, -INFINITY, 0.0, 0.0, 0.0};
  bool fault = false, amateur_zero = false;
  for (int64_t w = 0; w < stats.shards; ++w) {
    const double* rec = record_at(stats, w, row);
    if (rec[SelectStatsField::fault] != 0.0) {
      fault = true;
      continue;
    }
    const KlStats piece{rec[SelectStatsField::e_max] / t, rec[SelectStatsField::a_max] / t,
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
  for (int64_t w = 0; w < stats.shards; ++w) {
    const double* rec = record_at(stats, w, row);
    g.fault |= rec[LossStatsField::fault] != 0.0;
    g.m = fmaxf(g.m, static_cast<float>(rec[LossStatsField::z_max]));
  }
  if (g.fault || g.m == -INFINITY) return g;
  const double m = double(g.m) / t;
  for (int64_t w = 0; w < stats.shards; ++w) {
    const double* rec = record_at(stats, w, row);
    const double d = rec[LossStatsField::d];
    if (d > 0.0) g.d += d * exp(rec[LossStatsField::z_max] / t - m);
    g.vz += rec[LossStatsField::vz];
  }
  return g;
}

}  // namespace lr::core::cuda
