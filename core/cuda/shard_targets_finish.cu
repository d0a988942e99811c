// lr_shard_targets_finish on the GPU: one block per row takes the union of
// the row's gathered candidates, its top K in expert order (z desc, global
// id asc; by radix selection on a 64-bit key that orders both when the
// union is larger than K), and writes the target exactly as the unsharded
// kernel does from its kept support (targets_row.cuh,
// write_weighted_targets): weights in double, the p_A = 0 rule, descending
// weight order. The support size is the sum of the shards' counts; a
// negative count (a faulted row) gives -1 and padding.
// CPU form: core/cpu/shard_targets.cpp (shard_targets_finish).
//
// Bytes per row: reads W records of 4 (1 + 3K) bytes (8 more passes over
// them when the union exceeds K), writes 8 K + 4.
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "block_reduce.cuh"
#include "cuda_status.h"
#include "elements.cuh"
#include "shard_kernels.h"
#include "shard_records.cuh"
#include "smem_opt_in.h"
#include "targets_row.cuh"

namespace lr::core::cuda {
namespace {

// Entry e of a row's union: slot e % K of shard e / K's record.
struct UnionEntries {
  GatheredRecords<float> records;
  int64_t row, k;
  __device__ __forceinline__ const float* at(int64_t e) const {
    return record_at(records, e / k, row) + 1 + 3 * (e % k);
  }
  // Larger key = earlier in expert order: the expert logit's ordered key,
  // then the complement of the id. Keys of distinct ids differ.
  __device__ __forceinline__ bool key(int64_t e, uint64_t& out) const {
    const float* p = at(e);
    if (!(p[0] >= 0.0f)) return false;  // padding
    out = (uint64_t(ordered_key(p[1])) << 32) | uint64_t(0xFFFFFFFFu - static_cast<uint32_t>(p[0]));
    return true;
  }
};

// The row's support size, or -1 when some shard faulted it or a record is
// not one the partial call writes (shard_records.h). Every thread computes
// the same answer.
__device__ __forceinline__ int64_t union_support(const GatheredRecords<float>& records, int64_t row, int64_t k) {
  int64_t support = 0;
  for (int64_t w = 0; w < records.shards; ++w) {
    const float* r = record_at(records, w, row);
    if (!candidates_record_valid(r, k) || !(r[0] >= 0.0f)) return -1;
    support += static_cast<int64_t>(r[0]);
    if (support > INT32_MAX) return -1;  // only a broken contract (shards overlapping) gets here
  }
  return support;
}

__global__ void __launch_bounds__(kThreads) shard_targets_finish_kernel(ShardTargetsFinishJob job, int64_t kin, int capacity) {
  extern __shared__ __align__(16) unsigned char dynamic_smem[];  // the kept entries
  __shared__ TargetShared sh;
  __shared__ RadixShared<uint64_t> radix;
  Candidates cand = candidates_at(dynamic_smem, capacity);
  const int64_t slots = job.candidates.shards * kin;
  const double t = job.temperature;

  for (int64_t j = blockIdx.x; j < job.candidates.rows; j += gridDim.x) {
    RowTargetOut out{};
    out.ids = job.ids.data + j * job.ids.row_stride;
    out.ids_stride = job.ids.col_stride;
    out.weights = job.weights.data + j * job.weights.row_stride;
    out.weights_stride = job.weights.col_stride;
    out.support_size = job.support_size.data + j * job.support_size.stride;
    const int64_t support = union_support(job.candidates, j, kin);
    if (support < 0) {
      write_padding(out, job.k, -1);
      continue;  // block-uniform: no shared state touched
    }
    const UnionEntries entries{job.candidates, j, kin};
    int64_t valid = 0;
    for (int64_t e = threadIdx.x; e < slots; e += blockDim.x) {
      uint64_t key;
      valid += entries.key(e, key) ? 1 : 0;
    }
    valid = block_reduce(valid, SumI{}, sh.red_i);
    uint64_t threshold = 0;  // keys at or above it are kept: all, or the top K
    if (valid > job.k) {
      radix_select_kth<uint64_t>(
          slots, [&](int64_t e, uint64_t& key) { return entries.key(e, key); }, job.k, radix);
      threshold = radix.prefix;
    }
    if (threadIdx.x == 0) sh.count = 0;
    __syncthreads();
    for (int64_t e = threadIdx.x; e < slots; e += blockDim.x) {
      uint64_t key;
      if (!entries.key(e, key) || key < threshold) continue;
      const unsigned slot = atomicAdd(&sh.count, 1u);
      if (slot >= unsigned(job.k)) continue;  // only repeated ids (a broken contract) get here
      const float* p = entries.at(e);
      cand.id[slot] = static_cast<int32_t>(p[0]);
      cand.ze[slot] = p[1];
      cand.za[slot] = p[2];
    }
    __syncthreads();
    const int n = static_cast<int>(int64_t(sh.count) < job.k ? int64_t(sh.count) : job.k);
    write_weighted_targets(cand, n, n, job.k, t, out, static_cast<int32_t>(support), sh);
    __syncthreads();  // the buffer and sh are reused by the next row
  }
}

}  // namespace

void launch_shard_targets_finish(const ShardTargetsFinishJob& job, void* stream) {
  if (job.candidates.rows == 0) return;
  const int capacity = static_cast<int>((job.k + 31) / 32 * 32);
  const size_t smem = candidate_bytes(capacity);
  if (smem > size_t(max_optin_smem()))
    throw DeviceError("the shard targets finish kernel needs " + std::to_string(smem) +
                          " bytes of shared memory per block; the device allows " + std::to_string(max_optin_smem()),
                      false);
  opt_in_shared_memory(shard_targets_finish_kernel, smem, "setting the shared memory of the shard targets kernel");
  const int64_t grid = std::min<int64_t>(job.candidates.rows, int64_t(1) << 30);
  shard_targets_finish_kernel<<<static_cast<unsigned>(grid), kThreads, smem, static_cast<cudaStream_t>(stream)>>>(
      job, candidates_k(job.candidates.width), capacity);
  check_cuda(cudaGetLastError(), "launching the shard targets finish kernel");
}

}  // namespace lr::core::cuda
