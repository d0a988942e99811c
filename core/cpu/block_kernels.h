// The SIMD inner loops over one block of a logits row (at most kBlock
// elements, so the float copy stays in L1 while the row streams from memory).
// Every function here is compiled for x86-64-v4, x86-64-v3 and baseline and
// picked at load time (GCC target_clones), so one binary is fast everywhere.
#pragma once

#include <cstdint>

#include "logits_view.h"

namespace lr::core::cpu {

constexpr int64_t kBlock = 1024;

struct BlockLoad {
  float max;  // max of the scaled values (-Inf if all -Inf)
  bool bad;   // a NaN or +Inf was seen: the row is a data fault
};

// dst[j] = float(src[j]) * scale for j < n; returns the max and the fault flag.
BlockLoad load_scaled_block(const void* src, ElemType type, int64_t n, float scale, float* dst);

// sum_j exp(x[j] - m), for m = max x (finite).
float sum_exp_block(const float* x, int64_t n, float m);

// Partial sums for KL(p_E || p_A) relative to the block maxima mE, mA (both finite):
//   dE = sum exp(e - mE),  dA = sum exp(a - mA),
//   s  = sum exp(e - mE) * ((e - mE) - (a - mA))   (terms with exp(e - mE) = 0 count 0)
struct KlPartials {
  float dE, dA, s;
};
KlPartials kl_partials_block(const float* e, const float* a, int64_t n, float mE, float mA);

// dst[j] = coef * exp((x[j] - m) - log_d), converted to `type`: the softmax
// part of the gradient, written over any row (in place included).
void store_scaled_softmax_block(const float* x, int64_t n, float m, float log_d, float coef,
                                void* dst, ElemType type);

// dst[j] = 0 for j < n.
void store_zero_block(void* dst, ElemType type, int64_t n);

// One element, for the few random reads (candidates, target ids).
float load_one(const void* row, ElemType type, int64_t j);
void store_one(void* row, ElemType type, int64_t j, float v);

}  // namespace lr::core::cpu
