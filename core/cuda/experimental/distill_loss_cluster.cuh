// The loss with its gradient reading each row once, on Hopper and later:
// an experimental form of the loss family, compiled in with
// LR_CUDA_EXPERIMENTAL and chosen with LR_CUDA_LOSS_CLUSTER=1 while it waits
// for a GPU run to show it passes the suites and is faster
// (bench/gpu_check.sh runs it beside the default); not yet measured.
// Bytes per row: one read and one write, 2 V * sizeof(logit).
//
// The default loss kernel reads a row twice: once for the softmax
// statistics, once more to write the gradient. Here a thread-block cluster of
// C blocks (C <= 8) holds the row in shared memory, block r a slice of
// `slice` elements copied in with cp.async: each block takes its slice's
// statistics, the blocks exchange them through distributed shared memory and
// merge them in rank order (the same bits in every block), and each block
// writes its slice's gradient from shared memory, then its slice's target
// entries. So a row costs one read and one write, and in-place gradients
// are safe (every read of the row is from shared memory). Slices are kept
// near 100 KiB so that two blocks share an SM (one copying in while the
// other writes out).
//
// With the variable set, every call whose device has compute capability 9.0
// or more (and code for it) and whose rows fit in eight blocks' shared memory
// takes this form, with or without a gradient, aligned or not, so that its
// results do not depend on those; otherwise the default kernel runs. The
// math is the default kernel's (distill_loss.cu), merged in another
// order: results agree with it to rounding, not bit for bit.
#pragma once

#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "async_stream.cuh"
#include "block_reduce.cuh"
#include "cuda_kernels.h"
#include "cuda_status.h"
#include "distill_loss_cluster_plan.h"
#include "distill_loss_row.cuh"
#include "elements.cuh"
#include "forms.h"
#include "smem_opt_in.h"

namespace lr::core::cuda {

// One block's statistics of its slice, and its part of the row loss, read by
// the other blocks of the cluster. One slot each is enough: a row's two
// cluster barriers put every block's reads of a row's slots before any
// block's writes of the next row's.
struct SliceStats {
  float m;   // slice maximum (raw)
  int bad;   // NaN or +Inf in the slice
  double d;  // sum 2^((z - m) c2) over the slice
};
struct ClusterShared {
  SliceStats stats;
  double part;
};

// A row's loss where the reduction wants it (NONE: the output; else the scratch).
__device__ __forceinline__ void store_row_loss(const LossJob& job, const LossScratch& scratch, int64_t i,
                                               double loss) {
  if (job.reduction == LossReduction::None) job.loss_rows.data[i * job.loss_rows.stride] = static_cast<float>(loss);
  else scratch.row_loss[i] = loss;
}

// The slice [lo, lo + n) of row z into shared memory: 16-byte copies
// (cp.async) where the slice starts on a 16-byte boundary, element loads
// otherwise; the same values either way, so the results do not depend on
// alignment.
template <class T>
__device__ __forceinline__ void copy_slice(typename T::Storage* buf, const typename T::Storage* z, int64_t lo,
                                           int64_t n, int64_t chunks) {
  const int64_t B = blockDim.x;
  int64_t copied = 0;
  if (aligned16(z + lo)) {
    for (int64_t c = threadIdx.x; c < chunks; c += B)
      issue_chunk<T>(reinterpret_cast<unsigned char*>(buf + c * kVec), z + lo, c);
    cp_async_commit();
    copied = chunks * kVec;
  }
  for (int64_t e = copied + threadIdx.x; e < n; e += B) buf[e] = z[lo + e];
  cp_async_wait<0>();
  __syncthreads();
}

// This slice's statistics (per thread, then the block's, rebased to its maximum).
template <class T>
__device__ __forceinline__ SliceStats slice_stats(const typename T::Storage* buf, int64_t n, int64_t chunks, float c2,
                                                  float* max_scratch, double* sum_scratch) {
  const int64_t B = blockDim.x;
  SoftmaxScan scan;
  for (int64_t c = threadIdx.x; c < chunks; c += B) {
    float x[kVec];
    load_vec<T>(buf, c, x);
    scan.add(x, kVec, c2);
  }
  for (int64_t e = chunks * kVec + threadIdx.x; e < n; e += B) {
    const float x = to_float(T{}, buf[e]);
    scan.add(&x, 1, c2);
  }
  const float m = scan.m, d = scan.d;
  const bool bad = scan.bad || d != d;
  const int bad_block = __syncthreads_or(bad);
  const float m_block = block_reduce(m, MaxF{}, max_scratch);
  const double d_mine = d > 0.0f && m_block > -INFINITY && !bad ? double(d) * double(fast_exp2((m - m_block) * c2)) : 0.0;
  const double d_block = block_reduce(d_mine, SumD{}, sum_scratch);
  return {m_block, bad_block, d_block};
}

// This slice's gradient, the dense part coef * w * q, q = 2^((z - m) c2 -
// log2 d), from shared memory, then its target entries over it; returns
// this block's part of the row loss (every thread gets it).
template <class T>
__device__ __forceinline__ double slice_gradient(const LossJob& job, int64_t i, const typename T::Storage* buf,
                                                 typename T::Storage* g, int64_t lo, int64_t hi, int64_t chunks,
                                                 float m_row, double d_row, float c2, double t, double grad_coef,
                                                 double* sum_scratch) {
  using Storage = typename T::Storage;
  const int64_t B = blockDim.x, n = hi - lo;
  double part = 0.0;
  const int32_t* ids = job.ids.data + i * job.ids.row_stride;
  const float* w = job.weights.data + i * job.weights.row_stride;
  double w_total = 0.0;
  for (int64_t jj = threadIdx.x; jj < job.k; jj += B) w_total += w[jj * job.weights.col_stride];
  w_total = block_reduce(w_total, SumD{}, sum_scratch);
  const double log_d = log(d_row);
  const float coef = static_cast<float>(grad_coef / t * w_total);
  const float log2_d = static_cast<float>(log_d * 1.4426950408889634);
  if (g) {
    Storage* gs = g + lo;
    const bool g_aligned = aligned16(gs);
    for (int64_t c = threadIdx.x; c < chunks; c += B) {
      float x[kVec];
      load_vec<T>(buf, c, x);
#pragma unroll
      for (int q = 0; q < kVec; ++q) x[q] = coef * fast_exp2((x[q] - m_row) * c2 - log2_d);
      store_chunk<T>(gs, c, g_aligned, x);
    }
    for (int64_t e = chunks * kVec + threadIdx.x; e < n; e += B)
      store_one<T>(gs, e, coef * fast_exp2((to_float(T{}, buf[e]) - m_row) * c2 - log2_d));
    __syncthreads();  // the dense writes first, then the target entries over them
  }
  // This slice's target ids: their loss terms and gradient entries.
  for (int64_t jj = threadIdx.x; jj < job.k; jj += B) {
    const int32_t id = ids[jj * job.ids.col_stride];
    if (id < lo || id >= hi) continue;
    const double v = w[jj * job.weights.col_stride];
    const double log_q = (double(to_float(T{}, buf[id - lo])) - double(m_row)) / t - log_d;
    if (v > 0.0) part += v * (log(v) - log_q);
    if (g) store_one<T>(g, id, static_cast<float>(grad_coef / t * (w_total * exp(log_q) - v)));
  }
  return part;
}

template <class T>
__global__ void __launch_bounds__(kThreads, 2) loss_cluster_kernel(LossJob job, LossScratch scratch, int64_t slice) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  namespace cg = cooperative_groups;
  using Storage = typename T::Storage;
  extern __shared__ __align__(16) unsigned char dynamic_smem[];  // this block's slice of the row
  __shared__ ClusterShared shared;
  __shared__ float max_scratch[kWarps];
  __shared__ double sum_scratch[kWarps];
  cg::cluster_group cluster = cg::this_cluster();
  const int C = static_cast<int>(cluster.num_blocks());
  const int rank = static_cast<int>(cluster.block_rank());
  Storage* buf = reinterpret_cast<Storage*>(dynamic_smem);

  const int64_t V = job.logits.cols;
  const double t = job.temperature;
  const float c2 = static_cast<float>(1.4426950408889634 / t);  // log2(e) / T
  const unsigned long long counted = job.reduction == LossReduction::Mean ? *scratch.counted : 1ull;
  const double grad_coef = double(job.grad_scale) / (counted > 0 ? double(counted) : 1.0);
  const int64_t lo = rank * slice < V ? rank * slice : V;
  const int64_t hi = lo + slice < V ? lo + slice : V;
  const int64_t n = hi - lo, chunks = n / kVec;

  for (int64_t i = blockIdx.x / C; i < job.logits.rows; i += gridDim.x / C) {
    const Storage* z = static_cast<const Storage*>(row_ptr<T>(job.logits, i));
    Storage* g = job.grad.data ? static_cast<Storage*>(row_ptr<T>(job.grad, i)) : nullptr;
    const uint8_t status = scratch.status[i];
    if (status != kCounted) {  // the same for the whole cluster: no barrier needed
      if (g) zero_range<T>(g, lo, hi);
      if (rank == 0 && threadIdx.x == 0) store_row_loss(job, scratch, i, status == kNoTarget ? 0.0 : NAN);
      continue;
    }
    copy_slice<T>(buf, z, lo, n, chunks);
    const SliceStats mine = slice_stats<T>(buf, n, chunks, c2, max_scratch, sum_scratch);
    if (threadIdx.x == 0) shared.stats = mine;
    cluster.sync();

    // The row's statistics from every block's, in rank order.
    float m_row = -INFINITY;
    bool fault = false;
    for (int r = 0; r < C; ++r) {
      const SliceStats* s = cluster.map_shared_rank(&shared.stats, r);
      m_row = fmaxf(m_row, s->m);
      fault |= s->bad != 0;
    }
    double d_row = 0.0;
    for (int r = 0; r < C; ++r) {
      const SliceStats* s = cluster.map_shared_rank(&shared.stats, r);
      if (s->d > 0.0) d_row += s->d * exp2((double(s->m) - double(m_row)) * (1.4426950408889634 / t));
    }
    fault |= m_row == -INFINITY || !(d_row > 0.0);

    double part = 0.0;
    if (fault) {
      if (g) zero_range<T>(g, lo, hi);
    } else {
      part = slice_gradient<T>(job, i, buf, g, lo, hi, chunks, m_row, d_row, c2, t, grad_coef, sum_scratch);
    }
    part = block_reduce(part, SumD{}, sum_scratch);  // also: every read of buf precedes the next row's copies
    if (threadIdx.x == 0) shared.part = part;
    cluster.sync();
    if (rank == 0 && threadIdx.x == 0) {
      double loss = 0.0;
      for (int r = 0; r < C; ++r) loss += *cluster.map_shared_rank(&shared.part, r);
      if (fault) loss = NAN;
      store_row_loss(job, scratch, i, loss);
    }
  }
  cluster.sync();  // no block leaves while another may still read its shared memory
#else
  __trap();  // code for an architecture without clusters: the host never launches it (see below)
#endif
}

// Launches the cluster form when it applies; false: the caller runs the default kernel.
template <class T>
bool launch_loss_cluster(const LossJob& job, const LossScratch& scratch, int device, cudaStream_t stream) {
  if (!loss_cluster_enabled()) return false;
  int major = 0, optin = 0;
  check_cuda(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), "reading the compute capability");
  check_cuda(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
             "reading the shared memory per block");
  if (major < 9) return false;
  auto kernel = loss_cluster_kernel<T>;
  // The code this device would run must come from compute_90 or later
  // (a build for sm_80 alone, JIT-compiled here, has the kernel's body out).
  cudaFuncAttributes attributes{};
  check_cuda(cudaFuncGetAttributes(&attributes, kernel), "reading the cluster loss kernel's attributes");
  if (attributes.ptxVersion < 90) return false;
  const size_t elem = sizeof(typename T::Storage);
  const size_t room = size_t(optin) - sizeof(ClusterShared) - kWarps * (sizeof(float) + sizeof(double)) - 64;
  const ClusterPlan plan = plan_cluster(job.logits.cols, elem, room);
  if (plan.blocks == 0) return false;
  const int blocks = plan.blocks;
  const int64_t slice = plan.slice;
  const size_t smem = size_t(slice) * elem;
  opt_in_shared_memory(kernel, smem, "setting the shared memory of the cluster loss kernel");
  cudaLaunchAttribute attr{};
  attr.id = cudaLaunchAttributeClusterDimension;
  attr.val.clusterDim.x = static_cast<unsigned>(blocks);
  attr.val.clusterDim.y = 1;
  attr.val.clusterDim.z = 1;
  cudaLaunchConfig_t config{};
  const int64_t clusters = std::min<int64_t>(job.logits.rows, int64_t(1) << 20);
  config.gridDim = dim3(static_cast<unsigned>(clusters * blocks));
  config.blockDim = dim3(kThreads);
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  config.attrs = &attr;
  config.numAttrs = 1;
  int active = 0;
  if (cudaOccupancyMaxActiveClusters(&active, kernel, &config) != cudaSuccess || active < 1) {
    (void)cudaGetLastError();  // clear it: the default kernel runs instead
    return false;
  }
  check_cuda(cudaLaunchKernelEx(&config, kernel, job, scratch, slice), "launching the cluster loss kernel");
  return true;
}

}  // namespace lr::core::cuda
