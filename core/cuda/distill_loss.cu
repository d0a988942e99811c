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
#include "distill_loss_passes.cuh"
#include "distill_loss_row.cuh"
#include "distill_loss_steps.h"
#include "elements.cuh"
#include "scratch_pool.h"
#include "smem_opt_in.h"
#if LR_CUDA_EXPERIMENTAL
#include "experimental/distill_loss_cluster.cuh"
#include "experimental/forms.h"
#endif

namespace lr::core::cuda {
namespace {

// vocab: the full width V the ids index (the logits' own width unsharded).
__global__ void check_targets_kernel(LossJob job, int64_t vocab, LossScratch scratch) {
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
      invalid |= id < -1 || id >= vocab || !(v >= 0.0f) || v == INFINITY || (id == -1 && v != 0.0f);
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

LossScratchMemory::LossScratchMemory(int64_t n, int device, cudaStream_t stream)
    : mem_(8 + (size_t(n) + 7) / 8 * 8 + size_t(n) * sizeof(double), device, stream) {
  const size_t status_bytes = (size_t(n) + 7) / 8 * 8;
  view_.counted = static_cast<unsigned long long*>(mem_.data());
  view_.status = reinterpret_cast<uint8_t*>(view_.counted + 1);
  view_.row_loss = reinterpret_cast<double*>(view_.status + status_bytes);
  check_cuda(cudaMemsetAsync(view_.counted, 0, 8, stream), "zeroing the row count");
}

void launch_target_check(const LossJob& job, int64_t vocab, const LossScratch& scratch, cudaStream_t stream) {
  const int check_blocks = static_cast<int>(std::min<int64_t>((job.logits.rows + 7) / 8, 65535));
  check_targets_kernel<<<check_blocks, 256, 0, stream>>>(job, vocab, scratch);
  check_cuda(cudaGetLastError(), "launching the target check kernel");
}

void launch_loss_reduction(const LossJob& job, const LossScratch& scratch, cudaStream_t stream) {
  if (job.reduction == LossReduction::None) return;
  reduce_loss_kernel<<<1, kThreads, 0, stream>>>(job, scratch);
  check_cuda(cudaGetLastError(), "launching the loss reduction kernel");
}

void launch_distill_loss(const LossJob& job, void* stream_handle) {
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
  const int64_t n = job.logits.rows;
  if (n == 0) {  // nothing to read: a reduced loss is 0
    if (job.loss_scalar) check_cuda(cudaMemsetAsync(job.loss_scalar, 0, sizeof(float), stream), "zeroing the loss");
    return;
  }
  int device = 0;
  check_cuda(cudaGetDevice(&device), "reading the current CUDA device");
  const LossScratchMemory mem(n, device, stream);
  const LossScratch& scratch = mem.view();
  launch_target_check(job, job.logits.cols, scratch, stream);
  switch (job.logits.type) {
    case ElemType::F32: launch_loss<F32>(job, scratch, device, stream); break;
    case ElemType::BF16: launch_loss<BF16>(job, scratch, device, stream); break;
    case ElemType::F16: launch_loss<F16>(job, scratch, device, stream); break;
  }
  launch_loss_reduction(job, scratch, stream);
}

}  // namespace lr::core::cuda
