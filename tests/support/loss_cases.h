// The loss suites' cases (tests/test_distill_loss.cpp, tests/test_shard_loss.cpp):
// logits rows of the reference's kinds, target rows of several kinds
// (full, padded, all padding, single id, partial mass, an id of weight 0),
// stored as the library reads them, next to the rows as stored.
#pragma once

#include <lightreasoner/lightreasoner.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "reference/brute_force.h"
#include "support/host_tensor.h"

namespace lrtest {

using lrref::Row;
using lrref::fx::RowKind;

enum class TargetKind { Full, Padded, AllPad, Single, PartialMass, ZeroWeightId };

inline const char* target_kind_name(TargetKind t) {
  switch (t) {
    case TargetKind::Full: return "Full";
    case TargetKind::Padded: return "Padded";
    case TargetKind::AllPad: return "AllPad";
    case TargetKind::Single: return "Single";
    case TargetKind::PartialMass: return "PartialMass";
    case TargetKind::ZeroWeightId: return "ZeroWeightId";
  }
  return "?";
}

// One row of targets: K slots of (id, weight).
inline void make_targets(TargetKind kind, int64_t V, int64_t K, std::mt19937& g, std::vector<int32_t>& ids, Row& w) {
  ids.assign(static_cast<size_t>(K), -1);
  w.assign(static_cast<size_t>(K), 0.0);
  if (kind == TargetKind::AllPad) return;
  std::vector<int32_t> perm(static_cast<size_t>(V));
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), g);
  const int64_t n = std::min(K, V);
  std::uniform_real_distribution<double> u(0.05, 1.0);
  for (int64_t k = 0; k < n; ++k) {
    ids[static_cast<size_t>(k)] = perm[static_cast<size_t>(k)];
    w[static_cast<size_t>(k)] = u(g);
  }
  if (kind == TargetKind::Single)
    for (int64_t k = 1; k < n; ++k) ids[static_cast<size_t>(k)] = -1, w[static_cast<size_t>(k)] = 0;
  if (kind == TargetKind::Padded)  // every third slot from the second on is padding
    for (int64_t k = 1; k < n; k += 3) ids[static_cast<size_t>(k)] = -1, w[static_cast<size_t>(k)] = 0;
  double sum = 0;
  for (double x : w) sum += x;
  const double mass = kind == TargetKind::PartialMass ? 0.6 : 1.0;
  for (double& x : w) x = x / sum * mass;
  if (kind == TargetKind::ZeroWeightId && n > 1) {  // a real id with weight 0
    const double moved = w[0];
    w[0] = 0;
    w[1] += moved;
  }
}

struct LossCase {
  int64_t N = 12, V = 40, K = 6;
  float T = 1.0f, grad_scale = 1.0f;
  lr_reduction red = LR_REDUCTION_NONE;
  int64_t stride_extra = 0;
  bool null_strides = false;
  bool zero_d_loss = false;  // 0-d loss_out for SUM/MEAN (else [1])
  bool grad_null = false;
  bool in_place = false;
  std::vector<RowKind> kinds;       // cycled; empty = random pool
  std::vector<TargetKind> tkinds;   // cycled; empty = random pool
  uint32_t seed = 1;
};

inline const std::vector<RowKind> kLogitPool = {RowKind::Normal, RowKind::Peaked, RowKind::Uniform, RowKind::Huge,
                                         RowKind::NegInfEntries, RowKind::TiesAtMax, RowKind::OneHot};
inline const std::vector<TargetKind> kTargetPool = {TargetKind::Full, TargetKind::Full, TargetKind::Padded,
                                             TargetKind::AllPad, TargetKind::Single, TargetKind::PartialMass,
                                             TargetKind::ZeroWeightId};


struct LossInputs {
  HostTensor z, ids, w;
  std::vector<Row> stored_z;        // as stored
  std::vector<std::vector<int32_t>> id_rows;
  std::vector<Row> w_rows;          // as stored (float)
  std::vector<std::string> names;
};

inline LossInputs make_inputs(Dtype dt, const LossCase& c) {
  std::mt19937 g(c.seed);
  LossInputs in;
  std::vector<Row> z;
  std::vector<std::vector<int32_t>> ids;
  std::vector<Row> w;
  for (int64_t i = 0; i < c.N; ++i) {
    const RowKind rk = c.kinds.empty() ? kLogitPool[std::uniform_int_distribution<size_t>(0, kLogitPool.size() - 1)(g)]
                                       : c.kinds[static_cast<size_t>(i) % c.kinds.size()];
    const TargetKind tk = c.tkinds.empty()
                              ? kTargetPool[std::uniform_int_distribution<size_t>(0, kTargetPool.size() - 1)(g)]
                              : c.tkinds[static_cast<size_t>(i) % c.tkinds.size()];
    z.push_back(lrref::fx::make_row(rk, c.V, g));
    std::vector<int32_t> ri;
    Row rw;
    make_targets(tk, c.V, c.K, g, ri, rw);
    ids.push_back(ri);
    w.push_back(rw);
    in.names.push_back(std::string(lrref::fx::kind_name(rk)) + "/" + target_kind_name(tk));
  }
  in.z = lrref::fx::make_logits(dt, z, c.V, c.stride_extra, c.null_strides);
  in.stored_z = lrref::fx::read_rows(in.z);
  in.ids = HostTensor(Dtype::I32, {c.N, c.K});
  in.w = HostTensor(Dtype::F32, {c.N, c.K});
  for (int64_t i = 0; i < c.N; ++i)
    for (int64_t k = 0; k < c.K; ++k) {
      in.ids.set(i, k, ids[static_cast<size_t>(i)][static_cast<size_t>(k)]);
      in.w.set(i, k, w[static_cast<size_t>(i)][static_cast<size_t>(k)]);
    }
  in.id_rows = ids;
  in.w_rows = lrref::fx::read_rows(in.w);
  return in;
}

}  // namespace lrtest
