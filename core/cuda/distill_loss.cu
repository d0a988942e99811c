// The loss family on the GPU: lr_distill_loss_backward, three kernels on the
// caller's stream:
//  1. one warp per row checks its targets (ids in [-1, V), weights finite
//     and >= 0, padding weight 0, no id twice) and counts the rows that have
//     one, which MEAN divides by. The host cannot read device targets
//     without a synchronisation, so a faulty row is reported as a data fault
//     of that row (loss NaN, gradient 0) rather than as an argument error.
//  2. one block per row: softmax statistics (online, merged in double), the
//     loss at the target ids, then the gradient grad_scale (w q - v) / T / D
//     written over the row in reverse order (its tail is then still in L2
//     from the first pass) and finally at the target ids; in place works
//     because every read of a row precedes the block's first write to it.
//  3. SUM / MEAN: one block adds the row losses in a fixed order, so the
//     result does not change from run to run.
// CPU form: core/cpu/distill_loss.cpp and capi/src/distill_loss_backward.cpp.
//
// Bytes per row: reads the logits row twice and writes the gradient once,
// of which 2 V * sizeof(logit) must move (bf16: 4 V; the second read is
// partly served from L2). Last measured, bf16, V = 151936, H200 (4.8 TB/s):
// 48 % of peak at N = 1024, 57 % at N = 8192, in place the same
// (bench/results/2026-11-26-gpu-h200-3a20b02/README.md, bench_cuda.txt).
//
// With LR_CUDA_EXPERIMENTAL (CMake option), the single-read cluster form
// (experimental/distill_loss_cluster.cuh, LR_CUDA_LOSS_CLUSTER=1) and the
// rows-per-SM grid cap (LR_CUDA_LOSS_ROWS_PER_SM) are compiled in.
#include <cuda_runtime.h>

#include <algorithm>

#include "async_stream.cuh"
#include "block_reduce.cuh"
#include "cuda_kernels.h"
#include "cuda_status.h"
#include "distill_loss_row.cuh"
#include "elements.cuh"
#include "scratch_pool.h"
#include "smem_opt_in.h"
#if LR_CUDA_EXPERIMENTAL
#include "experimental/distill_loss_cluster.cuh"
#include "experimental/forms.h"
#endif

namespace lr::core::cuda {
namespace {

__global__ void check_targets_kernel(LossJob job, LossScratch scratch) {
  const int lane = threadIdx.x & 31;
  const int64_t warps_per_grid = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t i = int64_t(blockIdx.x) * (blockDim.x / 32) + (threadIdx.x >> 5); i < job.logits.rows;
       i += warps_per_grid) {
    const int32_t* ids = job.ids.data + i * job.ids.row_stride;
    const float* w = job.weights.data + i * job.weights.row_stride;
    bool any = false, invalid = false;
    for (int64_t j = lane; j < job.k; j += 32) {
      const int32_t id = ids[j * job.ids.col_stride];
      const float v = w[j * job.weights.col_stride];
      any |= id >= 0;
      invalid |= id < -1 || id >= job.logits.cols || !(v >= 0.0f) || v == INFINITY || (id == -1 && v != 0.0f);
      if (id >= 0)
        for (int64_t q = 0; q < j; ++q) invalid |= ids[q * job.ids.col_stride] == id;
    }
    any = __any_sync(0xffffffffu, any);
    invalid = __any_sync(0xffffffffu, invalid);
    if (lane == 0) {
      scratch.status[i] = invalid ? kInvalidTargets : any ? kCounted : kNoTarget;
      if (invalid || any) atomicAdd(scratch.counted, 1ull);
    }
  }
}

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

// The row's loss at its target ids (every thread gets it), the gradient at
// each target id into target_grad, and the row's weight total into w_total.
template <class T>
__device__ __forceinline__ double target_terms(const LossJob& job, int64_t i, const void* z, float m_row, double t,
                                               double log_d, double grad_coef, float* target_grad,
                                               double* sum_scratch, double& w_total) {
  double part = 0.0;
  w_total = 0.0;
  for (int64_t jj = threadIdx.x; jj < job.k; jj += blockDim.x) w_total += job.weights.data[i * job.weights.row_stride + jj * job.weights.col_stride];
  w_total = block_reduce(w_total, SumD{}, sum_scratch);
  for (int64_t jj = threadIdx.x; jj < job.k; jj += blockDim.x) {
    const int32_t id = job.ids.data[i * job.ids.row_stride + jj * job.ids.col_stride];
    const double v = job.weights.data[i * job.weights.row_stride + jj * job.weights.col_stride];
    if (id < 0) continue;
    const double log_q = (double(load_one<T>(z, id)) - double(m_row)) / t - log_d;
    if (v > 0.0) part += v * (log(v) - log_q);
    target_grad[jj] = static_cast<float>(grad_coef / t * (w_total * exp(log_q) - v));
  }
  return block_reduce(part, SumD{}, sum_scratch);  // its barrier also orders the reads above before any write
}

// Pass 2 (reverse order, so the row's tail is still in L2 from pass 1): the
// dense part coef * w * q, with q = 2^((x - m) c2 - log2 d), pipelined like
// pass 1; then the target ids. Each chunk is read before it is written, so
// g == z is safe.
template <class T>
__device__ __forceinline__ void write_gradient(const LossJob& job, int64_t i, const void* z, void* g, bool z_aligned,
                                               int64_t V, int64_t chunks, float m_row, float c2, double t,
                                               double log_d, double grad_coef, double w_total,
                                               const float* target_grad, unsigned char* pipeline_smem) {
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
    if (id >= 0) store_one<T>(g, id, target_grad[jj]);
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads, 2) loss_kernel(LossJob job, LossScratch scratch) {
  extern __shared__ __align__(16) unsigned char dynamic_smem[];  // [pipeline slots][target_grad: K floats]
  float* target_grad = reinterpret_cast<float*>(dynamic_smem + row_stream_bytes<T>(kThreads));
  __shared__ SoftmaxStats stats_scratch[kWarps];
  __shared__ float max_scratch[kWarps];
  __shared__ double sum_scratch[kWarps];

  const int64_t V = job.logits.cols;
  const double t = job.temperature;
  const float c2 = static_cast<float>(1.4426950408889634 / t);  // log2(e) / T
  const bool mean = job.reduction == LossReduction::Mean;
  const unsigned long long counted = mean ? *scratch.counted : 1ull;
  const double grad_coef = double(job.grad_scale) / (counted > 0 ? double(counted) : 1.0);

  for (int64_t i = blockIdx.x; i < job.logits.rows; i += gridDim.x) {
    const void* z = row_ptr<T>(job.logits, i);
    void* g = job.grad.data ? row_ptr<T>(job.grad, i) : nullptr;
    const uint8_t status = scratch.status[i];
    double loss = 0.0;
    if (status == kNoTarget || status == kInvalidTargets) {
      if (g) zero_range<T>(g, 0, V);
      loss = status == kNoTarget ? 0.0 : NAN;
    } else {
      const bool z_aligned = aligned16(z);
      const int64_t chunks = V / kVec;
      const SoftmaxScan scan = scan_row<T>(z, z_aligned, V, chunks, c2, dynamic_smem);
      const float m = scan.m, d = scan.d;
      const bool bad = __syncthreads_or(scan.bad || d != d) != 0;
      const float m_row = block_reduce(m, MaxF{}, max_scratch);
      const SoftmaxStats all =
          block_merge(SoftmaxStats{double(m) / t, m > -INFINITY && !bad ? double(d) : 0.0}, stats_scratch);
      if (bad || m_row == -INFINITY || !(all.d > 0.0)) {
        if (g) zero_range<T>(g, 0, V);
        loss = NAN;
      } else {
        const double log_d = log(all.d);
        double w_total = 0.0;
        loss = target_terms<T>(job, i, z, m_row, t, log_d, grad_coef, target_grad, sum_scratch, w_total);
        if (g)
          write_gradient<T>(job, i, z, g, z_aligned, V, chunks, m_row, c2, t, log_d, grad_coef, w_total,
                            target_grad, dynamic_smem);
      }
    }
    if (threadIdx.x == 0) {
      if (job.reduction == LossReduction::None) job.loss_rows.data[i * job.loss_rows.stride] = static_cast<float>(loss);
      else scratch.row_loss[i] = loss;
    }
    __syncthreads();  // target_grad and the scratch arrays are reused by the next row
  }
}

__global__ void __launch_bounds__(kThreads) reduce_loss_kernel(LossJob job, LossScratch scratch) {
  __shared__ double sum_scratch[kWarps];
  double part = 0.0;
  for (int64_t i = threadIdx.x; i < job.logits.rows; i += blockDim.x) part += scratch.row_loss[i];
  const double total = block_reduce(part, SumD{}, sum_scratch);
  if (threadIdx.x == 0) {
    const unsigned long long counted = *scratch.counted;
    *job.loss_scalar = static_cast<float>(job.reduction == LossReduction::Mean
                                              ? (counted > 0 ? total / double(counted) : 0.0)
                                              : total);
  }
}

// The loss kernel's grid: one block per row (measured fastest on an H200),
// or with the experimental LR_CUDA_LOSS_ROWS_PER_SM = R > 0, R blocks per SM.
int64_t grid_cap(int device) {
#if LR_CUDA_EXPERIMENTAL
  if (const int per_sm = loss_rows_per_sm(); per_sm > 0) {
    int sms = 0;
    check_cuda(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "reading the SM count");
    return int64_t(per_sm) * sms;
  }
#endif
  (void)device;
  return int64_t(1) << 30;
}

template <class T>
void launch_loss_kernel(const LossJob& job, const LossScratch& scratch, int device, cudaStream_t stream) {
  const size_t smem = row_stream_bytes<T>(kThreads) + size_t(job.k) * sizeof(float);
  auto kernel = loss_kernel<T>;
  opt_in_shared_memory(kernel, smem, "setting the shared memory of the loss kernel");
  const int64_t grid = std::min<int64_t>(job.logits.rows, grid_cap(device));
  kernel<<<static_cast<unsigned>(grid), kThreads, smem, stream>>>(job, scratch);
  check_cuda(cudaGetLastError(), "launching the loss kernel");
}

// The experimental cluster form where it is chosen and applies, else the default kernel.
template <class T>
void launch_loss(const LossJob& job, const LossScratch& scratch, int device, cudaStream_t stream) {
#if LR_CUDA_EXPERIMENTAL
  if (launch_loss_cluster<T>(job, scratch, device, stream)) return;
#endif
  launch_loss_kernel<T>(job, scratch, device, stream);
}

}  // namespace

void launch_distill_loss(const LossJob& job, void* stream_handle) {
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
  const int64_t n = job.logits.rows;
  if (n == 0) {  // nothing to read: a reduced loss is 0
    if (job.loss_scalar) check_cuda(cudaMemsetAsync(job.loss_scalar, 0, sizeof(float), stream), "zeroing the loss");
    return;
  }
  int device = 0;
  check_cuda(cudaGetDevice(&device), "reading the current CUDA device");
  const size_t status_bytes = (size_t(n) + 7) / 8 * 8;
  StreamScratch mem(8 + status_bytes + size_t(n) * sizeof(double), device, stream);
  LossScratch scratch;
  scratch.counted = static_cast<unsigned long long*>(mem.data());
  scratch.status = reinterpret_cast<uint8_t*>(scratch.counted + 1);
  scratch.row_loss = reinterpret_cast<double*>(scratch.status + status_bytes);
  check_cuda(cudaMemsetAsync(scratch.counted, 0, 8, stream), "zeroing the row count");

  const int check_blocks = static_cast<int>(std::min<int64_t>((n + 7) / 8, 65535));
  check_targets_kernel<<<check_blocks, 256, 0, stream>>>(job, scratch);
  check_cuda(cudaGetLastError(), "launching the target check kernel");
  switch (job.logits.type) {
    case ElemType::F32: launch_loss<F32>(job, scratch, device, stream); break;
    case ElemType::BF16: launch_loss<BF16>(job, scratch, device, stream); break;
    case ElemType::F16: launch_loss<F16>(job, scratch, device, stream); break;
  }
  if (job.reduction != LossReduction::None) {
    reduce_loss_kernel<<<1, kThreads, 0, stream>>>(job, scratch);
    check_cuda(cudaGetLastError(), "launching the loss reduction kernel");
  }
}

}  // namespace lr::core::cuda
