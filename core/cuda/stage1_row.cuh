// What both forms of stage 1's streaming pass share: the block-shared state
// of a row (candidate count, running maximum hint), the kernel's constants,
// and what a row's scan hands to the target phase.
#pragma once

#include <cstdint>

namespace lr::core::cuda {

struct RowShared {
  unsigned count;     // candidates seen (may exceed the capacity)
  uint32_t hint_key;  // ordered key of the block's running expert maximum
};

struct ScanConsts {
  float c2;          // log2(e) / T
  float t_log_beta;  // T log(beta), for the candidate threshold
  bool want_kl, want_targets;
};

// The candidate threshold for a running maximum `hint`: z >= hint + T log(beta),
// lowered by a margin so that every member of the exact support (tested in
// double against the final maximum) is kept.
__device__ __forceinline__ float candidate_threshold(float hint, float t_log_beta) {
  return hint + t_log_beta - (1e-5f * (fabsf(hint) + fabsf(t_log_beta)) + 1e-30f);
}

struct RowScanResult {
  bool fault;   // NaN / +Inf, or a row of -Inf on either side
  bool keep;    // KL written and above the threshold
  float zmaxE;  // the expert row's maximum (raw)
};

}  // namespace lr::core::cuda
