#include "ablation_targets.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

namespace lr::driver {

namespace {

constexpr int64_t kChunkElements = int64_t{1} << 24;  // doubles per chunk of rows (128 MiB)
constexpr double kInf = std::numeric_limits<double>::infinity();

// Rows holding a NaN or +Inf: data faults, as the library reports them.
at::Tensor fault_rows(const at::Tensor& z) { return (z.isnan() | (z == kInf)).any(1); }

// The kk largest entries' ids of each row of x (no NaN), in descending value,
// ties by lower id: topk leaves both the tie order and which tied entries it
// takes unspecified, so the boundary value's entries are taken by id.
at::Tensor top_ids_lower_first(const at::Tensor& x, int64_t kk) {
  const at::Tensor kth = std::get<0>(x.topk(kk, 1)).narrow(1, kk - 1, 1);
  const at::Tensor above = x > kth;
  const at::Tensor tied = x == kth;
  const at::Tensor need = kk - above.sum(1, true);
  const at::Tensor chosen = above | (tied & (tied.cumsum(1) <= need));
  const at::Tensor ids = chosen.nonzero().select(1, 1).reshape({x.size(0), kk});  // ascending per row
  const at::Tensor order = std::get<1>(x.gather(1, ids).sort(true, 1, true));    // stable: ties keep id order
  return ids.gather(1, order);
}

// Pads [M, kk] to [M, k] columns with `value`.
at::Tensor pad_columns(const at::Tensor& t, int64_t k, double value) {
  if (t.size(1) == k) return t;
  return torch::cat({t, torch::full({t.size(0), k - t.size(1)}, value, t.options())}, 1);
}

ExpertTargets with_faults(ExpertTargets t, const at::Tensor& fault) {
  const at::Tensor f = fault.unsqueeze(1);
  t.ids = t.ids.masked_fill(f, -1);
  t.weights = t.weights.masked_fill(f, 0.0);
  t.support_size = t.support_size.masked_fill(fault, -1);
  return t;
}

ExpertTargets masked_expert_chunk(const at::Tensor& logits, int64_t k, float beta) {
  const at::Tensor z = logits.to(torch::kDouble);
  const int64_t kk = std::min<int64_t>(k, z.size(1));
  const at::Tensor zmax = std::get<0>(z.max(1, true));
  const at::Tensor in = (z - zmax) >= std::log(static_cast<double>(beta));  // false on NaN rows
  const at::Tensor masked = z.masked_fill(in.logical_not(), -kInf);
  const at::Tensor top = top_ids_lower_first(masked, kk);
  const at::Tensor top_z = masked.gather(1, top);
  const at::Tensor valid = top_z > -kInf;  // fewer than kk in M: padding
  const at::Tensor e = (top_z - zmax).exp().masked_fill(valid.logical_not(), 0.0);
  ExpertTargets t;
  t.ids = pad_columns(top.masked_fill(valid.logical_not(), -1).to(torch::kInt32), k, -1);
  t.weights = pad_columns((e / e.sum(1, true).clamp_min(std::numeric_limits<double>::min())).to(torch::kFloat32), k, 0);
  t.support_size = in.sum(1).to(torch::kInt32);
  return with_faults(t, fault_rows(z));
}

ExpertTargets argmax_chunk(const at::Tensor& logits, int64_t k) {
  const at::Tensor z = logits.to(torch::kDouble);
  const int64_t m = z.size(0);
  ExpertTargets t;
  t.ids = pad_columns(z.argmax(1, true).to(torch::kInt32), k, -1);  // argmax: the first of tied maxima
  t.weights = pad_columns(torch::ones({m, 1}, z.options().dtype(torch::kFloat32)), k, 0);
  t.support_size = torch::ones({m}, z.options().dtype(torch::kInt32));
  return with_faults(t, fault_rows(z));
}

}  // namespace

bool known_target_kind(const std::string& kind) {
  return kind == "contrastive" || kind == "expert" || kind == "argmax";
}

ExpertTargets expert_targets(const at::Tensor& logits, const at::Tensor& rows, const std::string& kind, int64_t k,
                             float beta) {
  if (kind != "expert" && kind != "argmax") throw std::invalid_argument("expert_targets: unknown kind " + kind);
  const int64_t m = rows.size(0), chunk = std::max<int64_t>(1, kChunkElements / std::max<int64_t>(1, logits.size(1)));
  std::vector<at::Tensor> ids, weights, support;
  for (int64_t r0 = 0; r0 < m; r0 += chunk) {
    const at::Tensor part = logits.index_select(0, rows.narrow(0, r0, std::min(chunk, m - r0)));
    const ExpertTargets t = kind == "expert" ? masked_expert_chunk(part, k, beta) : argmax_chunk(part, k);
    ids.push_back(t.ids);
    weights.push_back(t.weights);
    support.push_back(t.support_size);
  }
  if (m == 0) {
    const auto o = logits.options();
    return {torch::empty({0, k}, o.dtype(torch::kInt32)), torch::empty({0, k}, o.dtype(torch::kFloat32)),
            torch::empty({0}, o.dtype(torch::kInt32))};
  }
  return {torch::cat(ids), torch::cat(weights), torch::cat(support)};
}

}  // namespace lr::driver
