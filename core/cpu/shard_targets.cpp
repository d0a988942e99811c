// Stage 1 targets of the vocabulary-sharded calls on the CPU: a shard's
// members of each row's support, decided with the row's global expert
// maximum exactly as the unsharded path decides them (targets_row.cpp), its
// top K of them; then the finish, which keeps the top K of the union and
// weighs them with the unsharded write_support_targets.
#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>
#include <vector>

#include "block_kernels.h"
#include "select_targets_row.h"
#include "shard_kernels.h"
#include "thread_workspaces.h"

namespace lr::core::cpu {
namespace {

constexpr double kInfD = std::numeric_limits<double>::infinity();

// What the gathered select stats say of a row: a fault anywhere, or its
// global expert maximum (the raw float logit, as a double).
struct RowMax {
  bool fault;
  double z_max;
};

RowMax global_expert_max(const GatheredRecords<double>& stats, int64_t i, double t) {
  bool fault = false;
  double e_max = -kInfD, a_max = -kInfD;
  for (int64_t w = 0; w < stats.shards; ++w) {
    const double* r = stats.at(w, i);
    fault |= r[SelectStatsField::fault] != 0.0;
    e_max = std::fmax(e_max, r[SelectStatsField::e_max]);
    a_max = std::fmax(a_max, r[SelectStatsField::a_max]);
  }
  if (fault || e_max == -kInfD || a_max == -kInfD) return {true, 0.0};
  // The record holds max z / T (kl_merge's units); z is a float, so
  // rounding the product back to float recovers it exactly.
  return {false, double(static_cast<float>(e_max * t))};
}

struct CandidateSpace {
  explicit CandidateSpace(int64_t k) : block(kBlock) { kept.reserve(static_cast<size_t>(k)); }
  std::vector<float> block;
  std::vector<SupportMember> kept;  // a heap whose front is the worst kept member
};

// Offers a support member to the top K.
void offer(std::vector<SupportMember>& kept, size_t k, const SupportMember& c) {
  if (kept.size() < k) {
    kept.push_back(c);
    std::push_heap(kept.begin(), kept.end(), ExpertFirst{});
  } else if (ExpertFirst{}(c, kept.front())) {
    std::pop_heap(kept.begin(), kept.end(), ExpertFirst{});
    kept.back() = c;
    std::push_heap(kept.begin(), kept.end(), ExpertFirst{});
  }
}

// The shard's support members of one row (count returned, top K in kept).
int64_t shard_support(const void* e_row, ElemType e_type, const ShardColumns& cols, double z_max, double t,
                      double log_beta, size_t k, CandidateSpace& sp) {
  const float threshold = candidate_threshold(static_cast<float>(z_max), static_cast<float>(t * log_beta));
  float* eb = sp.block.data();
  int64_t count = 0;
  for (int64_t off = 0; off < cols.shared_cols; off += kBlock) {
    const int64_t n = std::min(kBlock, cols.shared_cols - off);
    if (!(load_block(advance(e_row, e_type, off), e_type, n, eb).max >= threshold)) continue;
    for (int64_t j = 0; j < n; ++j) {
      if (!(eb[j] >= threshold)) continue;
      const double z = eb[j];
      if (!((z - z_max) / t >= log_beta)) continue;  // the exact test of targets_row.cpp
      ++count;
      offer(sp.kept, k, SupportMember{static_cast<int32_t>(cols.offset + off + j), z});
    }
  }
  return count;
}

}  // namespace

void shard_target_candidates(const LogitsView& expert, const LogitsView& amateur, const ShardColumns& cols,
                             const GatheredRecords<double>& stats, Strided1D<const int64_t> rows,
                             int64_t num_rows, float temperature, float beta,
                             const RecordRows<float>& candidates) {
  const int64_t k = candidates_k(candidates.width);
  const double t = temperature, log_beta = std::log(double(beta));
  ThreadWorkspaces<CandidateSpace> spaces(k);
#pragma omp parallel for schedule(dynamic, 1) num_threads(spaces.threads())
  for (int64_t j = 0; j < num_rows; ++j) {
    const int64_t i = rows.data ? rows[j] : j;
    CandidateSpace& sp = spaces.local();
    sp.kept.clear();
    const RowMax row = global_expert_max(stats, i, t);
    const int64_t count =
        row.fault ? -1 : shard_support(expert.row(i), expert.type, cols, row.z_max, t, log_beta, size_t(k), sp);
    std::sort(sp.kept.begin(), sp.kept.end(), ExpertFirst{});
    float* out = candidates.at(j);
    out[0] = static_cast<float>(count);
    for (int64_t s = 0; s < k; ++s) {
      float* slot = out + 1 + 3 * s;
      if (s < static_cast<int64_t>(sp.kept.size())) {
        const SupportMember& c = sp.kept[static_cast<size_t>(s)];
        slot[0] = static_cast<float>(c.id);
        slot[1] = static_cast<float>(c.z);
        slot[2] = load_one(amateur.row(i), amateur.type, c.id - cols.offset);
      } else {
        slot[0] = -1.0f;
        slot[1] = 0.0f;
        slot[2] = 0.0f;
      }
    }
  }
}

void shard_targets_finish(const GatheredRecords<float>& candidates, float temperature, const TargetOutputs& out) {
  const int64_t k = out.k;
  ThreadWorkspaces<CandidateSpace> spaces(candidates.shards * k);  // room for the union
#pragma omp parallel for schedule(dynamic, 1) num_threads(spaces.threads())
  for (int64_t j = 0; j < candidates.rows; ++j) {
    std::vector<SupportMember>& all = spaces.local().kept;
    all.clear();
    int64_t support = 0;
    bool fault = false;
    for (int64_t w = 0; w < candidates.shards && !fault; ++w) {
      const float* r = candidates.at(w, j);
      // -1: the row's data fault; an invalid record: not ours, never read.
      fault = !candidates_record_valid(r, k) || !(r[0] >= 0.0f);
      if (fault) break;
      support += static_cast<int64_t>(r[0]);
      fault = support > INT32_MAX;  // only a broken contract (shards overlapping) gets here
      if (fault) break;
      const int64_t listed = std::min<int64_t>(static_cast<int64_t>(r[0]), k);
      for (int64_t s = 0; s < listed; ++s) {
        const float* slot = r + 1 + 3 * s;
        all.push_back(SupportMember{static_cast<int32_t>(slot[0]), slot[1], slot[2]});
      }
    }
    const RowTargets row{&out.ids(j, 0), out.ids.col_stride, &out.weights(j, 0), out.weights.col_stride};
    if (fault) {
      SelectTargetsRow::write_padding(row, k);
      out.support_size[j] = -1;
      continue;
    }
    // The union's top K by expert logit (ties: lower id), as the unsharded path keeps.
    if (static_cast<int64_t>(all.size()) > k) {
      std::partial_sort(all.begin(), all.begin() + k, all.end(), ExpertFirst{});
      all.resize(static_cast<size_t>(k));
    }
    write_support_targets(all, temperature, k, row);
    out.support_size[j] = static_cast<int32_t>(support);
  }
}

}  // namespace lr::core::cpu
