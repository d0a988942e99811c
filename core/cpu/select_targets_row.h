// One row pair of the select/targets family: a streaming pass over an expert
// row and an amateur row (the shared vocabulary [0, S)) that yields, as
// asked, the KL statistics and the beta-mask candidates
// (select_targets_row.cpp); then the exact contrastive target of the row
// (targets_row.cpp). Used by select_targets.cpp for lr_select_steps,
// lr_build_targets and lr_select_and_build. The CUDA forms of the same two
// halves: core/cuda/select_targets_row.cuh and core/cuda/targets_row.cuh.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kl_merge.h"
#include "logits_view.h"

namespace lr::core::cpu {

struct SelectTargetsSettings {
  int64_t shared_vocab = 0;  // S
  float temperature = 1.0f;
  double log_beta = 0.0;     // log(beta), beta in (0, 1]
  int64_t k = 0;             // target slots per row (0 = targets not wanted)
};

struct RowTargets {  // where one row's target goes
  int32_t* ids;
  int64_t ids_stride;
  float* weights;
  int64_t weights_stride;
};

// One block's piece of the KL statistics (block_kernels' partials), maxima
// in units of z / T: mE = max_e / T. Shared with the sharded calls, whose
// select record is a shard's merged pieces.
KlStats kl_piece(const float* e, const float* a, int64_t n, float max_e, float max_a, double t, float inv_t);

// A float32 threshold just below zmax + T log(beta): every member of the
// support passes `z >= threshold`, so the exact double test needs to run
// only on those.
float candidate_threshold(float running_max, float t_log_beta);

// A member of a row's kept support: the expert and amateur logits as doubles
// of the stored values; v is scratch for its weight.
struct SupportMember {
  int32_t id;
  double z;
  double za = 0.0;
  double v = 0.0;
};

// The support's order: larger expert logit first, then lower id.
struct ExpertFirst {
  bool operator()(const SupportMember& a, const SupportMember& b) const {
    return a.z > b.z || (a.z == b.z && a.id < b.id);
  }
};

// The contrastive target of a kept support (at most K members, any order):
// v = softmax of (zE - zA) / T over them (or p_E-proportional over those
// with zA = -Inf), written in descending weight order (ties: lower id), then
// padding up to K. Used by write_targets and by the sharded finish, which
// gathers the same triples from every shard.
void write_support_targets(std::vector<SupportMember>& kept, double temperature, int64_t k, const RowTargets& out);

// Per-thread scratch: O(kBlock + K) memory, allocated once per call so that
// the row loop itself never allocates.
class SelectTargetsRow {
 public:
  explicit SelectTargetsRow(const SelectTargetsSettings& settings);

  // Reads both rows once. want_kl / want_targets choose the work.
  void scan(const void* expert_row, ElemType expert_type, const void* amateur_row,
            ElemType amateur_type, bool want_kl, bool want_targets);

  bool fault() const { return fault_; }
  double kl() const { return kl_; }

  // After scan(..., want_targets = true): writes the row's target (or
  // padding for a fault) and returns |M| (-1 for a fault).
  int32_t write_targets(const RowTargets& out);

  // Writes K padding slots.
  static void write_padding(const RowTargets& out, int64_t k);

 private:
  void start_row(const void* expert_row, ElemType expert_type, const void* amateur_row, ElemType amateur_type);
  void gather_candidates(const float* scaled, int64_t n, int64_t offset, float threshold);
  void compact_candidates(float threshold);
  void select_exact_support();
  void select_support_by_full_pass();

  SelectTargetsSettings settings_;
  std::vector<float> expert_block_, amateur_block_;
  std::vector<int32_t> candidate_ids_;  // capacity fixed at construction
  size_t candidate_capacity_;
  std::vector<SupportMember> support_;  // the exact M (or its top K), capacity K or more

  // State of the current row.
  const void* expert_row_ = nullptr;
  const void* amateur_row_ = nullptr;
  ElemType expert_type_ = ElemType::F32;
  ElemType amateur_type_ = ElemType::F32;
  bool fault_ = false;
  bool candidates_overflowed_ = false;
  double kl_ = 0.0;
  int64_t support_size_ = 0;
};

}  // namespace lr::core::cpu
