// Streaming an expert and an amateur row together through shared memory
// with cp.async (async_stream.cuh), the select/targets pass's experimental
// cp.async form (LR_CUDA_SELECT_TARGETS_ASYNC=1). Measured slower than the
// default register path on an H200 (select 37 % of peak against 45 %,
// bench/results/2026-11-26-gpu-h200-3a20b02/bench_cuda.txt): the pass is
// bound by instruction issue and the copies add instructions. Kept for other
// GPUs; bench/gpu_check.sh times it beside the default.
#pragma once

#include <cstdint>

#include "async_stream.cuh"

namespace lr::core::cuda {

// Pipeline depth: four steps for 16-bit pairs (32 bytes a step), two when a
// step is larger (float32), to bound the shared memory.
template <class TA, class TB>
__host__ __device__ constexpr int stages_for() {
  return chunk_bytes<TA>() + chunk_bytes<TB>() <= 32 ? 4 : 2;
}

// Shared memory a block needs for a pair stream (TB = void-like: one row).
template <class TA, class TB>
__host__ __device__ constexpr size_t pair_stream_bytes(int threads) {
  return size_t(stages_for<TA, TB>()) * threads * (chunk_bytes<TA>() + chunk_bytes<TB>());
}

// Calls f(x, y, c) for this thread's chunks c of two rows (chunk c of the
// order: c = first + step * it, for it = 0, 1, ... while 0 <= c < chunks),
// through the cp.async pipeline. smem: pair_stream_bytes bytes, 16-aligned.
template <class TA, class TB, class F>
__device__ __forceinline__ void stream_pair(const void* row_a, const void* row_b, int64_t chunks, int64_t first,
                                            int64_t step, unsigned char* smem, F&& f) {
  constexpr int S = stages_for<TA, TB>();
  constexpr int bytes = chunk_bytes<TA>() + chunk_bytes<TB>();
  unsigned char* mine = smem + size_t(threadIdx.x) * bytes;
  const size_t stage_stride = size_t(blockDim.x) * bytes;
  auto valid = [&](int64_t c) { return c >= 0 && c < chunks; };
#pragma unroll
  for (int s = 0; s < S - 1; ++s) {
    const int64_t c = first + step * s;
    if (valid(c)) {
      issue_chunk<TA>(mine + s * stage_stride, row_a, c);
      issue_chunk<TB>(mine + s * stage_stride + chunk_bytes<TA>(), row_b, c);
    }
    cp_async_commit();
  }
  int use = 0, fill = S - 1;
  for (int64_t c = first; valid(c); c += step) {
    const int64_t ahead = c + step * (S - 1);
    if (valid(ahead)) {
      issue_chunk<TA>(mine + fill * stage_stride, row_a, ahead);
      issue_chunk<TB>(mine + fill * stage_stride + chunk_bytes<TA>(), row_b, ahead);
    }
    cp_async_commit();
    cp_async_wait<S - 1>();
    float x[kVec], y[kVec];
    read_chunk<TA>(mine + use * stage_stride, x);
    read_chunk<TB>(mine + use * stage_stride + chunk_bytes<TA>(), y);
    f(x, y, c);
    use = use + 1 == S ? 0 : use + 1;
    fill = fill + 1 == S ? 0 : fill + 1;
  }
  cp_async_wait<0>();
}

}  // namespace lr::core::cuda
