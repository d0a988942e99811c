// The select/targets family on the GPU: one block per row pair streams the
// expert and amateur rows once (select_targets_row.cuh), keeping per thread
// the running KL statistics and gathering the beta-support candidates; then
// the block merges the statistics and builds the target from the candidates
// (targets_row.cuh). Serves lr_select_steps (KL and keep only),
// lr_build_targets (targets only) and lr_select_and_build (both, one read).
// CPU form: core/cpu/select_targets.cpp.
//
// Bytes per row: reads both rows once, V * (sizeof expert + sizeof amateur)
// (bf16: 4 V; the target phase's re-reads touch K ids, or on flat rows the
// expert row again). Last measured, bf16, V = 151936, H200 (4.8 TB/s):
// select 45-48 % of peak, targets 50-68 %, fused 33-41 % (N = 1024 / 8192),
// bound by instruction issue (bench/results/2026-11-26-gpu-h200-3a20b02/
// README.md, bench_cuda.txt, ncu.txt).
//
// With LR_CUDA_EXPERIMENTAL (CMake option), two more forms of the streaming
// pass are compiled in: the lean one (experimental/select_targets_lean.cuh,
// LR_CUDA_SELECT_TARGETS_LEAN=1) and cp.async streaming
// (experimental/pair_stream.cuh, LR_CUDA_SELECT_TARGETS_ASYNC=1).
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "block_reduce.cuh"
#include "cuda_kernels.h"
#include "cuda_status.h"
#include "elements.cuh"
#include "select_targets_row.cuh"
#include "smem_opt_in.h"
#include "targets_row.cuh"
#if LR_CUDA_EXPERIMENTAL
#include "experimental/forms.h"
#include "experimental/pair_stream.cuh"
#include "experimental/select_targets_lean.cuh"
#endif

namespace lr::core::cuda {
namespace {

// Dynamic shared memory ahead of the candidates: the experimental cp.async
// form's pipeline slots, when it runs.
template <class TE, class TA>
__host__ __device__ __forceinline__ size_t pipeline_bytes(bool use_async) {
#if LR_CUDA_EXPERIMENTAL
  return use_async ? pair_stream_bytes<TE, TA>(kThreads) : 0;
#else
  (void)use_async;
  return 0;
#endif
}

// The target phase of a scanned row: padding for a fault (or a row not kept
// in the fused call), else the target from the candidates, or from the rows
// again when the candidates overflowed.
template <class TE, class TA>
__device__ __forceinline__ void write_row_target(const SelectTargetsJob& job, const RowScanResult& row,
                                                 const RowTargetOut& out, Candidates& cand, int capacity,
                                                 const RowShared& rs,
                                                 const void* erow, const void* arow, double t,
                                                 TargetShared& ts_shared) {
  if (row.fault) {
    write_padding(out, job.k, -1);
  } else if (job.targets_only_if_kept && !row.keep) {
    write_padding(out, job.k, 0);
  } else if (rs.count <= unsigned(capacity)) {
    targets_from_candidates(cand, static_cast<int>(rs.count), row.zmaxE, t, job.log_beta, job.k, out, ts_shared);
  } else {
    targets_by_rereading<TE, TA>(cand, erow, arow, job.shared_vocab, row.zmaxE, t, job.log_beta, job.k, out,
                                 ts_shared);
  }
}

template <class TE, class TA, bool Lean>
__global__ void __launch_bounds__(kThreads, 2)
    select_targets_kernel(SelectTargetsJob job, int capacity, bool use_async) {
  extern __shared__ __align__(16) unsigned char dynamic_smem[];  // [pipeline slots][candidates]
  __shared__ RowShared rs;
  __shared__ TargetShared ts_shared;
  __shared__ KlStats kl_scratch[kWarps];
  __shared__ float max_scratch[kWarps];
#if LR_CUDA_EXPERIMENTAL
  __shared__ LeanScratch lean_scratch;
#endif

  // the candidate arrays, after the pipeline slots
  Candidates cand = candidates_at(dynamic_smem + pipeline_bytes<TE, TA>(use_async), capacity);

  const bool want_kl = job.kl.data != nullptr;
  const bool want_targets = job.k > 0;
  const double t = job.temperature;
  ScanConsts consts;
  consts.c2 = static_cast<float>(1.4426950408889634 / t);
  consts.t_log_beta = static_cast<float>(t * job.log_beta);
  consts.want_kl = want_kl;
  consts.want_targets = want_targets;

  for (int64_t j = blockIdx.x; j < job.out_rows; j += gridDim.x) {
    RowTargetOut out{};
    if (want_targets) {
      out.ids = job.ids.data + j * job.ids.row_stride;
      out.ids_stride = job.ids.col_stride;
      out.weights = job.weights.data + j * job.weights.row_stride;
      out.weights_stride = job.weights.col_stride;
      out.support_size = job.support_size.data + j * job.support_size.stride;
    }
    int64_t r = j;
    if (job.rows.data) {
      r = job.rows.data[j * job.rows.stride];
      if (r < 0 || r >= job.expert.rows) {  // an index the host could not check: a fault of this row
        write_padding(out, job.k, -1);
        continue;
      }
    }
    const void* erow = row_ptr<TE>(job.expert, r);
    const void* arow = row_ptr<TA>(job.amateur, r);
    if (threadIdx.x == 0) {
      rs.count = 0;
      rs.hint_key = ordered_key(-INFINITY);
    }
    __syncthreads();

    RowScanResult row;
#if LR_CUDA_EXPERIMENTAL
    if constexpr (Lean) {
      row = lean_scan_row<TE, TA>(job, j, erow, arow, consts, cand, rs, lean_scratch);
    } else
#endif
    {
      row = exact_scan_row<TE, TA>(job, j, erow, arow, consts, cand, rs, use_async, dynamic_smem, kl_scratch,
                                   max_scratch);
    }
    if (!want_targets) continue;
    write_row_target<TE, TA>(job, row, out, cand, capacity, rs, erow, arow, t, ts_shared);
    __syncthreads();  // the buffer and rs are reused by the next row
  }
}

template <class TE, class TA, bool Lean>
void launch_form(const SelectTargetsJob& job, bool use_async, cudaStream_t stream) {
  const int capacity = candidate_capacity(job.k);
  const size_t smem = pipeline_bytes<TE, TA>(use_async) + candidate_bytes(capacity);
  auto kernel = select_targets_kernel<TE, TA, Lean>;
  if (smem > size_t(max_optin_smem()))
    throw DeviceError("the select/targets kernel needs " + std::to_string(smem) +
                          " bytes of shared memory per block; the device allows " + std::to_string(max_optin_smem()),
                      false);
  opt_in_shared_memory(kernel, smem, "setting the shared memory of the select/targets kernel");
  const int64_t grid = std::min<int64_t>(job.out_rows, int64_t(1) << 30);
  kernel<<<static_cast<unsigned>(grid), kThreads, smem, stream>>>(job, capacity, use_async);
  check_cuda(cudaGetLastError(), "launching the select/targets kernel");
}

template <class TE, class TA>
void launch_typed(const SelectTargetsJob& job, cudaStream_t stream) {
#if LR_CUDA_EXPERIMENTAL
  if (select_targets_lean()) return launch_form<TE, TA, true>(job, false, stream);
  return launch_form<TE, TA, false>(job, select_targets_async(), stream);
#else
  launch_form<TE, TA, false>(job, false, stream);
#endif
}

template <class TE>
void launch_amateur(const SelectTargetsJob& job, cudaStream_t stream) {
  switch (job.amateur.type) {
    case ElemType::F32: return launch_typed<TE, F32>(job, stream);
    case ElemType::BF16: return launch_typed<TE, BF16>(job, stream);
    case ElemType::F16: return launch_typed<TE, F16>(job, stream);
  }
}

}  // namespace

void launch_select_targets(const SelectTargetsJob& job, void* stream) {
  if (job.out_rows == 0) return;
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  switch (job.expert.type) {
    case ElemType::F32: return launch_amateur<F32>(job, s);
    case ElemType::BF16: return launch_amateur<BF16>(job, s);
    case ElemType::F16: return launch_amateur<F16>(job, s);
  }
}

}  // namespace lr::core::cuda
