// The SIMD inner loops over one block of a logits row (at most kBlock
// elements, so the float copy stays in L1 while the row streams from memory).
// Every function here is compiled for x86-64-v4, x86-64-v3 and baseline and
// picked at load time (GCC target_clones), so one binary is fast everywhere.
#pragma once

#include <cstdint>

#include "logits_view.h"

namespace lr::core::cpu {

constexpr int64_t kBlock = 1024;

// Temperature: values are kept raw and scaled only after subtracting the max,
// (x - m) / T, which is exact near the max even for logits of 1e4.
struct BlockLoad {
  float max;  // max of the values (-Inf if all -Inf)
  bool bad;   // a NaN or +Inf was seen: the row is a data fault
};

// dst[j] = float(src[j]) for j < n; returns the max and the fault flag.
BlockLoad load_block(const void* src, ElemType type, int64_t n, float* dst);

// sum_j exp((x[j] - m) * inv_t), for m = max x (finite).
float sum_exp_block(const float* x, int64_t n, float m, float inv_t);

// Partial sums for KL(p_E || p_A) relative to the block maxima mE, mA (both
// finite), with le = (e - mE) / T and la = (a - mA) / T:
//   dE = sum exp(le),  dA = sum exp(la),  s = sum exp(le) * (le - la).
// Terms with e = -Inf count 0; a = -Inf where e is finite makes s = +Inf
// (p_A = 0 where p_E > 0, however small p_E is).
struct KlPartials {
  float dE, dA, s;
};
KlPartials kl_partials_block(const float* e, const float* a, int64_t n, float mE, float mA, float inv_t);

// dst[j] = coef * exp((x[j] - m) * inv_t - log_d), converted to `type`: the
// softmax part of the gradient, written over any row (in place included).
void store_scaled_softmax_block(const float* x, int64_t n, float m, float inv_t, float log_d, float coef,
                                void* dst, ElemType type);

// dst[j] = 0 for j < n.
void store_zero_block(void* dst, ElemType type, int64_t n);

// The element `elements` places into a row.
inline const void* advance(const void* row, ElemType type, int64_t elements) {
  return static_cast<const char*>(row) + elements * elem_bytes(type);
}
inline void* advance(void* row, ElemType type, int64_t elements) {
  return static_cast<char*>(row) + elements * elem_bytes(type);
}

// One element, for the few random reads (candidates, target ids).
float load_one(const void* row, ElemType type, int64_t j);
void store_one(void* row, ElemType type, int64_t j, float v);

}  // namespace lr::core::cpu
