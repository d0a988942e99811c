// Streaming a row through shared memory with cp.async (LDGSTS): each thread
// copies its own chunks of eight elements kStages - 1 steps ahead of use, so
// many bytes are in flight per SM without holding them in registers, and
// reads back only what it copied itself (no block barrier needed). Rows
// whose start is not 16-byte aligned take the register path instead (same
// chunks in the same order, so the same sums). The loss kernel streams its
// rows this way; the same for a pair of rows, an experimental form of the
// select/targets pass, is experimental/pair_stream.cuh.
#pragma once

#include <cstdint>

#include "elements.cuh"

namespace lr::core::cuda {

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

template <class T>
__host__ __device__ constexpr int chunk_bytes() {
  return kVec * int(sizeof(typename T::Storage));
}

template <class T>
__device__ __forceinline__ void issue_chunk(unsigned char* slot, const void* row, int64_t c) {
  const unsigned char* src = static_cast<const unsigned char*>(row) + c * chunk_bytes<T>();
  cp_async16(slot, src);
  if constexpr (chunk_bytes<T>() == 32) cp_async16(slot + 16, src + 16);
}

template <class T>
__device__ __forceinline__ void read_chunk(const unsigned char* slot, float (&out)[kVec]) {
  RawChunk<T> r;
  if constexpr (chunk_bytes<T>() == 32) {
    r.lo = reinterpret_cast<const float4*>(slot)[0];
    r.hi = reinterpret_cast<const float4*>(slot)[1];
  } else {
    r.bits = *reinterpret_cast<const uint4*>(slot);
  }
  unpack(r, out);
}

// Shared memory a block needs to stream one row: four stages of a chunk per thread.
template <class T>
__host__ __device__ constexpr size_t row_stream_bytes(int threads) {
  return size_t(4) * threads * chunk_bytes<T>();
}

template <class T, class F>
__device__ __forceinline__ void stream_row(const void* row, int64_t chunks, int64_t first, int64_t step,
                                           unsigned char* smem, F&& f) {
  constexpr int S = 4;
  constexpr int bytes = chunk_bytes<T>();
  unsigned char* mine = smem + size_t(threadIdx.x) * bytes;
  const size_t stage_stride = size_t(blockDim.x) * bytes;
  auto valid = [&](int64_t c) { return c >= 0 && c < chunks; };
#pragma unroll
  for (int s = 0; s < S - 1; ++s) {
    const int64_t c = first + step * s;
    if (valid(c)) issue_chunk<T>(mine + s * stage_stride, row, c);
    cp_async_commit();
  }
  int use = 0, fill = S - 1;
  for (int64_t c = first; valid(c); c += step) {
    const int64_t ahead = c + step * (S - 1);
    if (valid(ahead)) issue_chunk<T>(mine + fill * stage_stride, row, ahead);
    cp_async_commit();
    cp_async_wait<S - 1>();
    float x[kVec];
    read_chunk<T>(mine + use * stage_stride, x);
    f(x, c);
    use = use + 1 == S ? 0 : use + 1;
    fill = fill + 1 == S ? 0 : fill + 1;
  }
  cp_async_wait<0>();
}

}  // namespace lr::core::cuda
