#include "select_targets_row.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "block_kernels.h"
#include "kl_merge.h"

namespace lr::core::cpu {
namespace {

constexpr float kInfF = std::numeric_limits<float>::infinity();

}  // namespace

// Candidates are gathered with a float32 test z >= zmax + T log(beta), which
// can be a few ulps away from the exact double test (z - zmax) / T >= log(beta);
// the margin keeps every true member of M, and the exact test afterwards
// drops the extras.
float candidate_threshold(float running_max, float t_log_beta) {
  const float slack = 1e-5f * (std::fabs(running_max) + std::fabs(t_log_beta)) + 1e-30f;
  return running_max + t_log_beta - slack;
}

// One block's piece of the KL statistics, maxima in units of z / T.
KlStats kl_piece(const float* e, const float* a, int64_t n, float max_e, float max_a, double t, float inv_t) {
  KlStats piece;
  piece.mE = double(max_e) / t;
  piece.mA = double(max_a) / t;
  if (max_e > -kInfF && max_a > -kInfF) {
    const KlPartials p = kl_partials_block(e, a, n, max_e, max_a, inv_t);
    piece.dE = p.dE;
    piece.dA = p.dA;
    piece.s = p.s;
  } else if (max_e > -kInfF) {
    piece.dE = sum_exp_block(e, n, max_e, inv_t);  // merge turns the missing amateur into KL = +Inf
  } else if (max_a > -kInfF) {
    piece.dA = sum_exp_block(a, n, max_a, inv_t);
  }
  return piece;
}

SelectTargetsRow::SelectTargetsRow(const SelectTargetsSettings& settings)
    : settings_(settings),
      expert_block_(kBlock),
      amateur_block_(kBlock),
      candidate_capacity_(static_cast<size_t>(std::max<int64_t>(4 * settings.k, 256))) {
  candidate_ids_.reserve(candidate_capacity_);
  support_.reserve(candidate_capacity_);
}

void SelectTargetsRow::start_row(const void* expert_row, ElemType expert_type, const void* amateur_row,
                                 ElemType amateur_type) {
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
}

void SelectTargetsRow::scan(const void* expert_row, ElemType expert_type, const void* amateur_row,
                            ElemType amateur_type, bool want_kl, bool want_targets) {
  start_row(expert_row, expert_type, amateur_row, amateur_type);
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
    if (want_kl) stats.merge(kl_piece(eb, ab, n, le.max, la.max, t, inv_t));
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

void SelectTargetsRow::gather_candidates(const float* scaled, int64_t n, int64_t offset, float threshold) {
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

void SelectTargetsRow::compact_candidates(float threshold) {
  auto keep_end = std::remove_if(candidate_ids_.begin(), candidate_ids_.end(), [&](int32_t id) {
    return !(load_one(expert_row_, expert_type_, id) >= threshold);
  });
  candidate_ids_.erase(keep_end, candidate_ids_.end());
}

}  // namespace lr::core::cpu
