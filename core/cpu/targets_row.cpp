// The second half of a select/targets row on the CPU: from the candidates
// of the streaming pass (select_targets_row.cpp) to the row's contrastive
// target: the exact support test in double, its top K by expert logit (ties:
// lower id), weights softmax((zE - zA) / T) over the kept support (or
// p_E-proportional over the ids whose p_A = 0), written in descending weight
// order (ties: lower id). Flat rows whose candidates overflowed are read
// again. The CUDA form: core/cuda/targets_row.cuh.
#include <algorithm>
#include <cmath>
#include <limits>

#include "block_kernels.h"
#include "select_targets_row.h"

namespace lr::core::cpu {
namespace {

constexpr double kInfD = std::numeric_limits<double>::infinity();

// The written order: larger weight first, then lower id.
struct WeightFirst {
  bool operator()(const SupportMember& a, const SupportMember& b) const {
    return a.v > b.v || (a.v == b.v && a.id < b.id);
  }
};

}  // namespace

void SelectTargetsRow::select_exact_support() {
  double z_max = -kInfD;
  for (int32_t id : candidate_ids_) z_max = std::max(z_max, double(load_one(expert_row_, expert_type_, id)));
  const double t = settings_.temperature;
  for (int32_t id : candidate_ids_) {
    const double z = load_one(expert_row_, expert_type_, id);
    if ((z - z_max) / t >= settings_.log_beta) support_.push_back({id, z});
  }
  support_size_ = static_cast<int64_t>(support_.size());
  if (support_size_ > settings_.k) {
    std::partial_sort(support_.begin(), support_.begin() + settings_.k, support_.end(), ExpertFirst{});
    support_.resize(static_cast<size_t>(settings_.k));
  }
}

void SelectTargetsRow::select_support_by_full_pass() {
  // Rare path (flat rows): re-read the expert row twice, keeping only the K
  // best members in a heap whose front is the worst kept one.
  const int64_t S = settings_.shared_vocab;
  float* eb = expert_block_.data();
  double z_max = -kInfD;
  for (int64_t off = 0; off < S; off += kBlock) {
    const int64_t n = std::min(kBlock, S - off);
    z_max = std::max(z_max, double(load_block(advance(expert_row_, expert_type_, off), expert_type_, n, eb).max));
  }
  const double t = settings_.temperature;
  const size_t k = static_cast<size_t>(settings_.k);
  support_.clear();
  support_size_ = 0;
  for (int64_t off = 0; off < S; off += kBlock) {
    const int64_t n = std::min(kBlock, S - off);
    load_block(advance(expert_row_, expert_type_, off), expert_type_, n, eb);
    for (int64_t j = 0; j < n; ++j) {
      const double z = eb[j];
      if (!((z - z_max) / t >= settings_.log_beta)) continue;
      ++support_size_;
      const SupportMember c{static_cast<int32_t>(off + j), z};
      if (support_.size() < k) {
        support_.push_back(c);
        std::push_heap(support_.begin(), support_.end(), ExpertFirst{});
      } else if (ExpertFirst{}(c, support_.front())) {
        std::pop_heap(support_.begin(), support_.end(), ExpertFirst{});
        support_.back() = c;
        std::push_heap(support_.begin(), support_.end(), ExpertFirst{});
      }
    }
  }
}

void SelectTargetsRow::write_padding(const RowTargets& out, int64_t k) {
  for (int64_t j = 0; j < k; ++j) {
    out.ids[j * out.ids_stride] = -1;
    out.weights[j * out.weights_stride] = 0.0f;
  }
}

int32_t SelectTargetsRow::write_targets(const RowTargets& out) {
  if (fault_) {
    write_padding(out, settings_.k);
    return -1;
  }
  for (SupportMember& c : support_) c.za = load_one(amateur_row_, amateur_type_, c.id);
  write_support_targets(support_, settings_.temperature, settings_.k, out);
  return static_cast<int32_t>(support_size_);
}

void write_support_targets(std::vector<SupportMember>& kept, double t, int64_t k, const RowTargets& out) {
  // v = softmax over the kept support of c = log p_E - log p_A, which is
  // (zE - zA) / T up to a constant. Where p_A = 0, c = +Inf: v goes to those
  // ids alone, in proportion to p_E.
  const size_t m = kept.size();
  bool amateur_zero = false;
  for (const SupportMember& c : kept) amateur_zero |= c.za == -kInfD;
  double top = -kInfD;
  for (SupportMember& c : kept) {
    c.v = 0.0;
    if (amateur_zero && c.za != -kInfD) continue;
    c.v = amateur_zero ? c.z / t : (c.z - c.za) / t;
    top = std::max(top, c.v);
  }
  double total = 0.0;
  for (SupportMember& c : kept) {
    const bool counted = !amateur_zero || c.za == -kInfD;
    c.v = counted ? std::exp(c.v - top) : 0.0;
    total += c.v;
  }
  for (SupportMember& c : kept) c.v /= total;
  std::sort(kept.begin(), kept.end(), WeightFirst{});
  int64_t j = 0;
  for (; j < static_cast<int64_t>(m); ++j) {
    out.ids[j * out.ids_stride] = kept[static_cast<size_t>(j)].id;
    out.weights[j * out.weights_stride] = static_cast<float>(kept[static_cast<size_t>(j)].v);
  }
  for (; j < k; ++j) {
    out.ids[j * out.ids_stride] = -1;
    out.weights[j * out.weights_stride] = 0.0f;
  }
}

}  // namespace lr::core::cpu
