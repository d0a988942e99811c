#include "train/objective.h"

#include <torch/torch.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "lightreasoner/torch.h"
#include "train/lora.h"

namespace lr::driver {

namespace {

// [N, K] int32 ids (-1 padded) and float32 weights (0 padded), on `device`.
std::pair<torch::Tensor, torch::Tensor> pad_targets(const std::vector<const std::vector<int32_t>*>& ids,
                                                    const std::vector<const std::vector<float>*>& weights,
                                                    torch::Device device, const char* who) {
  const int64_t N = static_cast<int64_t>(ids.size());
  size_t K = 1;
  for (int64_t i = 0; i < N; ++i) {
    if (ids[i]->size() != weights[i]->size())
      throw std::invalid_argument(std::string(who) + ": row " + std::to_string(i) + " has " +
                                  std::to_string(ids[i]->size()) + " target ids but " +
                                  std::to_string(weights[i]->size()) + " weights");
    K = std::max(K, ids[i]->size());
  }
  auto id_t = torch::full({N, static_cast<int64_t>(K)}, -1, torch::kInt);
  auto w_t = torch::zeros({N, static_cast<int64_t>(K)}, torch::kFloat);
  auto ia = id_t.accessor<int32_t, 2>();
  auto wa = w_t.accessor<float, 2>();
  for (int64_t i = 0; i < N; ++i)
    for (size_t k = 0; k < ids[i]->size(); ++k) {
      ia[i][static_cast<int64_t>(k)] = (*ids[i])[k];
      wa[i][static_cast<int64_t>(k)] = (*weights[i])[k];
    }
  return {id_t.to(device), w_t.to(device)};
}

bool counted(const std::vector<int32_t>& ids) {
  return std::any_of(ids.begin(), ids.end(), [](int32_t id) { return id != -1; });
}

}  // namespace

torch::Tensor reduced_distill_loss(const torch::Tensor& logits, const torch::Tensor& target_ids,
                                   const torch::Tensor& target_weights, const ObjectiveOptions& options) {
  lr::torch_adapter::LossOptions o;
  o.reduction = options.sum ? lr::torch_adapter::Reduction::Sum : lr::torch_adapter::Reduction::Mean;
  return lr::torch_adapter::distill_loss(logits, target_ids, target_weights, o);
}

int64_t loss_units(const SupervisionSample& sample) { return counted(sample.target_ids) ? 1 : 0; }

int64_t loss_units(const PackedRollout& rollout) {
  return std::count_if(rollout.target_ids.begin(), rollout.target_ids.end(), counted);
}

std::vector<SupervisionSample> unpack(const PackedRollout& rollout) {
  if (rollout.target_ids.size() != rollout.positions.size() ||
      rollout.target_weights.size() != rollout.positions.size())
    throw std::invalid_argument("unpack: positions, target_ids and target_weights differ in length");
  std::vector<SupervisionSample> out;
  out.reserve(rollout.positions.size());
  for (size_t i = 0; i < rollout.positions.size(); ++i) {
    const int64_t t = rollout.positions[i];
    if (t < 0 || t >= static_cast<int64_t>(rollout.ids.size()))
      throw std::invalid_argument("unpack: position " + std::to_string(t) + " outside the rollout");
    SupervisionSample s;
    s.prefix_ids.assign(rollout.ids.begin(), rollout.ids.begin() + t + 1);
    s.target_ids = rollout.target_ids[i];
    s.target_weights = rollout.target_weights[i];
    out.push_back(std::move(s));
  }
  return out;
}

torch::Tensor per_prefix_loss(const Qwen2Model& model, const std::vector<SupervisionSample>& batch,
                              const ObjectiveOptions& options) {
  if (batch.empty()) throw std::invalid_argument("per_prefix_loss: empty batch");
  const int64_t B = static_cast<int64_t>(batch.size());
  int64_t T = options.pad_to;
  for (const auto& s : batch) {
    if (s.prefix_ids.empty()) throw std::invalid_argument("per_prefix_loss: a sample has an empty prefix");
    T = std::max(T, static_cast<int64_t>(s.prefix_ids.size()));
  }
  auto ids = torch::zeros({B, T}, torch::kLong);
  auto mask = torch::zeros({B, T}, torch::kLong);
  auto last = torch::empty({B, 1}, torch::kLong);
  auto ia = ids.accessor<int64_t, 2>();
  auto ma = mask.accessor<int64_t, 2>();
  std::vector<const std::vector<int32_t>*> tid;
  std::vector<const std::vector<float>*> tw;
  std::vector<int64_t> lengths;
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = batch[static_cast<size_t>(b)].prefix_ids;
    lengths.push_back(static_cast<int64_t>(p.size()));
    for (size_t t = 0; t < p.size(); ++t) {
      ia[b][static_cast<int64_t>(t)] = p[t];
      ma[b][static_cast<int64_t>(t)] = 1;
    }
    last[b][0] = static_cast<int64_t>(p.size()) - 1;  // the real last position, not T - 1
    tid.push_back(&batch[static_cast<size_t>(b)].target_ids);
    tw.push_back(&batch[static_cast<size_t>(b)].target_weights);
  }
  const auto device = model.device();
  torch::Tensor logits;
  {
    LoraDropoutRows dropout_rows(model, options.dropout_seeds, lengths);
    logits = model.logits_at(ids.to(device), mask.to(device), last.to(device)).reshape({B, -1});  // [B, V]
  }
  auto [target_ids, target_weights] = pad_targets(tid, tw, device, "per_prefix_loss");
  return reduced_distill_loss(logits, target_ids, target_weights, options);
}

torch::Tensor packed_loss(const Qwen2Model& model, const PackedRollout& rollout) {
  return packed_loss(model, std::vector<PackedRollout>{rollout});
}

torch::Tensor packed_loss(const Qwen2Model& model, const std::vector<PackedRollout>& rollouts,
                          const ObjectiveOptions& options) {
  if (rollouts.empty()) throw std::invalid_argument("packed_loss: empty batch");
  const int64_t B = static_cast<int64_t>(rollouts.size());
  int64_t T = options.pad_to, P = 0;
  for (const auto& r : rollouts) {
    if (r.positions.empty()) throw std::invalid_argument("packed_loss: a rollout has no supervised positions");
    if (r.target_ids.size() != r.positions.size() || r.target_weights.size() != r.positions.size())
      throw std::invalid_argument("packed_loss: positions, target_ids and target_weights differ in length");
    T = std::max(T, static_cast<int64_t>(r.ids.size()));
    P = std::max(P, static_cast<int64_t>(r.positions.size()));
  }
  auto ids = torch::zeros({B, T}, torch::kLong);
  auto mask = torch::zeros({B, T}, torch::kLong);
  auto pos = torch::zeros({B, P}, torch::kLong);  // padding slots read position 0 and are dropped below
  std::vector<int64_t> rows;                      // flat indices b * P + p of the real slots
  std::vector<const std::vector<int32_t>*> tid;
  std::vector<const std::vector<float>*> tw;
  std::vector<int64_t> lengths;
  auto ia = ids.accessor<int64_t, 2>();
  auto ma = mask.accessor<int64_t, 2>();
  auto pa = pos.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const auto& r = rollouts[static_cast<size_t>(b)];
    const int64_t len = static_cast<int64_t>(r.ids.size());
    lengths.push_back(len);
    for (int64_t t = 0; t < len; ++t) {
      ia[b][t] = r.ids[static_cast<size_t>(t)];
      ma[b][t] = 1;
    }
    for (size_t p = 0; p < r.positions.size(); ++p) {
      const int64_t t = r.positions[p];
      if (t < 0 || t >= len)
        throw std::invalid_argument("packed_loss: position " + std::to_string(t) + " outside a rollout of " +
                                    std::to_string(len) + " ids");
      pa[b][static_cast<int64_t>(p)] = t;
      rows.push_back(b * P + static_cast<int64_t>(p));
      tid.push_back(&r.target_ids[p]);
      tw.push_back(&r.target_weights[p]);
    }
  }
  const auto device = model.device();
  torch::Tensor logits;
  {
    LoraDropoutRows dropout_rows(model, options.dropout_seeds, lengths);
    logits = model.logits_at(ids.to(device), mask.to(device), pos.to(device));  // [B, P, V]
  }
  logits = logits.reshape({B * P, logits.size(2)});
  if (static_cast<int64_t>(rows.size()) != B * P)
    logits = logits.index_select(0, torch::tensor(rows, torch::kLong).to(device));
  auto [target_ids, target_weights] = pad_targets(tid, tw, device, "packed_loss");
  return reduced_distill_loss(logits, target_ids, target_weights, options);
}

}  // namespace lr::driver
