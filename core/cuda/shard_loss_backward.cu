// lr_shard_loss_backward on the GPU: the unsharded loss call's steps
// (distill_loss_steps.h: the O(N) scratch, the device check of the targets
// against the full width V, the SUM / MEAN reduction) around a row kernel
// that merges the row's gathered loss stats (shard_records.cuh) into the
// global maximum M and denominator D, and writes
//   loss = sum_{v>0} v log v - (sum_W vz - w (M / T + log D))
// (the unsharded loss, sum v log v - sum v log q, regrouped) and the
// gradient grad_scale (w q - v) / T / D_rows over the shard's own columns
// with pass 2 of the unsharded kernel (write_gradient,
// distill_loss_passes.cuh: in place allowed).
// CPU form: core/cpu/shard_loss.cpp (shard_loss_backward).
//
// Bytes per row: reads W records (32 W) and the shard's row once, writes
// the gradient once (2 V_r * sizeof logit).
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>

#include "async_stream.cuh"
#include "block_reduce.cuh"
#include "cuda_status.h"
#include "distill_loss_passes.cuh"
#include "distill_loss_row.cuh"
#include "distill_loss_steps.h"
#include "elements.cuh"
#include "shard_kernels.h"
#include "shard_records.cuh"
#include "smem_opt_in.h"

namespace lr::core::cuda {
namespace {

// The target terms of row i (every thread gets them): w, the sum of the
// weights; sum v log v over v > 0; and into target_grad the gradient at
// each target id in the shard. Its last barrier orders the reads of z
// before any write of the gradient.
struct TargetSums {
  double w, v_log_v;
};
template <class T>
__device__ TargetSums shard_target_terms(const ShardLossBackwardJob& sj, int64_t i, const void* z, float m, double t,
                                         double log_d, double grad_coef, float* target_grad, double* sum_scratch) {
  const LossJob& job = sj.loss;
  double w = 0.0;
  for (int64_t jj = threadIdx.x; jj < job.k; jj += blockDim.x)
    w += job.weights.data[i * job.weights.row_stride + jj * job.weights.col_stride];
  w = block_reduce(w, SumD{}, sum_scratch);
  double part = 0.0;
  for (int64_t jj = threadIdx.x; jj < job.k; jj += blockDim.x) {
    const int32_t id = job.ids.data[i * job.ids.row_stride + jj * job.ids.col_stride];
    const double v = job.weights.data[i * job.weights.row_stride + jj * job.weights.col_stride];
    if (v > 0.0) part += v * log(v);
    const int64_t col = int64_t(id) - sj.cols.offset;
    if (id < 0 || col < 0 || col >= sj.cols.shared_cols) continue;
    const double log_q = (double(load_one<T>(z, col)) - double(m)) / t - log_d;
    target_grad[jj] = static_cast<float>(grad_coef / t * (w * exp(log_q) - v));
  }
  return {w, block_reduce(part, SumD{}, sum_scratch)};
}

template <class T>
__global__ void __launch_bounds__(kThreads, 2) shard_loss_kernel(ShardLossBackwardJob sj, LossScratch scratch) {
  extern __shared__ __align__(16) unsigned char dynamic_smem[];  // [pipeline slots][target_grad: K floats]
  float* target_grad = reinterpret_cast<float*>(dynamic_smem + row_stream_bytes<T>(kThreads));
  __shared__ double sum_scratch[kWarps];
  const LossJob& job = sj.loss;
  const int64_t V = sj.cols.shared_cols;
  const double t = job.temperature;
  const float c2 = static_cast<float>(1.4426950408889634 / t);  // log2(e) / T
  const bool mean = job.reduction == LossReduction::Mean;
  const unsigned long long counted = mean ? *scratch.counted : 1ull;
  const double grad_coef = double(job.grad_scale) / (counted > 0 ? double(counted) : 1.0);

  for (int64_t i = blockIdx.x; i < job.logits.rows; i += gridDim.x) {
    const void* z = row_ptr<T>(job.logits, i);
    void* g = job.grad.data ? row_ptr<T>(job.grad, i) : nullptr;
    const uint8_t status = scratch.status[i];
    const GatheredLoss all = gathered_loss(sj.stats, i, t);
    double loss = 0.0;
    if (status == kNoTarget) {
      if (g) zero_range<T>(g, 0, V);
    } else if (status == kInvalidTargets || all.fault || all.m == -INFINITY || !(all.d > 0.0)) {
      if (g) zero_range<T>(g, 0, V);
      loss = NAN;
    } else {
      const double log_d = log(all.d);
      const TargetSums s = shard_target_terms<T>(sj, i, z, all.m, t, log_d, grad_coef, target_grad, sum_scratch);
      loss = s.v_log_v - (all.vz - s.w * (double(all.m) / t + log_d));
      if (g)
        write_gradient<T>(job, i, z, g, aligned16(z), V, V / kVec, all.m, c2, t, log_d, grad_coef, s.w, target_grad,
                          dynamic_smem, sj.cols.offset);
    }
    if (threadIdx.x == 0) {
      if (job.reduction == LossReduction::None) job.loss_rows.data[i * job.loss_rows.stride] = static_cast<float>(loss);
      else scratch.row_loss[i] = loss;
    }
    __syncthreads();  // target_grad and the scratch arrays are reused by the next row
  }
}

template <class T>
void launch_typed(const ShardLossBackwardJob& job, const LossScratch& scratch, cudaStream_t stream) {
  const size_t smem = row_stream_bytes<T>(kThreads) + size_t(job.loss.k) * sizeof(float);
  auto kernel = shard_loss_kernel<T>;
  opt_in_shared_memory(kernel, smem, "setting the shared memory of the shard loss kernel");
  const int64_t grid = std::min<int64_t>(job.loss.logits.rows, int64_t(1) << 30);
  kernel<<<static_cast<unsigned>(grid), kThreads, smem, stream>>>(job, scratch);
  check_cuda(cudaGetLastError(), "launching the shard loss kernel");
}

}  // namespace

void launch_shard_loss_backward(const ShardLossBackwardJob& job, void* stream_handle) {
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
  const int64_t n = job.loss.logits.rows;
  if (n == 0) {  // nothing to read: a reduced loss is 0
    if (job.loss.loss_scalar)
      check_cuda(cudaMemsetAsync(job.loss.loss_scalar, 0, sizeof(float), stream), "zeroing the loss");
    return;
  }
  if (job.vocab <= 0) throw std::logic_error("the sharded loss job's full width V (vocab) is not set");
  int device = 0;
  check_cuda(cudaGetDevice(&device), "reading the current CUDA device");
  const LossScratchMemory mem(n, device, stream);
  launch_target_check(job.loss, job.vocab, mem.view(), stream);
  switch (job.loss.logits.type) {
    case ElemType::F32: launch_typed<F32>(job, mem.view(), stream); break;
    case ElemType::BF16: launch_typed<BF16>(job, mem.view(), stream); break;
    case ElemType::F16: launch_typed<F16>(job, mem.view(), stream); break;
  }
  launch_loss_reduction(job.loss, mem.view(), stream);
}

}  // namespace lr::core::cuda
