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
  struct Candidate {
    int32_t id;
    double z;  // raw expert logit, as a double
  };
  void start_row(const void* expert_row, ElemType expert_type, const void* amateur_row, ElemType amateur_type);
  void gather_candidates(const float* scaled, int64_t n, int64_t offset, float threshold);
  void compact_candidates(float threshold);
  void select_exact_support();
  void select_support_by_full_pass();

  SelectTargetsSettings settings_;
  std::vector<float> expert_block_, amateur_block_;
  std::vector<int32_t> candidate_ids_;  // capacity fixed at construction
  size_t candidate_capacity_;
  std::vector<Candidate> support_;      // the exact M (or its top K), capacity K or more
  std::vector<double> weights_;

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
