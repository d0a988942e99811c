#include "train/sequence_objective.h"

#include <torch/torch.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "train/lora.h"

namespace lr::driver {

int64_t target_tokens(const SequenceSample& sample) {
  return static_cast<int64_t>(sample.ids.size()) - sample.loss_start;
}

torch::Tensor sequence_ce_loss(const Qwen2Model& model, const std::vector<SequenceSample>& batch,
                               const ObjectiveOptions& options) {
  if (batch.empty()) throw std::invalid_argument("sequence_ce_loss: empty batch");
  const int64_t B = static_cast<int64_t>(batch.size());
  int64_t T = options.pad_to, P = 0, N = 0;
  std::vector<int64_t> lengths;
  for (size_t b = 0; b < batch.size(); ++b) {
    const SequenceSample& s = batch[b];
    const int64_t len = static_cast<int64_t>(s.ids.size());
    lengths.push_back(len);
    if (s.loss_start < 1 || s.loss_start >= len)
      throw std::invalid_argument("sequence_ce_loss: sample " + std::to_string(b) + " has loss_start " +
                                  std::to_string(s.loss_start) + " outside [1, " + std::to_string(len) + ")");
    T = std::max(T, len);
    P = std::max(P, len - s.loss_start);
    N += len - s.loss_start;
  }
  auto ids = torch::zeros({B, T}, torch::kLong);
  auto mask = torch::zeros({B, T}, torch::kLong);
  auto pos = torch::zeros({B, P}, torch::kLong);  // padding slots read position 0 and are dropped below
  auto targets = torch::empty({N, 1}, torch::kInt);
  std::vector<int64_t> rows;  // flat b * P + p of the real slots
  rows.reserve(static_cast<size_t>(N));
  auto ia = ids.accessor<int64_t, 2>();
  auto ma = mask.accessor<int64_t, 2>();
  auto pa = pos.accessor<int64_t, 2>();
  auto ta = targets.accessor<int32_t, 2>();
  int64_t n = 0;
  for (int64_t b = 0; b < B; ++b) {
    const SequenceSample& s = batch[static_cast<size_t>(b)];
    const int64_t len = static_cast<int64_t>(s.ids.size());
    for (int64_t t = 0; t < len; ++t) {
      ia[b][t] = s.ids[static_cast<size_t>(t)];
      ma[b][t] = 1;
    }
    for (int64_t t = s.loss_start; t < len; ++t) {
      const int64_t p = t - s.loss_start;
      pa[b][p] = t - 1;  // the logits at t - 1 predict ids[t]
      rows.push_back(b * P + p);
      ta[n++][0] = static_cast<int32_t>(s.ids[static_cast<size_t>(t)]);
    }
  }
  const auto device = model.device();
  torch::Tensor logits;
  {
    LoraDropoutRows dropout_rows(model, options.dropout_seeds, lengths);
    logits = model.logits_at(ids.to(device), mask.to(device), pos.to(device));  // [B, P, V]
  }
  logits = logits.reshape({B * P, logits.size(2)});
  if (N != B * P) logits = logits.index_select(0, torch::tensor(rows, torch::kLong).to(device));
  const auto weights = torch::ones({N, 1}, torch::kFloat).to(device);
  return reduced_distill_loss(logits, targets.to(device), weights, options);
}

}  // namespace lr::driver
