// LibTorch composites of LightReasoner's math, computed in double from the
// stored logit values: the independent reference the adapter tests compare
// against. Nothing here calls liblightreasoner.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <cstdint>

namespace lrtorch_test {

// KL(p_E || p_A) over the first S ids, logits divided by T. Double, [N].
inline at::Tensor composite_kl(const at::Tensor& expert, const at::Tensor& amateur, int64_t S, double T) {
  const at::Tensor lpe = torch::log_softmax(expert.narrow(1, 0, S).to(torch::kDouble) / T, 1);
  const at::Tensor lpa = torch::log_softmax(amateur.narrow(1, 0, S).to(torch::kDouble) / T, 1);
  return (lpe.exp() * (lpe - lpa)).sum(1);
}

// Contrastive targets as a dense [M, S] double matrix (0 off the kept support)
// and the support size |M| before truncation ([M], int64).
struct DenseTargets {
  at::Tensor weights;
  at::Tensor support;
};

// Support {a < S : (z_a - z_max) / T >= log beta} (beta-mask); if larger than
// K, the K ids of largest expert logit (topk); weights softmax over the kept
// ids of log p_E - log p_A. rows selects the rows (int64 [M]).
inline DenseTargets composite_targets(const at::Tensor& expert, const at::Tensor& amateur, const at::Tensor& rows,
                                      int64_t S, int64_t K, double beta, double T) {
  const at::Tensor ze = expert.narrow(1, 0, S).to(torch::kDouble).index_select(0, rows);
  const at::Tensor za = amateur.narrow(1, 0, S).to(torch::kDouble).index_select(0, rows);
  const at::Tensor zmax = std::get<0>(ze.max(1, /*keepdim=*/true));
  const at::Tensor mask = (ze - zmax) / T >= std::log(beta);
  const at::Tensor support = mask.sum(1);
  const double neg_inf = -std::numeric_limits<double>::infinity();
  const int64_t kk = std::min(K, S);
  const at::Tensor idx = std::get<1>(ze.masked_fill(~mask, neg_inf).topk(kk, 1));
  const at::Tensor kept = mask.gather(1, idx);
  const at::Tensor c = (torch::log_softmax(ze / T, 1) - torch::log_softmax(za / T, 1)).gather(1, idx);
  const at::Tensor w = torch::softmax(c.masked_fill(~kept, neg_inf), 1);
  at::Tensor dense = torch::zeros_like(ze).scatter(1, idx, w.masked_fill(~kept, 0.0));
  return {dense, support};
}

// Sparse targets (ids int32 [M, K], weights float32 [M, K]) as a dense double [M, V].
inline at::Tensor densify(const at::Tensor& ids, const at::Tensor& weights, int64_t V) {
  const at::Tensor valid = ids >= 0;
  const at::Tensor id = ids.to(torch::kLong).clamp_min(0);
  const at::Tensor w = weights.to(torch::kDouble).masked_fill(~valid, 0.0);
  return torch::zeros({ids.size(0), V}, torch::kDouble).scatter_add(1, id, w);
}

enum class Red { None, Sum, Mean };

// The distillation loss sum_k v log v - sum_k v log_softmax(z / T)[id_k],
// per row, reduced like the library (Mean divides by the rows with an id).
// Differentiable in z (any floating dtype; computed in double).
inline at::Tensor composite_loss(const at::Tensor& z, const at::Tensor& ids, const at::Tensor& weights, Red red,
                                 double T) {
  const at::Tensor valid = ids >= 0;
  const at::Tensor id = ids.to(torch::kLong).clamp_min(0);
  const at::Tensor v = weights.to(torch::kDouble).masked_fill(~valid, 0.0);
  const at::Tensor vlogv = torch::where(v > 0, v * v.log(), torch::zeros_like(v)).sum(1);
  const at::Tensor lq = torch::log_softmax(z.to(torch::kDouble) / T, 1);
  const at::Tensor row = vlogv - (v * lq.gather(1, id)).sum(1);
  switch (red) {
    case Red::None: return row;
    case Red::Sum: return row.sum();
    case Red::Mean: {
      const double counted = static_cast<double>(valid.any(1).sum().item<int64_t>());
      return counted > 0 ? row.sum() / counted : row.sum() * 0.0;
    }
  }
  return row;
}

// max |a - b| in double.
inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  if (a.numel() == 0) return 0.0;
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

// true iff |a - b| <= atol + rtol |b| everywhere (b the reference).
inline bool close(const at::Tensor& a, const at::Tensor& b, double atol, double rtol) {
  const at::Tensor ad = a.to(torch::kDouble), bd = b.to(torch::kDouble);
  return ((ad - bd).abs() <= atol + rtol * bd.abs()).all().item<bool>();
}

}  // namespace lrtorch_test
