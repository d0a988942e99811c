// The two streaming passes over a row of the loss on the GPU, shared by the
// unsharded loss kernel (distill_loss.cu) and the sharded one
// (shard_loss_backward.cu): pass 1 the thread's softmax statistics, pass 2
// the gradient written over the row and at the target ids.
#pragma once

#include <cstdint>

#include "async_stream.cuh"
#include "cuda_kernels.h"
#include "distill_loss_row.cuh"
#include "elements.cuh"

namespace lr::core::cuda {

// Pass 1: this thread's softmax statistics of row z (SoftmaxScan,
// distill_loss_row.cuh). The same chunks of eight whatever the alignment
// (load_raw): a row's loss and gradient do not depend on where it or its
// gradient sit. Aligned rows stream through shared memory (cp.async); others
// two chunks per step, the next two loaded before these are used.
template <class T>
__device__ __forceinline__ SoftmaxScan scan_row(const void* z, bool z_aligned, int64_t V, int64_t chunks, float c2,
                                                unsigned char* pipeline_smem) {
  SoftmaxScan scan;
  auto add_stats = [&](const float* x, int n) { scan.add(x, n, c2); };
  const int64_t B = blockDim.x;
  if (z_aligned) {
    stream_row<T>(z, chunks, threadIdx.x, B, pipeline_smem,
                  [&](const float (&x)[kVec], int64_t) { add_stats(x, kVec); });
  } else {  // register path: the same chunks in the same order
    int64_t c = threadIdx.x;
    RawChunk<T> r0{}, r1{};
    if (c < chunks) r0 = load_raw<T>(z, c, false);
    if (c + B < chunks) r1 = load_raw<T>(z, c + B, false);
    for (; c < chunks; c += 2 * B) {
      RawChunk<T> n0{}, n1{};
      if (c + 2 * B < chunks) n0 = load_raw<T>(z, c + 2 * B, false);
      if (c + 3 * B < chunks) n1 = load_raw<T>(z, c + 3 * B, false);
      float x[kVec];
      unpack(r0, x);
      add_stats(x, kVec);
      if (c + B < chunks) {
        unpack(r1, x);
        add_stats(x, kVec);
      }
      r0 = n0;
      r1 = n1;
    }
  }
  for (int64_t jj = chunks * kVec + threadIdx.x; jj < V; jj += B) {
    const float x = load_one<T>(z, jj);
    add_stats(&x, 1);
  }
  return scan;
}

// Pass 2 (reverse order, so the row's tail is still in L2 from pass 1): the
// dense part coef * w * q, with q = 2^((x - m) c2 - log2 d), pipelined like
// pass 1; then the target ids (global ids: column id - id_offset of the row,
// those outside [0, V) belong to other shards). Each chunk is read before it
// is written, so g == z is safe.
template <class T>
__device__ __forceinline__ void write_gradient(const LossJob& job, int64_t i, const void* z, void* g, bool z_aligned,
                                               int64_t V, int64_t chunks, float m_row, float c2, double t,
                                               double log_d, double grad_coef, double w_total,
                                               const float* target_grad, unsigned char* pipeline_smem,
                                               int64_t id_offset = 0) {
  const int64_t B = blockDim.x;
  const float coef = static_cast<float>(grad_coef / t * w_total);
  const float log2_d_f = static_cast<float>(log_d * 1.4426950408889634);
  const bool g_aligned = aligned16(g);
  auto softmax_part = [&](float (&x)[kVec]) {
#pragma unroll
    for (int q = 0; q < kVec; ++q) x[q] = coef * fast_exp2((x[q] - m_row) * c2 - log2_d_f);
  };
  const int64_t tail_begin = chunks * kVec;
  for (int64_t jj = V - 1 - threadIdx.x; jj >= tail_begin; jj -= B)
    store_one<T>(g, jj, coef * fast_exp2((load_one<T>(z, jj) - m_row) * c2 - log2_d_f));
  if (z_aligned) {
    stream_row<T>(z, chunks, chunks - 1 - threadIdx.x, -B, pipeline_smem, [&](const float (&xin)[kVec], int64_t c) {
      float x[kVec];
#pragma unroll
      for (int q = 0; q < kVec; ++q) x[q] = xin[q];
      softmax_part(x);
      store_chunk<T>(g, c, g_aligned, x);
    });
  } else {
    int64_t c = chunks - 1 - threadIdx.x;
    RawChunk<T> r0{}, r1{};
    if (c >= 0) r0 = load_raw<T>(z, c, false);
    if (c - B >= 0) r1 = load_raw<T>(z, c - B, false);
    for (; c >= 0; c -= 2 * B) {
      RawChunk<T> n0{}, n1{};
      if (c - 2 * B >= 0) n0 = load_raw<T>(z, c - 2 * B, false);
      if (c - 3 * B >= 0) n1 = load_raw<T>(z, c - 3 * B, false);
      float x[kVec];
      unpack(r0, x);
      softmax_part(x);
      store_chunk<T>(g, c, g_aligned, x);
      if (c - B >= 0) {
        unpack(r1, x);
        softmax_part(x);
        store_chunk<T>(g, c - B, g_aligned, x);
      }
      r0 = n0;
      r1 = n1;
    }
  }
  __syncthreads();
  for (int64_t jj = threadIdx.x; jj < job.k; jj += blockDim.x) {
    const int32_t id = job.ids.data[i * job.ids.row_stride + jj * job.ids.col_stride];
    const int64_t col = int64_t(id) - id_offset;
    if (id >= 0 && col >= 0 && col < V) store_one<T>(g, col, target_grad[jj]);
  }
}

}  // namespace lr::core::cuda
