// lr_shard_select_finish on the GPU: one thread per row merges the row's
// gathered select stats in shard order, in double (shard_records.cuh,
// gathered_kl), and writes KL and keep exactly as the unsharded kernel
// decides them (keep == kl_out > kappa, on the float written).
// CPU form: core/cpu/shard_select.cpp (shard_select_finish).
#include <cuda_runtime.h>

#include <algorithm>

#include "cuda_status.h"
#include "shard_kernels.h"
#include "shard_records.cuh"

namespace lr::core::cuda {
namespace {

constexpr int kFinishThreads = 256;

__global__ void __launch_bounds__(kFinishThreads) shard_select_finish_kernel(ShardSelectFinishJob job) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r < job.stats.rows; r += step) {
    const float kl = static_cast<float>(gathered_kl(job.stats, r));
    job.kl.data[r * job.kl.stride] = kl;
    if (job.keep.data) job.keep.data[r * job.keep.stride] = kl == kl && kl > job.kl_threshold ? 1 : 0;
  }
}

}  // namespace

void launch_shard_select_finish(const ShardSelectFinishJob& job, void* stream) {
  if (job.stats.rows == 0) return;
  const int64_t blocks = std::min<int64_t>((job.stats.rows + kFinishThreads - 1) / kFinishThreads, 65535);
  shard_select_finish_kernel<<<static_cast<unsigned>(blocks), kFinishThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      job);
  check_cuda(cudaGetLastError(), "launching the shard select finish kernel");
}

}  // namespace lr::core::cuda
