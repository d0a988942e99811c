// lr_shard_target_candidates on the GPU: one block per requested row reads
// the row's global expert maximum from the gathered select stats, streams
// the shard's expert row once gathering the exact support members
// ((double(z) - z_max) / T >= log beta, tested in double on the few logits
// past a float pre-threshold) into shared memory, keeps the top K in expert
// order (targets_row.cuh: keep_top_k; a flat shard whose members overflow
// the buffer is read again, by radix selection) and writes the record:
// count, then (global id, z_e, z_a) in expert order, then padding.
// CPU form: core/cpu/shard_targets.cpp (shard_target_candidates).
//
// Bytes per row: reads the shard's expert row once (S_r * sizeof expert)
// and the amateur logits of the kept members; writes 4 (1 + 3K).
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "block_reduce.cuh"
#include "cuda_status.h"
#include "elements.cuh"
#include "select_targets_row.cuh"
#include "shard_kernels.h"
#include "shard_records.cuh"
#include "smem_opt_in.h"
#include "targets_row.cuh"

namespace lr::core::cuda {
namespace {

struct SupportTest {
  float zmax, pre;  // the global expert maximum; a float threshold at or below every member
  double t, log_beta;
  __device__ __forceinline__ bool member(float z) const { return z >= pre && in_support(z, zmax, t, log_beta); }
};

__device__ __forceinline__ void push_member(float z, int64_t j, const SupportTest& test, Candidates& c,
                                            TargetShared& sh) {
  if (!test.member(z)) return;
  const unsigned slot = atomicAdd(&sh.count, 1u);
  if (slot < unsigned(c.capacity)) {
    c.id[slot] = static_cast<int32_t>(j);
    c.ze[slot] = z;
  }
}

// The members of columns [0, S) of the expert row into the buffer (ids are
// columns of the shard); returns how many there are, which may exceed the
// buffer's capacity (then the buffer holds some of them).
template <class TE>
__device__ unsigned gather_members(const void* erow, int64_t S, const SupportTest& test, Candidates& c,
                                   TargetShared& sh) {
  if (threadIdx.x == 0) sh.count = 0;
  __syncthreads();
  const bool aligned = aligned16(erow);
  const int64_t chunks = S / kVec;
  for (int64_t ch = threadIdx.x; ch < chunks; ch += blockDim.x) {
    float e[kVec];
    load_chunk<TE>(erow, ch, aligned, e);
    float cm = e[0];
#pragma unroll
    for (int q = 1; q < kVec; ++q) cm = fmaxf(cm, e[q]);
    if (!(cm >= test.pre)) continue;
#pragma unroll
    for (int q = 0; q < kVec; ++q) push_member(e[q], ch * kVec + q, test, c, sh);
  }
  for (int64_t j = chunks * kVec + threadIdx.x; j < S; j += blockDim.x) push_member(load_one<TE>(erow, j), j, test, c, sh);
  __syncthreads();
  const unsigned count = sh.count;
  __syncthreads();  // every thread has read the count before anything reuses it
  return count;
}

__device__ void write_candidate_padding(float* rec, int64_t from, int64_t k) {
  for (int64_t s = from + threadIdx.x; s < k; s += blockDim.x) {
    rec[1 + 3 * s] = -1.0f;
    rec[2 + 3 * s] = 0.0f;
    rec[3 + 3 * s] = 0.0f;
  }
}

// The record of a row whose members are gathered: n buffer entries, the
// top k of which (marked by keep_top_k, ranked in expert order) are written.
template <class TA>
__device__ void write_candidates(float* rec, const Candidates& c, int n, int64_t count, int64_t k, int64_t offset,
                                 const void* arow) {
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    if (c.id[i] < 0) continue;
    const int64_t s = c.rank[i];
    rec[1 + 3 * s] = static_cast<float>(offset + c.id[i]);
    rec[2 + 3 * s] = c.ze[i];
    rec[3 + 3 * s] = load_one<TA>(arow, c.id[i]);
  }
  write_candidate_padding(rec, count < k ? count : k, k);
  if (threadIdx.x == 0) rec[0] = static_cast<float>(count);
}

template <class TE, class TA>
__global__ void __launch_bounds__(kThreads) shard_candidates_kernel(ShardCandidatesJob job, int64_t k, int capacity) {
  extern __shared__ __align__(16) unsigned char dynamic_smem[];  // the candidate buffer
  __shared__ TargetShared sh;
  Candidates cand = candidates_at(dynamic_smem, capacity);
  const int64_t S = job.cols.shared_cols;
  const double t = job.temperature;

  for (int64_t j = blockIdx.x; j < job.out_rows; j += gridDim.x) {
    float* rec = record_at(job.candidates, j);
    int64_t r = j;
    if (job.rows.data) r = job.rows.data[j * job.rows.stride];
    // An index the host could not check is a fault of this row, as in 1.0.
    const bool row_ok = r >= 0 && r < job.expert.rows && r < job.stats.rows;
    const GatheredMax g = row_ok ? gathered_expert_max(job.stats, r, t) : GatheredMax{true, 0.0f};
    if (g.fault) {
      write_candidate_padding(rec, 0, k);
      if (threadIdx.x == 0) rec[0] = -1.0f;
      continue;  // block-uniform: no shared state touched
    }
    const SupportTest test{g.z_max, candidate_threshold(g.z_max, static_cast<float>(t * job.log_beta)), t,
                           job.log_beta};
    const void* erow = row_ptr<TE>(job.expert, r);
    const void* arow = row_ptr<TA>(job.amateur, r);
    const unsigned count = gather_members<TE>(erow, S, test, cand, sh);
    const int n = count <= unsigned(capacity)
                      ? static_cast<int>(count)
                      : gather_support_by_rereading<TE, TA>(cand, erow, arow, S, test.zmax, t, job.log_beta, k,
                                                            int64_t(count), sh);
    keep_top_k(cand, n, k);  // ranks every entry in expert order, marks those past k
    write_candidates<TA>(rec, cand, n, count, k, job.cols.offset, arow);
    __syncthreads();  // the buffer and sh are reused by the next row
  }
}

template <class TE, class TA>
void launch_typed(const ShardCandidatesJob& job, cudaStream_t stream) {
  const int64_t k = candidates_k(job.candidates.width);
  const int capacity = candidate_capacity(k);
  const size_t smem = candidate_bytes(capacity);
  auto kernel = shard_candidates_kernel<TE, TA>;
  if (smem > size_t(max_optin_smem()))
    throw DeviceError("the shard candidates kernel needs " + std::to_string(smem) +
                          " bytes of shared memory per block; the device allows " + std::to_string(max_optin_smem()),
                      false);
  opt_in_shared_memory(kernel, smem, "setting the shared memory of the shard candidates kernel");
  const int64_t grid = std::min<int64_t>(job.out_rows, int64_t(1) << 30);
  kernel<<<static_cast<unsigned>(grid), kThreads, smem, stream>>>(job, k, capacity);
  check_cuda(cudaGetLastError(), "launching the shard candidates kernel");
}

template <class TE>
void launch_amateur(const ShardCandidatesJob& job, cudaStream_t stream) {
  switch (job.amateur.type) {
    case ElemType::F32: return launch_typed<TE, F32>(job, stream);
    case ElemType::BF16: return launch_typed<TE, BF16>(job, stream);
    case ElemType::F16: return launch_typed<TE, F16>(job, stream);
  }
}

}  // namespace

void launch_shard_target_candidates(const ShardCandidatesJob& job, void* stream) {
  if (job.out_rows == 0) return;
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  switch (job.expert.type) {
    case ElemType::F32: return launch_amateur<F32>(job, s);
    case ElemType::BF16: return launch_amateur<BF16>(job, s);
    case ElemType::F16: return launch_amateur<F16>(job, s);
  }
}

}  // namespace lr::core::cuda
