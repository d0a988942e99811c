// O(N) scratch for the loss kernels, taken from a stream-ordered memory pool
// of the library's own (one per device, created on first use): allocation
// and release are enqueued on the caller's stream, so a call never
// synchronises, and the pool keeps its memory between calls, so a steady
// training loop does not reach the driver's allocator at all.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace lr::core::cuda {

class StreamScratch {
 public:
  StreamScratch(size_t bytes, int device, cudaStream_t stream);
  ~StreamScratch();  // frees on the stream, after the work enqueued so far
  StreamScratch(const StreamScratch&) = delete;
  StreamScratch& operator=(const StreamScratch&) = delete;
  void* data() const { return data_; }

 private:
  void* data_ = nullptr;
  cudaStream_t stream_;
};

}  // namespace lr::core::cuda
