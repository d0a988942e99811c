#include "contrast_row.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "block_kernels.h"
#include "kl_merge.h"

namespace lr::core::cpu {
namespace {

constexpr float kInfF = std::numeric_limits<float>::infinity();
constexpr double kInfD = std::numeric_limits<double>::infinity();

const void* advance(const void* row, ElemType type, int64_t elements) {
  return static_cast<const char*>(row) + elements * elem_bytes(type);
}

// Candidates are gathered with a float32 test z >= zmax + T log(beta), which
// can be a few ulps away from the exact double test (z - zmax) / T >= log(beta);
// the margin keeps every true member of M, and the exact test afterwards
// drops the extras.
float candidate_threshold(float running_max, float t_log_beta) {
  const float slack = 1e-5f * (std::fabs(running_max) + std::fabs(t_log_beta)) + 1e-30f;
  return running_max + t_log_beta - slack;
}

// Order of the support: larger expert logit first, then lower id.
struct ExpertFirst {
  template <class C>
  bool operator()(const C& a, const C& b) const {
    return a.z > b.z || (a.z == b.z && a.id < b.id);
  }
};

}  // namespace

ContrastRowScanner::ContrastRowScanner(const ContrastSettings& settings)
    : settings_(settings),
      expert_block_(kBlock),
      amateur_block_(kBlock),
      candidate_capacity_(static_cast<size_t>(std::max<int64_t>(4 * settings.k, 256))) {
  candidate_ids_.reserve(candidate_capacity_);
  support_.reserve(candidate_capacity_);
  weights_.reserve(static_cast<size_t>(std::max<int64_t>(settings.k, 1)));
}

void ContrastRowScanner::scan(const void* expert_row, ElemType expert_type, const void* amateur_row,
                              ElemType amateur_type, bool want_kl, bool want_targets) {
  expert_row_ = expert_row;
  amateur_row_ = amateur_row;
  expert_type_ = expert_type;
  amateur_type_ = amateur_type;
  fault_ = false;
  candidates_overflowed_ = false;
  kl_ = 0.0;
  support_size_ = 0;
  candidate_ids_.clear();
  support_.clear();

  const int64_t S = settings_.shared_vocab;
  const float inv_t = 1.0f / settings_.temperature;
  const double t = settings_.temperature;
  const float t_log_beta = static_cast<float>(t * settings_.log_beta);
  float* eb = expert_block_.data();
  float* ab = amateur_block_.data();
  KlStats stats;
  float run_max_e = -kInfF, run_max_a = -kInfF;

  for (int64_t off = 0; off < S; off += kBlock) {
    const int64_t n = std::min(kBlock, S - off);
    const BlockLoad le = load_block(advance(expert_row, expert_type, off), expert_type, n, eb);
    const BlockLoad la = load_block(advance(amateur_row, amateur_type, off), amateur_type, n, ab);
    if (le.bad || la.bad) {
      fault_ = true;
      return;
    }
    if (want_kl) {
      KlStats piece;  // maxima in units of z / T
      piece.mE = double(le.max) / t;
      piece.mA = double(la.max) / t;
      if (le.max > -kInfF && la.max > -kInfF) {
        const KlPartials p = kl_partials_block(eb, ab, n, le.max, la.max, inv_t);
        piece.dE = p.dE;
        piece.dA = p.dA;
        piece.s = p.s;
      } else if (le.max > -kInfF) {
        piece.dE = sum_exp_block(eb, n, le.max, inv_t);  // merge turns the missing amateur into KL = +Inf
      } else if (la.max > -kInfF) {
        piece.dA = sum_exp_block(ab, n, la.max, inv_t);
      }
      stats.merge(piece);
    }
    const float new_max = std::max(run_max_e, le.max);
    if (want_targets && le.max > -kInfF && !candidates_overflowed_) {
      const float threshold = candidate_threshold(new_max, t_log_beta);
      if (le.max >= threshold) gather_candidates(eb, n, off, threshold);
    }
    run_max_e = new_max;
    run_max_a = std::max(run_max_a, la.max);
  }
  if (run_max_e == -kInfF || run_max_a == -kInfF) {  // a row of only -Inf (or S = 0)
    fault_ = true;
    return;
  }
  if (want_kl) kl_ = stats.kl();
  if (want_targets) {
    if (candidates_overflowed_) select_support_by_full_pass();
    else select_exact_support();
  }
}

void ContrastRowScanner::gather_candidates(const float* scaled, int64_t n, int64_t offset, float threshold) {
  for (int64_t j = 0; j < n; ++j) {
    if (!(scaled[j] >= threshold)) continue;
    if (candidate_ids_.size() == candidate_capacity_) {
      compact_candidates(threshold);
      if (candidate_ids_.size() > candidate_capacity_ / 2) {
        // A flat row: too many near-maximal tokens to hold in O(K) memory.
        candidates_overflowed_ = true;
        return;
      }
    }
    candidate_ids_.push_back(static_cast<int32_t>(offset + j));
  }
}

void ContrastRowScanner::compact_candidates(float threshold) {
  auto keep_end = std::remove_if(candidate_ids_.begin(), candidate_ids_.end(), [&](int32_t id) {
    return !(load_one(expert_row_, expert_type_, id) >= threshold);
  });
  candidate_ids_.erase(keep_end, candidate_ids_.end());
}

void ContrastRowScanner::select_exact_support() {
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

void ContrastRowScanner::select_support_by_full_pass() {
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
      const Candidate c{static_cast<int32_t>(off + j), z};
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

void ContrastRowScanner::write_padding(const RowTargets& out, int64_t k) {
  for (int64_t j = 0; j < k; ++j) {
    out.ids[j * out.ids_stride] = -1;
    out.weights[j * out.weights_stride] = 0.0f;
  }
}

int32_t ContrastRowScanner::write_targets(const RowTargets& out) {
  if (fault_) {
    write_padding(out, settings_.k);
    return -1;
  }
  // v = softmax over the kept support of c = log p_E - log p_A, which is
  // (zE - zA) / T up to a constant. Where p_A = 0, c = +Inf: v goes to those
  // ids alone, in proportion to p_E.
  const double t = settings_.temperature;
  const size_t m = support_.size();
  weights_.assign(m, 0.0);
  bool amateur_zero = false;
  for (const Candidate& c : support_)
    amateur_zero |= load_one(amateur_row_, amateur_type_, c.id) == -kInfF;
  double top = -kInfD;
  for (size_t i = 0; i < m; ++i) {
    const double za = load_one(amateur_row_, amateur_type_, support_[i].id);
    if (amateur_zero && za != -kInfD) continue;
    weights_[i] = amateur_zero ? support_[i].z / t : (support_[i].z - za) / t;
    top = std::max(top, weights_[i]);
  }
  double total = 0.0;
  for (size_t i = 0; i < m; ++i) {
    const double za = load_one(amateur_row_, amateur_type_, support_[i].id);
    const bool counted = !amateur_zero || za == -kInfD;
    weights_[i] = counted ? std::exp(weights_[i] - top) : 0.0;
    total += weights_[i];
  }
  // Descending weight, ties to the lower id (the z field now holds v).
  std::vector<Candidate>& order = support_;
  for (size_t i = 0; i < m; ++i) order[i].z = weights_[i] / total;
  std::sort(order.begin(), order.end(), ExpertFirst{});
  int64_t j = 0;
  for (; j < static_cast<int64_t>(m); ++j) {
    out.ids[j * out.ids_stride] = order[static_cast<size_t>(j)].id;
    out.weights[j * out.weights_stride] = static_cast<float>(order[static_cast<size_t>(j)].z);
  }
  for (; j < settings_.k; ++j) {
    out.ids[j * out.ids_stride] = -1;
    out.weights[j * out.weights_stride] = 0.0f;
  }
  return static_cast<int32_t>(support_size_);
}

}  // namespace lr::core::cpu
