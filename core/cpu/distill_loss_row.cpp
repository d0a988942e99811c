#include "distill_loss_row.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace lr::core::cpu {
namespace {

constexpr float kInfF = std::numeric_limits<float>::infinity();

void zero_row(void* row, ElemType type, int64_t v) {
  if (row) store_zero_block(row, type, v);
}

}  // namespace

// Pass 1: online max and sum over the blocks; a data fault stops the pass.
SoftmaxStats softmax_stats(const void* row, ElemType type, int64_t v, const LossSettings& settings, float* block) {
  const float inv_t = 1.0f / settings.temperature;
  const double t = settings.temperature;
  float m = -kInfF;
  double d = 0.0;
  for (int64_t off = 0; off < v; off += kBlock) {
    const int64_t n = std::min(kBlock, v - off);
    const BlockLoad ld = load_block(advance(row, type, off), type, n, block);
    if (ld.bad) return {m, d, true};
    if (ld.max == -kInfF) continue;
    const double bd = sum_exp_block(block, n, ld.max, inv_t);
    if (ld.max > m) {
      d = d * std::exp((double(m) - double(ld.max)) / t) + bd;
      m = ld.max;
    } else {
      d += bd * std::exp((double(ld.max) - double(m)) / t);
    }
  }
  return {m, d, false};
}

RowWeight row_weight(const SparseTargets& targets, int64_t i) {
  RowWeight r{false, 0.0};
  for (int64_t j = 0; j < targets.k; ++j) {
    r.has_target |= targets.ids(i, j) >= 0;
    r.w_total += targets.weights(i, j);
  }
  return r;
}

// loss = sum v log v - sum v log q, with log q(a) = (z_a - m) / T - log d.
double target_terms(const void* z, ElemType type, IdRange range, const SparseTargets& targets, int64_t i, float m,
                    double log_d, double w_total, const LossSettings& settings, LossWorkspace& ws) {
  const double t = settings.temperature;
  double loss = 0.0;
  for (int64_t j = 0; j < targets.k; ++j) {
    const int32_t id = targets.ids(i, j);
    const double vj = targets.weights(i, j);
    if (!range.holds(id)) continue;
    const double log_q = (double(load_one(z, type, id - range.offset)) - double(m)) / t - log_d;
    if (vj > 0.0) loss += vj * (std::log(vj) - log_q);
    ws.target_grad[static_cast<size_t>(j)] = settings.grad_coef / t * (w_total * std::exp(log_q) - vj);
  }
  return loss;
}

void write_gradient(const void* z, ElemType type, IdRange range, const SparseTargets& targets, int64_t i, float m,
                    double log_d, double w_total, const LossSettings& settings, void* g, ElemType grad_type,
                    LossWorkspace& ws) {
  const float inv_t = 1.0f / settings.temperature;
  const double t = settings.temperature;
  const float coef = static_cast<float>(settings.grad_coef / t * w_total);
  const float log_d_f = static_cast<float>(log_d);
  float* block = ws.block.data();
  for (int64_t off = 0; off < range.cols; off += kBlock) {
    const int64_t n = std::min(kBlock, range.cols - off);
    load_block(advance(z, type, off), type, n, block);
    store_scaled_softmax_block(block, n, m, inv_t, log_d_f, coef, advance(g, grad_type, off), grad_type);
  }
  for (int64_t j = 0; j < targets.k; ++j) {
    const int32_t id = targets.ids(i, j);
    if (range.holds(id))
      store_one(g, grad_type, id - range.offset, static_cast<float>(ws.target_grad[static_cast<size_t>(j)]));
  }
}

double distill_loss_row(const LogitsView& logits, const SparseTargets& targets, const LossSettings& settings,
                        int64_t i, void* g, ElemType grad_type, LossWorkspace& ws) {
  const IdRange whole{0, logits.cols};
  const void* z = logits.row(i);
  const RowWeight w = row_weight(targets, i);
  if (!w.has_target) {
    zero_row(g, grad_type, whole.cols);
    return 0.0;
  }
  const SoftmaxStats st = softmax_stats(z, logits.type, whole.cols, settings, ws.block.data());
  if (st.bad || !(st.d > 0.0)) {  // a NaN or +Inf, or every entry -Inf
    zero_row(g, grad_type, whole.cols);
    return std::numeric_limits<double>::quiet_NaN();
  }
  const double log_d = std::log(st.d);
  const double loss = target_terms(z, logits.type, whole, targets, i, st.m, log_d, w.w_total, settings, ws);
  if (g) write_gradient(z, logits.type, whole, targets, i, st.m, log_d, w.w_total, settings, g, grad_type, ws);
  return loss;
}

}  // namespace lr::core::cpu
