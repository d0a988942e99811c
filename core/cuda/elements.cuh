// Device-side reads and writes of logits in their three storage types.
// Rows whose start is 16-byte aligned are read eight elements at a time with
// 16-byte loads (two for float32); others element by element.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "logits_view.h"

namespace lr::core::cuda {

constexpr int kVec = 8;  // elements per vector step

struct F32 { using Storage = float; };
struct BF16 { using Storage = uint16_t; };
struct F16 { using Storage = uint16_t; };

__device__ __forceinline__ float to_float(F32, float x) { return x; }
__device__ __forceinline__ float to_float(BF16, uint16_t x) { return __uint_as_float(uint32_t(x) << 16); }
__device__ __forceinline__ float to_float(F16, uint16_t x) { return __half2float(__ushort_as_half(x)); }

__device__ __forceinline__ float to_storage(F32, float x) { return x; }
__device__ __forceinline__ uint16_t to_storage(BF16, float x) {
  return __bfloat16_as_ushort(__float2bfloat16_rn(x));
}
__device__ __forceinline__ uint16_t to_storage(F16, float x) { return __half_as_ushort(__float2half_rn(x)); }

template <class T>
__device__ __forceinline__ float load_one(const void* row, int64_t j) {
  return to_float(T{}, static_cast<const typename T::Storage*>(row)[j]);
}

template <class T>
__device__ __forceinline__ void store_one(void* row, int64_t j, float v) {
  static_cast<typename T::Storage*>(row)[j] = to_storage(T{}, v);
}

// Eight consecutive elements starting at element 8 * chunk (row 16-byte aligned).
template <class T>
__device__ __forceinline__ void load_vec(const void* row, int64_t chunk, float (&out)[kVec]);

template <>
__device__ __forceinline__ void load_vec<F32>(const void* row, int64_t chunk, float (&out)[kVec]) {
  const float4* p = static_cast<const float4*>(row) + 2 * chunk;
  const float4 a = p[0], b = p[1];
  out[0] = a.x; out[1] = a.y; out[2] = a.z; out[3] = a.w;
  out[4] = b.x; out[5] = b.y; out[6] = b.z; out[7] = b.w;
}

template <class T>
__device__ __forceinline__ void load_vec_16bit(const void* row, int64_t chunk, float (&out)[kVec]) {
  const uint4 v = static_cast<const uint4*>(row)[chunk];
  const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    out[2 * i] = to_float(T{}, uint16_t(w[i] & 0xFFFFu));
    out[2 * i + 1] = to_float(T{}, uint16_t(w[i] >> 16));
  }
}
template <>
__device__ __forceinline__ void load_vec<BF16>(const void* row, int64_t chunk, float (&out)[kVec]) {
  load_vec_16bit<BF16>(row, chunk, out);
}
template <>
__device__ __forceinline__ void load_vec<F16>(const void* row, int64_t chunk, float (&out)[kVec]) {
  load_vec_16bit<F16>(row, chunk, out);
}

// Stores eight elements at element 8 * chunk (row 16-byte aligned).
template <class T>
__device__ __forceinline__ void store_vec(void* row, int64_t chunk, const float (&in)[kVec]);

template <>
__device__ __forceinline__ void store_vec<F32>(void* row, int64_t chunk, const float (&in)[kVec]) {
  float4* p = static_cast<float4*>(row) + 2 * chunk;
  p[0] = make_float4(in[0], in[1], in[2], in[3]);
  p[1] = make_float4(in[4], in[5], in[6], in[7]);
}
template <class T>
__device__ __forceinline__ void store_vec_16bit(void* row, int64_t chunk, const float (&in)[kVec]) {
  uint32_t w[4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
    w[i] = uint32_t(to_storage(T{}, in[2 * i])) | (uint32_t(to_storage(T{}, in[2 * i + 1])) << 16);
  static_cast<uint4*>(row)[chunk] = make_uint4(w[0], w[1], w[2], w[3]);
}
template <>
__device__ __forceinline__ void store_vec<BF16>(void* row, int64_t chunk, const float (&in)[kVec]) {
  store_vec_16bit<BF16>(row, chunk, in);
}
template <>
__device__ __forceinline__ void store_vec<F16>(void* row, int64_t chunk, const float (&in)[kVec]) {
  store_vec_16bit<F16>(row, chunk, in);
}

__device__ __forceinline__ bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// ex2.approx: one MUFU instruction; -Inf gives +0 and NaN stays NaN, which
// the kernels rely on. Accurate to 2 ulp, flushing results below 2^-126.
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// A chunk of eight elements as loaded, before conversion to float: what a
// thread keeps in registers while the next chunk is on its way.
template <class T>
struct RawChunk {
  uint4 bits;  // 8 x 16-bit
};
template <>
struct RawChunk<F32> {
  float4 lo, hi;
};

template <class T>
__device__ __forceinline__ RawChunk<T> load_raw(const void* row, int64_t chunk, bool aligned) {
  RawChunk<T> r;
  const uint16_t* p = static_cast<const uint16_t*>(row) + chunk * kVec;
  if (aligned) {
    r.bits = *reinterpret_cast<const uint4*>(p);
  } else {
    r.bits.x = uint32_t(p[0]) | (uint32_t(p[1]) << 16);
    r.bits.y = uint32_t(p[2]) | (uint32_t(p[3]) << 16);
    r.bits.z = uint32_t(p[4]) | (uint32_t(p[5]) << 16);
    r.bits.w = uint32_t(p[6]) | (uint32_t(p[7]) << 16);
  }
  return r;
}
template <>
__device__ __forceinline__ RawChunk<F32> load_raw<F32>(const void* row, int64_t chunk, bool aligned) {
  RawChunk<F32> r;
  const float* p = static_cast<const float*>(row) + chunk * kVec;
  if (aligned) {
    r.lo = reinterpret_cast<const float4*>(p)[0];
    r.hi = reinterpret_cast<const float4*>(p)[1];
  } else {
    r.lo = make_float4(p[0], p[1], p[2], p[3]);
    r.hi = make_float4(p[4], p[5], p[6], p[7]);
  }
  return r;
}

template <class T>
__device__ __forceinline__ void unpack(const RawChunk<T>& r, float (&out)[kVec]) {
  const uint32_t w[4] = {r.bits.x, r.bits.y, r.bits.z, r.bits.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    out[2 * i] = to_float(T{}, uint16_t(w[i] & 0xFFFFu));
    out[2 * i + 1] = to_float(T{}, uint16_t(w[i] >> 16));
  }
}
template <>
__device__ __forceinline__ void unpack<F32>(const RawChunk<F32>& r, float (&out)[kVec]) {
  out[0] = r.lo.x; out[1] = r.lo.y; out[2] = r.lo.z; out[3] = r.lo.w;
  out[4] = r.hi.x; out[5] = r.hi.y; out[6] = r.hi.z; out[7] = r.hi.w;
}

// Chunk c (elements [8c, 8c + 8)) whatever the row's alignment: one or two
// 16-byte loads when the row start allows, else eight element loads. The
// values, and so every sum over them, do not depend on which: a row's
// results are the same bits wherever it sits in memory.
template <class T>
__device__ __forceinline__ void load_chunk(const void* row, int64_t chunk, bool aligned, float (&out)[kVec]) {
  if (aligned) {
    load_vec<T>(row, chunk, out);
  } else {
#pragma unroll
    for (int i = 0; i < kVec; ++i) out[i] = load_one<T>(row, chunk * kVec + i);
  }
}
template <class T>
__device__ __forceinline__ void store_chunk(void* row, int64_t chunk, bool aligned, const float (&in)[kVec]) {
  if (aligned) {
    store_vec<T>(row, chunk, in);
  } else {
#pragma unroll
    for (int i = 0; i < kVec; ++i) store_one<T>(row, chunk * kVec + i, in[i]);
  }
}

template <class T>
__device__ __forceinline__ const void* row_ptr(const LogitsView& v, int64_t r) {
  return static_cast<const typename T::Storage*>(v.data) + r * v.row_stride;
}
template <class T>
__device__ __forceinline__ void* row_ptr(const MutLogitsView& v, int64_t r) {
  return static_cast<typename T::Storage*>(v.data) + r * v.row_stride;
}

// A NaN or +Inf: the row is a data fault.
__device__ __forceinline__ bool bad_value(float x) { return !(x < __int_as_float(0x7f800000)); }

// Order-preserving map of floats to unsigned keys (for atomicMax and radix
// select). -0.0 gets +0.0's key: they are equal logits, whose tie the lower
// id wins, as on the CPU (tests/test_shard_targets.cpp, SignedZeros...).
__device__ __forceinline__ uint32_t ordered_key(float f) {
  const uint32_t u = __float_as_uint(f == 0.0f ? 0.0f : f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float key_to_float(uint32_t k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7FFFFFFFu) : ~k);
}

}  // namespace lr::core::cuda
