// CUDA runtime errors become DeviceError with the runtime's own text.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "device_error.h"

namespace lr::core::cuda {

inline void check_cuda(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  throw DeviceError(std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")",
                    e == cudaErrorMemoryAllocation);
}

}  // namespace lr::core::cuda
