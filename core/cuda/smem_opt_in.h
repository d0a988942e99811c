// Dynamic shared memory beyond the default 48 KiB needs an opt-in per
// kernel, and the setting is the current device's: raised to `bytes` when the
// kernel's present limit on this device is lower, never lowered (so that a
// call asking less cannot undo, under another thread's launch, what a larger
// call set), under one lock so that two raises do not interleave.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <mutex>

#include "cuda_status.h"

namespace lr::core::cuda {

inline std::mutex& shared_memory_opt_in_lock() {
  static std::mutex m;
  return m;
}

// The most dynamic shared memory a block may opt in to, on the device
// current at the first call.
inline int max_optin_smem() {
  static const int value = [] {
    int device = 0, bytes = 0;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
    return bytes;
  }();
  return value;
}

template <class Kernel>
void opt_in_shared_memory(Kernel kernel, size_t bytes, const char* what) {
  cudaFuncAttributes a{};
  check_cuda(cudaFuncGetAttributes(&a, kernel), what);
  if (bytes <= size_t(a.maxDynamicSharedSizeBytes)) return;
  std::lock_guard<std::mutex> hold(shared_memory_opt_in_lock());
  check_cuda(cudaFuncGetAttributes(&a, kernel), what);
  if (bytes <= size_t(a.maxDynamicSharedSizeBytes)) return;
  check_cuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)), what);
}

}  // namespace lr::core::cuda
