#include "train/length_limit.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace lr::driver {

bool is_cut(int64_t prefix_len, int64_t max_len) { return max_len > 0 && prefix_len > max_len; }

SupervisionSample cut_from_left(const SupervisionSample& sample, int64_t max_len) {
  const int64_t len = static_cast<int64_t>(sample.prefix_ids.size());
  if (!is_cut(len, max_len)) return sample;
  SupervisionSample out;
  out.prefix_ids.assign(sample.prefix_ids.end() - max_len, sample.prefix_ids.end());
  out.target_ids = sample.target_ids;
  out.target_weights = sample.target_weights;
  return out;
}

std::vector<PackedRollout> cut_from_left(const PackedRollout& rollout, int64_t max_len) {
  if (rollout.target_ids.size() != rollout.positions.size() ||
      rollout.target_weights.size() != rollout.positions.size())
    throw std::invalid_argument("cut_from_left: positions, target_ids and target_weights differ in length");
  PackedRollout head;
  std::vector<PackedRollout> windows;
  int64_t head_len = 0;
  for (size_t i = 0; i < rollout.positions.size(); ++i) {
    const int64_t t = rollout.positions[i];
    if (t < 0 || t >= static_cast<int64_t>(rollout.ids.size()))
      throw std::invalid_argument("cut_from_left: position " + std::to_string(t) + " outside the rollout");
    if (is_cut(t + 1, max_len)) {
      PackedRollout w;
      w.ids.assign(rollout.ids.begin() + (t + 1 - max_len), rollout.ids.begin() + (t + 1));
      w.positions = {max_len - 1};
      w.target_ids = {rollout.target_ids[i]};
      w.target_weights = {rollout.target_weights[i]};
      windows.push_back(std::move(w));
    } else {
      head_len = std::max(head_len, t + 1);
      head.positions.push_back(t);
      head.target_ids.push_back(rollout.target_ids[i]);
      head.target_weights.push_back(rollout.target_weights[i]);
    }
  }
  if (windows.empty()) return {rollout};
  std::vector<PackedRollout> out;
  if (!head.positions.empty()) {
    head.ids.assign(rollout.ids.begin(), rollout.ids.begin() + head_len);
    out.push_back(std::move(head));
  }
  for (auto& w : windows) out.push_back(std::move(w));
  return out;
}

int64_t count_cut(const std::vector<SupervisionSample>& samples, int64_t max_len) {
  return std::count_if(samples.begin(), samples.end(), [&](const SupervisionSample& s) {
    return is_cut(static_cast<int64_t>(s.prefix_ids.size()), max_len);
  });
}

int64_t count_cut(const std::vector<PackedRollout>& rollouts, int64_t max_len) {
  int64_t n = 0;
  for (const auto& r : rollouts)
    for (int64_t t : r.positions) n += is_cut(t + 1, max_len) ? 1 : 0;
  return n;
}

}  // namespace lr::driver
