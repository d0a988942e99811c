// What the loss kernels share: each row's target status (from the target
// check kernel), the O(N) scratch, and zeroing a row's gradient.
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

// Elements [begin, end) of a gradient row set to 0 by the block.
template <class T>
__device__ void zero_range(void* g, int64_t begin, int64_t end) {
  for (int64_t j = begin + threadIdx.x; j < end; j += blockDim.x) store_one<T>(g, j, 0.0f);
}

}  // namespace lr::core::cuda
