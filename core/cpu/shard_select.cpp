// Stage 1 of the vocabulary-sharded calls on the CPU: a shard's KL
// statistics (the KlStats of its blocks merged, as select_targets_row.cpp
// merges a whole row's) and the finish that merges the gathered records.
// The record holds KlStats as it is: the maxima in units of z / T
// (e_max = max z_E / T), so the finish needs no temperature.
#include <algorithm>
#include <limits>

#include "block_kernels.h"
#include "kl_merge.h"
#include "select_targets_row.h"
#include "shard_kernels.h"
#include "thread_workspaces.h"

namespace lr::core::cpu {
namespace {

using F = SelectStatsField;

struct Blocks {
  Blocks() : e(kBlock), a(kBlock) {}
  std::vector<float> e, a;
};

// The shard's statistics of one row; false for a data fault.
bool shard_row_stats(const void* e_row, ElemType e_type, const void* a_row, ElemType a_type, int64_t cols,
                     double t, Blocks& b, KlStats& stats) {
  const float inv_t = 1.0f / static_cast<float>(t);
  for (int64_t off = 0; off < cols; off += kBlock) {
    const int64_t n = std::min(kBlock, cols - off);
    const BlockLoad le = load_block(advance(e_row, e_type, off), e_type, n, b.e.data());
    const BlockLoad la = load_block(advance(a_row, a_type, off), a_type, n, b.a.data());
    if (le.bad || la.bad) return false;
    stats.merge(kl_piece(b.e.data(), b.a.data(), n, le.max, la.max, t, inv_t));
  }
  return true;
}

}  // namespace

void shard_select_stats(const LogitsView& expert, const LogitsView& amateur, const ShardColumns& cols,
                        float temperature, const RecordRows<double>& stats) {
  ThreadWorkspaces<Blocks> spaces;
#pragma omp parallel for schedule(dynamic, 1) num_threads(spaces.threads())
  for (int64_t i = 0; i < expert.rows; ++i) {
    KlStats s;
    const bool ok = shard_row_stats(expert.row(i), expert.type, amateur.row(i), amateur.type, cols.shared_cols,
                                    temperature, spaces.local(), s);
    double* r = stats.at(i);
    r[F::e_max] = s.mE;
    r[F::a_max] = s.mA;
    r[F::dE] = s.dE;
    r[F::dA] = s.dA;
    r[F::s] = s.s;
    r[F::fault] = ok ? 0.0 : 1.0;
  }
}

void shard_select_finish(const GatheredRecords<double>& stats, float kl_threshold, const SelectOutputs& out) {
  constexpr double kNegInf = -std::numeric_limits<double>::infinity();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < stats.rows; ++i) {
    KlStats row;
    bool fault = false;
    for (int64_t w = 0; w < stats.shards; ++w) {
      const double* r = stats.at(w, i);
      fault |= r[F::fault] != 0.0;
      KlStats piece;
      piece.mE = r[F::e_max];
      piece.mA = r[F::a_max];
      piece.dE = r[F::dE];
      piece.dA = r[F::dA];
      piece.s = r[F::s];
      if (!fault) row.merge(piece);
    }
    // As the unsharded scan: a side with no finite entry below S is a fault.
    fault |= row.mE == kNegInf || row.mA == kNegInf;
    const float kl_f = static_cast<float>(fault ? std::numeric_limits<double>::quiet_NaN() : row.kl());
    out.kl[i] = kl_f;
    if (out.keep.data) out.keep[i] = kl_f > kl_threshold ? 1 : 0;
  }
}

}  // namespace lr::core::cpu
