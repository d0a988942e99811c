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

// Pass 1: softmax statistics of the row relative to its max logit m:
// d = sum exp((x - m) / T). Returns false for a data fault.
bool row_softmax_stats(const void* row, ElemType type, int64_t v, float inv_t, double t, float* block,
                       float* m_out, double* d_out) {
  float m = -kInfF;
  double d = 0.0;
  for (int64_t off = 0; off < v; off += kBlock) {
    const int64_t n = std::min(kBlock, v - off);
    const BlockLoad ld = load_block(advance(row, type, off), type, n, block);
    if (ld.bad) return false;
    if (ld.max == -kInfF) continue;
    const double bd = sum_exp_block(block, n, ld.max, inv_t);
    if (ld.max > m) {
      d = d * std::exp((double(m) - double(ld.max)) / t) + bd;
      m = ld.max;
    } else {
      d += bd * std::exp((double(ld.max) - double(m)) / t);
    }
  }
  if (!(d > 0.0)) return false;  // every entry -Inf
  *m_out = m;
  *d_out = d;
  return true;
}

// loss = sum v log v - sum v log q, with log q(a) = (z_a - m) / T - log d;
// the gradient at each target id goes to ws.target_grad.
double target_terms(const void* z, ElemType type, const SparseTargets& targets, int64_t i, float m, double log_d,
                    double w_total, const LossSettings& settings, LossWorkspace& ws) {
  const double t = settings.temperature;
  double loss = 0.0;
  for (int64_t j = 0; j < targets.k; ++j) {
    const int32_t id = targets.ids(i, j);
    const double vj = targets.weights(i, j);
    if (id < 0) continue;
    const double log_q = (double(load_one(z, type, id)) - double(m)) / t - log_d;
    if (vj > 0.0) loss += vj * (std::log(vj) - log_q);
    ws.target_grad[static_cast<size_t>(j)] = settings.grad_coef / t * (w_total * std::exp(log_q) - vj);
  }
  return loss;
}

// Pass 2: the dense part coef * w * q, block by block (reads each block
// before writing it, so g == z is safe), then the target ids.
void write_gradient(const void* z, ElemType type, int64_t v, const SparseTargets& targets, int64_t i, float m,
                    double log_d, double w_total, const LossSettings& settings, void* g, ElemType grad_type,
                    LossWorkspace& ws) {
  const float inv_t = 1.0f / settings.temperature;
  const double t = settings.temperature;
  const float coef = static_cast<float>(settings.grad_coef / t * w_total);
  const float log_d_f = static_cast<float>(log_d);
  float* block = ws.block.data();
  for (int64_t off = 0; off < v; off += kBlock) {
    const int64_t n = std::min(kBlock, v - off);
    load_block(advance(z, type, off), type, n, block);
    store_scaled_softmax_block(block, n, m, inv_t, log_d_f, coef, advance(g, grad_type, off), grad_type);
  }
  for (int64_t j = 0; j < targets.k; ++j) {
    const int32_t id = targets.ids(i, j);
    if (id >= 0) store_one(g, grad_type, id, static_cast<float>(ws.target_grad[static_cast<size_t>(j)]));
  }
}

}  // namespace

double distill_loss_row(const LogitsView& logits, const SparseTargets& targets, const LossSettings& settings,
                        int64_t i, void* g, ElemType grad_type, LossWorkspace& ws) {
  const int64_t v = logits.cols;
  const float inv_t = 1.0f / settings.temperature;
  const double t = settings.temperature;
  const void* z = logits.row(i);

  double w_total = 0.0;
  bool has_target = false;
  for (int64_t j = 0; j < targets.k; ++j) {
    has_target |= targets.ids(i, j) >= 0;
    w_total += targets.weights(i, j);
  }
  if (!has_target) {
    zero_row(g, grad_type, v);
    return 0.0;
  }
  float m = 0.0f;
  double d = 0.0;
  if (!row_softmax_stats(z, logits.type, v, inv_t, t, ws.block.data(), &m, &d)) {
    zero_row(g, grad_type, v);
    return std::numeric_limits<double>::quiet_NaN();
  }
  const double log_d = std::log(d);
  const double loss = target_terms(z, logits.type, targets, i, m, log_d, w_total, settings, ws);
  if (g) write_gradient(z, logits.type, v, targets, i, m, log_d, w_total, settings, g, grad_type, ws);
  return loss;
}

}  // namespace lr::core::cpu
