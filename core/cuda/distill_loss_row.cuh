// A row of the loss family on the GPU, what the loss kernels
// (distill_loss.cu, experimental/distill_loss_cluster.cuh) share: each row's
// target status (from the target check kernel), the O(N) scratch, a
// thread's running softmax statistics, and zeroing a row's gradient.
// CPU form: core/cpu/distill_loss_row.cpp.
#pragma once

#include <cstdint>

#include "elements.cuh"

namespace lr::core::cuda {

enum RowStatus : uint8_t { kNoTarget = 0, kCounted = 1, kInvalidTargets = 2 };

struct LossScratch {
  unsigned long long* counted;
  uint8_t* status;   // [N]
  double* row_loss;  // [N]
};

// A thread's running softmax statistics of its share of a row,
// d = sum 2^((x - m) c2) with c2 = log2(e) / T (base 2: one MUFU ex2 per
// element). A NaN or +Inf makes d NaN (NaN propagates; +Inf becomes m and
// Inf - Inf is NaN); only before any finite value is seen is the explicit
// test needed.
struct SoftmaxScan {
  float m = -INFINITY, d = 0.0f;
  bool bad = false;

  __device__ __forceinline__ void add(const float* x, int n, float c2) {
    float cm = -INFINITY;
    for (int q = 0; q < n; ++q) cm = fmaxf(cm, x[q]);
    if (cm > m) {
      if (d > 0.0f) d *= fast_exp2((m - cm) * c2);
      m = cm;
    }
    if (m > -INFINITY) {
      for (int q = 0; q < n; ++q) d += fast_exp2((x[q] - m) * c2);
    } else {
      for (int q = 0; q < n; ++q) bad |= x[q] != x[q];
    }
  }
};

// Elements [begin, end) of a gradient row set to 0 by the block.
template <class T>
__device__ void zero_range(void* g, int64_t begin, int64_t end) {
  for (int64_t j = begin + threadIdx.x; j < end; j += blockDim.x) store_one<T>(g, j, 0.0f);
}

}  // namespace lr::core::cuda
