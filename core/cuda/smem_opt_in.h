// Dynamic shared memory beyond the default 48 KiB needs an opt-in per
// kernel: raised once to the largest size asked so far (`opted` is that
// kernel's own record).
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <cstddef>

#include "cuda_status.h"

namespace lr::core::cuda {

template <class Kernel>
void opt_in_shared_memory(Kernel kernel, size_t bytes, std::atomic<size_t>& opted, const char* what) {
  if (bytes <= opted.load()) return;
  check_cuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)), what);
  opted.store(bytes);
}

}  // namespace lr::core::cuda
