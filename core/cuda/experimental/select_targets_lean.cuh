// The select/targets streaming pass in the lean form, compiled in with
// LR_CUDA_EXPERIMENTAL and chosen with LR_CUDA_SELECT_TARGETS_LEAN=1 while it
// waits for a GPU run to show it passes the suites and is faster
// (bench/gpu_check.sh runs both forms); not yet measured. Against the exact
// form in select_targets_row.cuh, per row pair and thread:
//  - the KL arithmetic of lean_kl_scan.h: one FFMA per exponent, s2 by one
//    FFMA with a clamp, no per-element amateur -Inf test (host-tested in
//    tests/test_lean_kl_scan.cpp against the double reference);
//  - 16-bit chunk maxima by packed max (max.bf16x2 / max.f16x2);
//  - candidates tested against a per-thread threshold, refreshed from the
//    block's running maximum only when a chunk passes it;
//  - the block merge rebases each thread's sums to the block maxima in float
//    (one ex2 per side) and adds them in double, where the exact form merges
//    pairs of statistics with double exponentials in every thread.
// Register path only (the cp.async knob does not apply).
#pragma once

#include <cfloat>
#include <cstdint>

#include "block_reduce.cuh"
#include "cuda_kernels.h"
#include "elements.cuh"
#include "lean_kl_scan.h"
#include "select_targets_row.cuh"
#include "targets_row.cuh"

namespace lr::core::cuda {

struct GpuExp2 {
  __host__ __device__ float operator()(float x) const {
#if defined(__CUDA_ARCH__)
    return fast_exp2(x);
#else
    return exp2f(x);
#endif
  }
};

// The largest of a chunk's eight elements (fmaxf semantics: NaN loses).
template <class T>
__device__ __forceinline__ float chunk_max(const RawChunk<T>&, const float (&x)[kVec]) {
  float m = x[0];
#pragma unroll
  for (int i = 1; i < kVec; ++i) m = fmaxf(m, x[i]);
  return m;
}
__device__ __forceinline__ uint32_t max_bf16x2(uint32_t a, uint32_t b) {
  uint32_t d;
  asm("max.bf16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
  return d;
}
__device__ __forceinline__ uint32_t max_f16x2(uint32_t a, uint32_t b) {
  uint32_t d;
  asm("max.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
  return d;
}
template <>
__device__ __forceinline__ float chunk_max<BF16>(const RawChunk<BF16>& r, const float (&)[kVec]) {
  const uint32_t w = max_bf16x2(max_bf16x2(r.bits.x, r.bits.y), max_bf16x2(r.bits.z, r.bits.w));
  return fmaxf(__uint_as_float(w << 16), __uint_as_float(w & 0xFFFF0000u));
}
template <>
__device__ __forceinline__ float chunk_max<F16>(const RawChunk<F16>& r, const float (&)[kVec]) {
  const uint32_t w = max_f16x2(max_f16x2(r.bits.x, r.bits.y), max_f16x2(r.bits.z, r.bits.w));
  return fmaxf(to_float(F16{}, uint16_t(w & 0xFFFFu)), to_float(F16{}, uint16_t(w >> 16)));
}

// One thread's state while streaming: the KL scan and its candidate threshold.
struct LeanThread {
  LeanKlScan kl;
  float threshold = -FLT_MAX;  // below the block's; a chunk under it holds no candidate
};

template <int N>
__device__ __forceinline__ void lean_step(LeanThread& t, const float* e, const float* a, float cmE, float cmA,
                                          int64_t j0, const ScanConsts& k, Candidates& cand, RowShared& rs) {
  if (k.want_kl) {
    lean_consume<N>(t.kl, e, a, cmE, cmA, k.c2, GpuExp2{});
  } else {
#pragma unroll
    for (int i = 0; i < N; ++i) t.kl.bad |= bad_value(e[i]) | bad_value(a[i]);
    t.kl.mE = fmaxf(t.kl.mE, cmE);
    t.kl.mA = fmaxf(t.kl.mA, cmA);
  }
  if (!k.want_targets || !(cmE >= t.threshold)) return;
  // Rare: publish this thread's maximum, take the block's, and test again.
  t.threshold = candidate_threshold(block_running_max(t.kl.mE, rs), k.t_log_beta);
  if (!(cmE >= t.threshold)) return;
  push_candidates<N>(e, a, j0, t.threshold, cand, rs);
}

// Three sums over the block in a fixed order (every thread gets them).
struct Sums3 {
  double x, y, z;
};
__device__ __forceinline__ Sums3 block_sum3(Sums3 v, Sums3* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    v.x += __shfl_xor_sync(0xffffffffu, v.x, o);
    v.y += __shfl_xor_sync(0xffffffffu, v.y, o);
    v.z += __shfl_xor_sync(0xffffffffu, v.z, o);
  }
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  Sums3 all{0.0, 0.0, 0.0};
  for (int w = 0; w < kWarps; ++w) {
    all.x += scratch[w].x;
    all.y += scratch[w].y;
    all.z += scratch[w].z;
  }
  return all;
}

struct LeanScratch {
  float max[kWarps];
  Sums3 sums[kWarps];
};

// A chunk of eight at `p` (16-byte aligned).
template <class T>
__device__ __forceinline__ RawChunk<T> load_aligned(const typename T::Storage* p) {
  RawChunk<T> r;
  if constexpr (sizeof(typename T::Storage) == 2) {
    r.bits = *reinterpret_cast<const uint4*>(p);
  } else {
    r.lo = reinterpret_cast<const float4*>(p)[0];
    r.hi = reinterpret_cast<const float4*>(p)[1];
  }
  return r;
}

template <class TE, class TA>
__device__ __forceinline__ void lean_chunk(LeanThread& t, const RawChunk<TE>& re, const RawChunk<TA>& ra, int64_t c,
                                           const ScanConsts& k, Candidates& cand, RowShared& rs) {
  float e[kVec], a[kVec];
  unpack(re, e);
  unpack(ra, a);
  lean_step<kVec>(t, e, a, chunk_max(re, e), chunk_max(ra, a), c * kVec, k, cand, rs);
}

// Streams one row pair, then merges the block's statistics and writes the
// row's KL and keep flag. Aligned rows: a register pipeline with pointers
// that step by the block's stride (the next chunk pair is loaded before this
// one is used; in the last round the prefetch re-reads this chunk rather
// than branching). Others: chunk by chunk, element loads. Same chunks, same
// order, same sums either way.
template <class TE, class TA>
__device__ RowScanResult lean_scan_row(const SelectTargetsJob& job, int64_t j, const void* erow, const void* arow,
                                       const ScanConsts& k, Candidates& cand, RowShared& rs, LeanScratch& sh) {
  using SE = typename TE::Storage;
  using SA = typename TA::Storage;
  const int64_t S = job.shared_vocab;
  const int64_t B = blockDim.x;
  const int64_t chunks = S / kVec;
  LeanThread t;
  if (aligned16(erow) && aligned16(arow)) {
    const SE* const e0 = static_cast<const SE*>(erow);
    const SE* const e_end = e0 + chunks * kVec;
    const int64_t step = B * kVec;
    const SE* pe = e0 + threadIdx.x * kVec;
    const SA* pa = static_cast<const SA*>(arow) + threadIdx.x * kVec;
    RawChunk<TE> re{};
    RawChunk<TA> ra{};
    if (pe < e_end) {
      re = load_aligned<TE>(pe);
      ra = load_aligned<TA>(pa);
    }
    for (; pe < e_end; pe += step, pa += step) {
      const int64_t ahead = pe + step < e_end ? step : 0;
      const RawChunk<TE> ne = load_aligned<TE>(pe + ahead);
      const RawChunk<TA> na = load_aligned<TA>(pa + ahead);
      lean_chunk(t, re, ra, (pe - e0) / kVec, k, cand, rs);
      re = ne;
      ra = na;
    }
  } else {
    for (int64_t c = threadIdx.x; c < chunks; c += B)
      lean_chunk(t, load_raw<TE>(erow, c, false), load_raw<TA>(arow, c, false), c, k, cand, rs);
  }
  for (int64_t i = chunks * kVec + threadIdx.x; i < S; i += B) {
    const float e = load_one<TE>(erow, i), a = load_one<TA>(arow, i);
    lean_step<1>(t, &e, &a, e, a, i, k, cand, rs);
  }

  RowScanResult out{false, false, -INFINITY};
  const bool wide = k.want_kl && __syncthreads_or(t.kl.wide) != 0;
  out.zmaxE = block_reduce(t.kl.mE, MaxF{}, sh.max);
  const float zmaxA = block_reduce(t.kl.mA, MaxF{}, sh.max);
  if (!k.want_kl) {
    out.fault = __syncthreads_or(t.kl.bad) != 0 || out.zmaxE == -INFINITY || zmaxA == -INFINITY;
    return out;
  }
  bool bad, amateur_zero_any;
  Sums3 piece{0.0, 0.0, 0.0};
  if (!wide) {
    bad = __syncthreads_or(faulty(t.kl)) != 0;
    amateur_zero_any = __syncthreads_or(amateur_zero(t.kl)) != 0;
    const KlPiece p = rebased(t.kl, out.zmaxE * k.c2, zmaxA * k.c2, GpuExp2{});
    piece = {p.dE, p.dA, p.s2};
  } else {  // rare: references past 2^30; the row again, relative to the block maxima
    RescanSums r;
    if (out.zmaxE > -INFINITY && zmaxA > -INFINITY)
      for (int64_t i = threadIdx.x; i < S; i += B)
        rescan_element(r, load_one<TE>(erow, i), load_one<TA>(arow, i), out.zmaxE, zmaxA, k.c2, GpuExp2{});
    bad = __syncthreads_or(r.bad || r.dE != r.dE || r.dA != r.dA) != 0;
    amateur_zero_any = __syncthreads_or(r.amateur_zero) != 0;
    piece = {r.dE, r.dA, r.s2};
  }
  out.fault = bad || out.zmaxE == -INFINITY || zmaxA == -INFINITY;
  // Sums of rows with a fault or a p_A = 0 are not used (they may be NaN).
  const Sums3 all = block_sum3(piece, sh.sums);
  const double kl = out.fault ? NAN : amateur_zero_any ? INFINITY : kl_from_sums(all.x, all.y, all.z);
  // Decided on the value written, as on the CPU: keep == (kl_out > kappa).
  const float kl_f = static_cast<float>(kl);
  out.keep = !out.fault && kl_f > job.kl_threshold;
  if (threadIdx.x == 0) {
    job.kl.data[j * job.kl.stride] = kl_f;
    if (job.keep.data) job.keep.data[j * job.keep.stride] = out.keep ? 1 : 0;
  }
  return out;
}

}  // namespace lr::core::cuda
