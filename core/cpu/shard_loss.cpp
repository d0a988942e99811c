// Stage 2 of the vocabulary-sharded calls on the CPU: a shard's softmax
// statistics and target terms, and the finish that merges the gathered
// records into the whole row's loss and writes the gradient of the shard's
// columns with the unsharded row code (distill_loss_row.cpp).
//
// With M the row's max logit, D = sum exp((z - M) / T) over the whole row
// and W+ = sum v_k (weights are >= 0):
//   sum_k v_k log q(id_k) = sum_k v_k z_k / T - W+ (M / T + log D),
// so the loss needs only each shard's (max, sum, sum_k v_k z_k / T).
#include <cmath>
#include <limits>

#include "block_kernels.h"
#include "distill_loss_row.h"
#include "shard_kernels.h"
#include "thread_workspaces.h"

namespace lr::core::cpu {
namespace {

using F = LossStatsField;
constexpr double kInfD = std::numeric_limits<double>::infinity();

// sum v_k z_k / T over the row's target ids in the shard with v_k > 0.
double shard_target_sum(const void* z, ElemType type, IdRange range, const SparseTargets& targets, int64_t i,
                        double t) {
  double vz = 0.0;
  for (int64_t j = 0; j < targets.k; ++j) {
    const int32_t id = targets.ids(i, j);
    const double vj = targets.weights(i, j);
    if (range.holds(id) && vj > 0.0) vz += vj * (double(load_one(z, type, id - range.offset)) / t);
  }
  return vz;
}

// The whole row from the gathered records: max M, log D, sum of vz.
struct MergedRow {
  bool fault;
  float m;
  double log_d, vz;
};

MergedRow merge_row(const GatheredRecords<double>& stats, int64_t i, double t) {
  MergedRow row{false, -std::numeric_limits<float>::infinity(), 0.0, 0.0};
  double m = -kInfD;
  for (int64_t w = 0; w < stats.shards; ++w) {
    row.fault |= stats.at(w, i)[F::fault] != 0.0;
    m = std::fmax(m, stats.at(w, i)[F::z_max]);
  }
  double d = 0.0;
  for (int64_t w = 0; w < stats.shards && !row.fault; ++w) {
    const double* r = stats.at(w, i);
    if (r[F::d] > 0.0) d += r[F::d] * std::exp((r[F::z_max] - m) / t);
    row.vz += r[F::vz];
  }
  row.fault |= !(d > 0.0);  // every entry of the row -Inf
  row.m = static_cast<float>(m);  // a float logit: exact
  row.log_d = std::log(d);
  return row;
}

}  // namespace

void shard_loss_stats(const LogitsView& logits, const ShardColumns& cols, const SparseTargets& targets,
                      float temperature, const RecordRows<double>& stats) {
  LossSettings settings;
  settings.temperature = temperature;
  const IdRange range{cols.offset, cols.shared_cols};
  ThreadWorkspaces<LossWorkspace> spaces(targets.k);
#pragma omp parallel for schedule(dynamic, 1) num_threads(spaces.threads())
  for (int64_t i = 0; i < logits.rows; ++i) {
    const void* z = logits.row(i);
    const SoftmaxStats st = softmax_stats(z, logits.type, range.cols, settings, spaces.local().block.data());
    double* r = stats.at(i);
    r[F::z_max] = st.m;
    r[F::d] = st.d;
    r[F::vz] = st.bad ? 0.0 : shard_target_sum(z, logits.type, range, targets, i, temperature);
    r[F::fault] = st.bad ? 1.0 : 0.0;
  }
}

void shard_loss_backward(const LogitsView& logits, const ShardColumns& cols, const SparseTargets& targets,
                         const GatheredRecords<double>& stats, const LossSettings& settings, double* row_loss,
                         const MutLogitsView& grad) {
  const IdRange range{cols.offset, cols.shared_cols};
  const double t = settings.temperature;
  ThreadWorkspaces<LossWorkspace> spaces(targets.k);
#pragma omp parallel for schedule(dynamic, 1) num_threads(spaces.threads())
  for (int64_t i = 0; i < logits.rows; ++i) {
    void* g = grad.data ? grad.row(i) : nullptr;
    const RowWeight w = row_weight(targets, i);
    const MergedRow row = w.has_target ? merge_row(stats, i, t) : MergedRow{};
    if (!w.has_target || row.fault) {
      if (g) store_zero_block(g, grad.type, range.cols);
      row_loss[i] = w.has_target ? std::numeric_limits<double>::quiet_NaN() : 0.0;
      continue;
    }
    double v_log_v = 0.0, w_pos = 0.0;
    for (int64_t j = 0; j < targets.k; ++j) {
      const double vj = targets.weights(i, j);
      if (targets.ids(i, j) >= 0 && vj > 0.0) {
        v_log_v += vj * std::log(vj);
        w_pos += vj;
      }
    }
    row_loss[i] = v_log_v - (row.vz - w_pos * (double(row.m) / t + row.log_d));
    if (!g) continue;
    LossWorkspace& ws = spaces.local();
    target_terms(logits.row(i), logits.type, range, targets, i, row.m, row.log_d, w.w_total, settings, ws);
    write_gradient(logits.row(i), logits.type, range, targets, i, row.m, row.log_d, w.w_total, settings, g,
                   grad.type, ws);
  }
}

}  // namespace lr::core::cpu
