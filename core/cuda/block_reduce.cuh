// Block-wide reductions for one-row-per-block kernels, and the running
// softmax / KL statistics each thread keeps and the block merges (in double,
// like core/kl_merge.h on the CPU, so the order of pieces does not matter).
#pragma once

#include <cstdint>

namespace lr::core::cuda {

constexpr int kThreads = 512;  // threads per block: one row per block
constexpr int kWarps = kThreads / 32;

template <class T, class Op>
__device__ __forceinline__ T warp_reduce(T v, Op op) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Every thread of the block gets the result. `scratch` holds kWarps values.
template <class T, class Op>
__device__ __forceinline__ T block_reduce(T v, Op op, T* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_reduce(v, op);
  __syncthreads();  // scratch may still be read by a previous reduction
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = scratch[0];
  for (int w = 1; w < kWarps; ++w) v = op(v, scratch[w]);
  return v;
}

struct MaxF { __device__ float operator()(float a, float b) const { return fmaxf(a, b); } };
struct SumD { __device__ double operator()(double a, double b) const { return a + b; } };
struct MaxD { __device__ double operator()(double a, double b) const { return fmax(a, b); } };
struct SumI { __device__ int64_t operator()(int64_t a, int64_t b) const { return a + b; } };

// Softmax statistics of a piece of a row, relative to its maximum m (in
// units of z / T): d = sum exp(z / T - m).
struct SoftmaxStats {
  double m, d;
};
__device__ __forceinline__ SoftmaxStats merge(SoftmaxStats a, SoftmaxStats b) {
  const double m = fmax(a.m, b.m);
  if (m == -INFINITY) return {m, 0.0};
  const double d = (a.d > 0.0 ? a.d * exp(a.m - m) : 0.0) + (b.d > 0.0 ? b.d * exp(b.m - m) : 0.0);
  return {m, d};
}

// KL(p_E || p_A) statistics of a piece (see core/kl_merge.h):
// dE = sum exp(e - mE), dA = sum exp(a - mA), s = sum exp(e - mE)((e - mE) - (a - mA)),
// all in units of z / T; s = +Inf once p_A = 0 under a finite expert logit.
struct KlStats {
  double mE, mA, dE, dA, s;
};
__device__ __forceinline__ KlStats merge(const KlStats& p, const KlStats& q) {
  const double ME = fmax(p.mE, q.mE), MA = fmax(p.mA, q.mA);
  KlStats r{ME, MA, 0.0, 0.0, 0.0};
  const KlStats* pieces[2] = {&p, &q};
  for (const KlStats* x : pieces) {
    if (x->dE > 0.0) {
      const double f = exp(x->mE - ME);
      r.dE += x->dE * f;
      const double shift = x->mA == -INFINITY ? INFINITY : (x->mE - ME) - (x->mA - MA);
      r.s += x->s == INFINITY || shift == INFINITY ? INFINITY : f * (x->s + x->dE * shift);  // as core/kl_merge.h
    }
    if (x->dA > 0.0) r.dA += x->dA * exp(x->mA - MA);
  }
  return r;
}
__device__ __forceinline__ double kl_of(const KlStats& k) {
  if (k.s == INFINITY) return k.s;
  const double v = k.s / k.dE - log(k.dE) + log(k.dA);
  return v < 0.0 ? 0.0 : v;  // as core/kl_merge.h: a NaN is passed on, not hidden as 0
}

template <class S>
__device__ __forceinline__ S shfl_stats(const S& v, int offset);

template <>
__device__ __forceinline__ KlStats shfl_stats(const KlStats& v, int o) {
  return {__shfl_xor_sync(0xffffffffu, v.mE, o), __shfl_xor_sync(0xffffffffu, v.mA, o),
          __shfl_xor_sync(0xffffffffu, v.dE, o), __shfl_xor_sync(0xffffffffu, v.dA, o),
          __shfl_xor_sync(0xffffffffu, v.s, o)};
}
template <>
__device__ __forceinline__ SoftmaxStats shfl_stats(const SoftmaxStats& v, int o) {
  return {__shfl_xor_sync(0xffffffffu, v.m, o), __shfl_xor_sync(0xffffffffu, v.d, o)};
}

// Merges every thread's statistics; every thread gets the result.
template <class S>
__device__ __forceinline__ S block_merge(S v, S* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = merge(v, shfl_stats(v, o));
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = scratch[0];
  for (int w = 1; w < kWarps; ++w) v = merge(v, scratch[w]);
  return v;
}

}  // namespace lr::core::cuda
