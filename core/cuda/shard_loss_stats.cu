// lr_shard_loss_stats on the GPU: one block per row streams the shard's
// logits once with pass 1 of the unsharded loss kernel (scan_row,
// distill_loss_passes.cuh: online softmax statistics merged in double),
// adds v_k z_k / T over the target ids that fall in the shard with
// v_k > 0, and writes the row's record raw: z_max, d, vz, fault. Target ids
// and weights are not validated here (the finish does it, as
// distill_loss.cu does): ids outside the shard are simply not the shard's.
// CPU form: core/cpu/shard_loss.cpp (shard_loss_stats).
//
// Bytes per row: reads the shard's row once (V_r * sizeof logit) and the
// row's targets (8 K), writes 32.
#include <cuda_runtime.h>

#include <algorithm>

#include "async_stream.cuh"
#include "block_reduce.cuh"
#include "cuda_status.h"
#include "distill_loss_passes.cuh"
#include "elements.cuh"
#include "shard_kernels.h"
#include "shard_records.cuh"
#include "smem_opt_in.h"

namespace lr::core::cuda {
namespace {

// Sum of v z / T over the row's target ids in the shard with v > 0 (every
// thread gets it).
template <class T>
__device__ double shard_target_sum(const ShardLossStatsJob& job, int64_t i, const void* z, double t,
                                   double* sum_scratch) {
  double part = 0.0;
  for (int64_t jj = threadIdx.x; jj < job.k; jj += blockDim.x) {
    const int64_t col = int64_t(job.ids.data[i * job.ids.row_stride + jj * job.ids.col_stride]) - job.cols.offset;
    const float v = job.weights.data[i * job.weights.row_stride + jj * job.weights.col_stride];
    if (col >= 0 && col < job.cols.shared_cols && v > 0.0f) part += double(v) * (double(load_one<T>(z, col)) / t);
  }
  return block_reduce(part, SumD{}, sum_scratch);
}

template <class T>
__global__ void __launch_bounds__(kThreads, 2) shard_loss_stats_kernel(ShardLossStatsJob job) {
  extern __shared__ __align__(16) unsigned char dynamic_smem[];  // pipeline slots
  __shared__ SoftmaxStats stats_scratch[kWarps];
  __shared__ float max_scratch[kWarps];
  __shared__ double sum_scratch[kWarps];
  const int64_t V = job.cols.shared_cols;
  const double t = job.temperature;
  const float c2 = static_cast<float>(1.4426950408889634 / t);  // log2(e) / T

  for (int64_t i = blockIdx.x; i < job.stats.rows; i += gridDim.x) {
    const void* z = row_ptr<T>(job.logits, i);
    const SoftmaxScan scan = scan_row<T>(z, aligned16(z), V, V / kVec, c2, dynamic_smem);
    const bool bad = __syncthreads_or(scan.bad || scan.d != scan.d) != 0;
    const float m_row = block_reduce(scan.m, MaxF{}, max_scratch);
    const SoftmaxStats all = block_merge(
        SoftmaxStats{double(scan.m) / t, scan.m > -INFINITY && !bad ? double(scan.d) : 0.0}, stats_scratch);
    const double vz = shard_target_sum<T>(job, i, z, t, sum_scratch);
    if (threadIdx.x == 0) {
      double* rec = record_at(job.stats, i);
      rec[LossStatsField::z_max] = m_row;
      rec[LossStatsField::d] = all.d;
      rec[LossStatsField::vz] = bad ? 0.0 : vz;
      rec[LossStatsField::fault] = bad ? 1.0 : 0.0;
    }
  }
}

template <class T>
void launch_typed(const ShardLossStatsJob& job, cudaStream_t stream) {
  const size_t smem = row_stream_bytes<T>(kThreads);
  auto kernel = shard_loss_stats_kernel<T>;
  opt_in_shared_memory(kernel, smem, "setting the shared memory of the shard loss stats kernel");
  const int64_t grid = std::min<int64_t>(job.stats.rows, int64_t(1) << 30);
  kernel<<<static_cast<unsigned>(grid), kThreads, smem, stream>>>(job);
  check_cuda(cudaGetLastError(), "launching the shard loss stats kernel");
}

}  // namespace

void launch_shard_loss_stats(const ShardLossStatsJob& job, void* stream) {
  if (job.stats.rows == 0) return;
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  switch (job.logits.type) {
    case ElemType::F32: return launch_typed<F32>(job, s);
    case ElemType::BF16: return launch_typed<BF16>(job, s);
    case ElemType::F16: return launch_typed<F16>(job, s);
  }
}

}  // namespace lr::core::cuda
