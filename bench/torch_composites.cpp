#include "torch_composites.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

namespace lrbench {
namespace {

at::Tensor as_float(const at::Tensor& t) {
  return t.scalar_type() == at::kFloat ? t : t.to(at::kFloat);
}

at::Tensor kl_from_logprobs(const at::Tensor& lp_e, const at::Tensor& lp_a) {
  return (lp_e.exp() * (lp_e - lp_a)).sum(-1);
}

TorchTargets targets_from_logprobs(const at::Tensor& z_e, const at::Tensor& lp_e,
                                   const at::Tensor& lp_a, int64_t k, float beta) {
  const double neg_inf = -std::numeric_limits<double>::infinity();
  // The beta-mask on the logits: z - max z >= log beta  <=>  p >= beta * max p
  // (the difference is exact in float for bf16/fp16 logits).
  const at::Tensor z_max = std::get<0>(z_e.max(-1, /*keepdim=*/true));
  const at::Tensor mask = (z_e - z_max) >= std::log(static_cast<double>(beta));
  const at::Tensor not_mask = mask.logical_not();
  const at::Tensor support = mask.sum(-1).to(at::kInt);
  const at::Tensor scores = (lp_e - lp_a).masked_fill_(not_mask, neg_inf);
  // Candidates: the K members of M with the largest p_E, ties to the lower id
  // (bf16 logits tie often). topk does not order ties, so take a wider pool,
  // order it by id, then stably by logit, and keep the first K. Padding
  // candidates (|M| < K) carry -inf and get weight 0 below.
  const int64_t pool = std::min<int64_t>(z_e.size(-1), std::max<int64_t>(k, 64));
  const at::Tensor masked_z = z_e.masked_fill(not_mask, neg_inf);
  at::Tensor pool_z, pool_ids, perm;
  std::tie(pool_z, pool_ids) = masked_z.topk(pool, -1, /*largest=*/true, /*sorted=*/false);
  std::tie(pool_ids, perm) = pool_ids.sort(-1);
  pool_z = pool_z.gather(-1, perm);
  perm = std::get<1>(pool_z.sort(/*stable=*/true, -1, /*descending=*/true));
  at::Tensor cand_ids = pool_ids.gather(-1, perm.narrow(-1, 0, k));
  // Weights: softmax of the scores over the candidates, in descending weight
  // order with ties to the lower id (candidates by id first, then a stable sort).
  std::tie(cand_ids, perm) = cand_ids.sort(-1);
  const at::Tensor w = scores.gather(-1, cand_ids).softmax(-1);
  at::Tensor w_sorted, order;
  std::tie(w_sorted, order) = w.sort(/*stable=*/true, -1, /*descending=*/true);
  at::Tensor ids = cand_ids.gather(-1, order).to(at::kInt);
  ids.masked_fill_(w_sorted == 0, -1);
  return TorchTargets{ids, w_sorted.contiguous(), support};
}

// Shared by the out-of-place and in-place losses: the loss and log_softmax(z).
struct LossParts {
  at::Tensor loss;
  at::Tensor log_q;    // [N, V] float32
  at::Tensor idx;      // [N, K] int64, padding clamped to 0 (its weight is 0)
  at::Tensor counted;  // [N] bool
  at::Tensor denom;    // 0-d float32
};

LossParts loss_parts(const at::Tensor& logits, const at::Tensor& ids, const at::Tensor& weights) {
  LossParts p;
  p.log_q = as_float(logits).log_softmax(-1);
  p.idx = ids.clamp_min(0).to(at::kLong);
  p.counted = (ids >= 0).any(-1);
  p.denom = p.counted.sum().clamp_min(1).to(at::kFloat);
  const at::Tensor row_loss =
      at::xlogy(weights, weights).sum(-1) - (weights * p.log_q.gather(-1, p.idx)).sum(-1);
  p.loss = row_loss.sum() / p.denom;
  return p;
}

// grad = (softmax(z) - v) / D, written over log_q.
at::Tensor grad_over_log_q(LossParts& p, const at::Tensor& weights) {
  at::Tensor grad = p.log_q.exp_();
  grad.scatter_add_(-1, p.idx, weights.neg());
  if (!p.counted.all().item<bool>()) grad.masked_fill_(p.counted.logical_not().unsqueeze(1), 0);
  grad.div_(p.denom);
  return grad;
}

}  // namespace

TorchSelect torch_select(const at::Tensor& expert, const at::Tensor& amateur, float kappa) {
  const at::Tensor lp_e = as_float(expert).log_softmax(-1);
  const at::Tensor lp_a = as_float(amateur).log_softmax(-1);
  at::Tensor kl = kl_from_logprobs(lp_e, lp_a);
  at::Tensor keep = kl > kappa;
  return TorchSelect{kl, keep};
}

TorchTargets torch_targets(const at::Tensor& expert, const at::Tensor& amateur, int64_t k,
                           float beta) {
  const at::Tensor z_e = as_float(expert);
  const at::Tensor lp_e = z_e.log_softmax(-1);
  const at::Tensor lp_a = as_float(amateur).log_softmax(-1);
  return targets_from_logprobs(z_e, lp_e, lp_a, k, beta);
}

TorchFused torch_select_and_build(const at::Tensor& expert, const at::Tensor& amateur,
                                  float kappa, int64_t k, float beta) {
  const at::Tensor z_e = as_float(expert);
  const at::Tensor lp_e = z_e.log_softmax(-1);
  const at::Tensor lp_a = as_float(amateur).log_softmax(-1);
  at::Tensor kl = kl_from_logprobs(lp_e, lp_a);
  at::Tensor keep = kl > kappa;
  // Targets for the kept rows only, scattered back into [N, K] padding.
  const at::Tensor kept = keep.nonzero().squeeze(1);
  TorchTargets sub = targets_from_logprobs(z_e.index_select(0, kept), lp_e.index_select(0, kept),
                                           lp_a.index_select(0, kept), k, beta);
  const int64_t n = expert.size(0);
  const auto on = at::TensorOptions().device(expert.device());
  TorchTargets t{at::full({n, k}, -1, on.dtype(at::kInt)), at::zeros({n, k}, on.dtype(at::kFloat)),
                 at::zeros({n}, on.dtype(at::kInt))};
  t.ids.index_copy_(0, kept, sub.ids);
  t.weights.index_copy_(0, kept, sub.weights);
  t.support.index_copy_(0, kept, sub.support);
  return TorchFused{TorchSelect{kl, keep}, t};
}

TorchLoss torch_loss_backward(const at::Tensor& logits, const at::Tensor& ids,
                              const at::Tensor& weights) {
  LossParts p = loss_parts(logits, ids, weights);
  at::Tensor grad = grad_over_log_q(p, weights);
  if (logits.scalar_type() != at::kFloat) grad = grad.to(logits.scalar_type());
  return TorchLoss{p.loss, grad};
}

at::Tensor torch_loss_backward_inplace(at::Tensor& logits, const at::Tensor& ids,
                                       const at::Tensor& weights) {
  LossParts p = loss_parts(logits, ids, weights);
  if (logits.scalar_type() == at::kFloat) {
    // exp straight into the logits' storage, then the sparse correction there.
    at::exp_out(logits, p.log_q);
    p.log_q = at::Tensor();
    logits.scatter_add_(-1, p.idx, weights.neg());
    if (!p.counted.all().item<bool>())
      logits.masked_fill_(p.counted.logical_not().unsqueeze(1), 0);
    logits.div_(p.denom);
  } else {
    logits.copy_(grad_over_log_q(p, weights));
  }
  return p.loss;
}

}  // namespace lrbench
