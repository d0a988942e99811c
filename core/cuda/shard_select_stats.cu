// lr_shard_select_stats on the GPU: one block per row pair streams the
// shard's shared columns once with the select pass of the unsharded kernel
// (scan_pair_row, select_targets_row.cuh: the same chunks, the same
// per-thread KL statistics), merges them across the block in double and
// writes the row's record: its KlStats as merged (e_max, a_max in units of
// z / T, as the CPU form writes them), dE, dA, s, fault.
// CPU form: core/cpu/shard_select.cpp (shard_select_stats).
//
// Bytes per row: reads both shard rows once, S_r * (sizeof expert + sizeof
// amateur), writes 48.
#include <cuda_runtime.h>

#include <algorithm>

#include "block_reduce.cuh"
#include "cuda_status.h"
#include "elements.cuh"
#include "select_targets_row.cuh"
#include "shard_kernels.h"
#include "shard_records.cuh"

namespace lr::core::cuda {
namespace {

template <class TE, class TA>
__global__ void __launch_bounds__(kThreads, 2) shard_select_stats_kernel(ShardSelectStatsJob job) {
  __shared__ KlStats kl_scratch[kWarps];
  __shared__ float max_scratch[kWarps];
  __shared__ RowShared no_row_shared;  // shared, as the scan's candidate pushes (never made here) expect
  const double t = job.temperature;
  ScanConsts consts;
  consts.c2 = static_cast<float>(1.4426950408889634 / t);
  consts.t_log_beta = 0.0f;
  consts.want_kl = true;
  consts.want_targets = false;
  Candidates no_candidates{};  // targets are not gathered here

  for (int64_t r = blockIdx.x; r < job.stats.rows; r += gridDim.x) {
    const ThreadScan ts = scan_pair_row<TE, TA>(row_ptr<TE>(job.expert, r), row_ptr<TA>(job.amateur, r),
                                                job.cols.shared_cols, consts, no_candidates, no_row_shared,
                                                false, nullptr);
    const RowMaxima mx = block_row_maxima(ts, max_scratch);
    const RowKl kl = block_row_kl(ts, t, kl_scratch);
    if (threadIdx.x == 0) {
      double* rec = record_at(job.stats, r);
      rec[SelectStatsField::e_max] = kl.all.mE;  // = max z_E / T
      rec[SelectStatsField::a_max] = kl.all.mA;
      rec[SelectStatsField::dE] = kl.all.dE;
      rec[SelectStatsField::dA] = kl.all.dA;
      rec[SelectStatsField::s] = kl.amateur_zero ? INFINITY : kl.all.s;
      rec[SelectStatsField::fault] = mx.bad ? 1.0 : 0.0;
    }
  }
}

template <class TE, class TA>
void launch_typed(const ShardSelectStatsJob& job, cudaStream_t stream) {
  const int64_t grid = std::min<int64_t>(job.stats.rows, int64_t(1) << 30);
  shard_select_stats_kernel<TE, TA><<<static_cast<unsigned>(grid), kThreads, 0, stream>>>(job);
  check_cuda(cudaGetLastError(), "launching the shard select stats kernel");
}

template <class TE>
void launch_amateur(const ShardSelectStatsJob& job, cudaStream_t stream) {
  switch (job.amateur.type) {
    case ElemType::F32: return launch_typed<TE, F32>(job, stream);
    case ElemType::BF16: return launch_typed<TE, BF16>(job, stream);
    case ElemType::F16: return launch_typed<TE, F16>(job, stream);
  }
}

}  // namespace

void launch_shard_select_stats(const ShardSelectStatsJob& job, void* stream) {
  if (job.stats.rows == 0) return;
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  switch (job.expert.type) {
    case ElemType::F32: return launch_amateur<F32>(job, s);
    case ElemType::BF16: return launch_amateur<BF16>(job, s);
    case ElemType::F16: return launch_amateur<F16>(job, s);
  }
}

}  // namespace lr::core::cuda
