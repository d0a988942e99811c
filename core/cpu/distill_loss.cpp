#include "distill_loss.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "block_kernels.h"
#include "thread_workspaces.h"

namespace lr::core::cpu {
namespace {

constexpr float kInfF = std::numeric_limits<float>::infinity();

const void* advance(const void* row, ElemType type, int64_t elements) {
  return static_cast<const char*>(row) + elements * elem_bytes(type);
}
void* advance(void* row, ElemType type, int64_t elements) {
  return static_cast<char*>(row) + elements * elem_bytes(type);
}

struct LossWorkspace {
  explicit LossWorkspace(int64_t k) : block(kBlock), target_grad(static_cast<size_t>(k)) {}
  std::vector<float> block;
  std::vector<double> target_grad;  // gradient at the target ids, saved before an in-place overwrite
};

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

}  // namespace

void distill_loss_backward(const LogitsView& logits, const SparseTargets& targets,
                           const LossSettings& settings, double* row_loss, const MutLogitsView& grad) {
  ThreadWorkspaces<LossWorkspace> spaces(targets.k);
  const int64_t n_rows = logits.rows, v = logits.cols, k = targets.k;
  const float inv_t = 1.0f / settings.temperature;
  const double t = settings.temperature;
  const double nan = std::numeric_limits<double>::quiet_NaN();

#pragma omp parallel for schedule(dynamic, 1) num_threads(spaces.threads())
  for (int64_t i = 0; i < n_rows; ++i) {
    LossWorkspace& ws = spaces.local();
    const void* z = logits.row(i);
    void* g = grad.data ? grad.row(i) : nullptr;

    double w_total = 0.0;
    bool has_target = false;
    for (int64_t j = 0; j < k; ++j) {
      has_target |= targets.ids(i, j) >= 0;
      w_total += targets.weights(i, j);
    }
    if (!has_target) {
      row_loss[i] = 0.0;
      zero_row(g, grad.type, v);
      continue;
    }
    float m = 0.0f;
    double d = 0.0;
    if (!row_softmax_stats(z, logits.type, v, inv_t, t, ws.block.data(), &m, &d)) {
      row_loss[i] = nan;
      zero_row(g, grad.type, v);
      continue;
    }
    const double log_d = std::log(d);
    // loss = sum v log v - sum v log q, with log q(a) = (z_a - m) / T - log d.
    double loss = 0.0;
    for (int64_t j = 0; j < k; ++j) {
      const int32_t id = targets.ids(i, j);
      const double vj = targets.weights(i, j);
      if (id < 0) continue;
      const double log_q = (double(load_one(z, logits.type, id)) - double(m)) / t - log_d;
      if (vj > 0.0) loss += vj * (std::log(vj) - log_q);
      ws.target_grad[static_cast<size_t>(j)] = settings.grad_coef / t * (w_total * std::exp(log_q) - vj);
    }
    row_loss[i] = loss;
    if (!g) continue;
    // Pass 2: the dense part coef * w * q, block by block (reads each block
    // before writing it, so g == z is safe), then the target ids.
    const float coef = static_cast<float>(settings.grad_coef / t * w_total);
    const float log_d_f = static_cast<float>(log_d);
    float* block = ws.block.data();
    for (int64_t off = 0; off < v; off += kBlock) {
      const int64_t n = std::min(kBlock, v - off);
      load_block(advance(z, logits.type, off), logits.type, n, block);
      store_scaled_softmax_block(block, n, m, inv_t, log_d_f, coef, advance(g, grad.type, off), grad.type);
    }
    for (int64_t j = 0; j < k; ++j) {
      const int32_t id = targets.ids(i, j);
      if (id >= 0) store_one(g, grad.type, id, static_cast<float>(ws.target_grad[static_cast<size_t>(j)]));
    }
  }
}

}  // namespace lr::core::cpu
