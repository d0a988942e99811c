#include "block_kernels.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "vector_exp.h"

// Clones for AVX-512 and AVX2+FMA+F16C machines, and the x86-64 baseline.
#if defined(__x86_64__) && !defined(LR_NO_TARGET_CLONES)
#define LR_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LR_SIMD_CLONES
#endif

namespace lr::core::cpu {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

inline float bf16_to_float(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Round to nearest even; NaN becomes a quiet NaN.
inline uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (u >> 16) | 0x40u;
  return static_cast<uint16_t>(f != f ? quiet_nan : rounded);
}

#ifdef __FLT16_MANT_DIG__  // the compiler has _Float16 (gcc >= 12, clang >= 15 on x86-64)
inline float f16_to_float(uint16_t b) {
  _Float16 h;
  std::memcpy(&h, &b, sizeof h);
  return static_cast<float>(h);
}

inline uint16_t float_to_f16(float f) {
  const _Float16 h = static_cast<_Float16>(f);
  uint16_t b;
  std::memcpy(&b, &h, sizeof b);
  return b;
}
#else  // the same conversions in integer arithmetic (clang 14, the fuzz preset's compiler)
inline float f16_to_float(uint16_t b) {
  const uint32_t sign = uint32_t(b & 0x8000u) << 16, exp = (b >> 10) & 0x1Fu, mant = b & 0x3FFu;
  if (exp == 0) return sign ? -std::ldexp(float(mant), -24) : std::ldexp(float(mant), -24);  // zero, subnormal
  const uint32_t u = sign | (exp == 31 ? 0x7F800000u | (mant << 13) : ((exp + 112) << 23) | (mant << 13));
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Round to nearest even (F. Giesen's float_to_half_fast3_rtne); NaN stays a quiet NaN.
inline uint16_t float_to_f16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const uint32_t sign = u & 0x80000000u;
  u ^= sign;
  uint32_t o;
  if (u >= (143u << 23)) {  // overflow to Inf, Inf, NaN
    o = u > (255u << 23) ? 0x7E00u | ((u >> 13) & 0x3FFu) : 0x7C00u;
  } else if (u < (113u << 23)) {  // a subnormal half or zero: the FPU rounds in the magic's ulp
    const uint32_t magic_bits = 126u << 23;
    float magic, v;
    std::memcpy(&magic, &magic_bits, sizeof magic);
    std::memcpy(&v, &u, sizeof v);
    v += magic;
    std::memcpy(&o, &v, sizeof o);
    o -= magic_bits;
  } else {
    const uint32_t mant_odd = (u >> 13) & 1u;
    o = (u + (uint32_t(15 - 127) << 23) + 0xFFFu + mant_odd) >> 13;
  }
  return static_cast<uint16_t>(o | (sign >> 16));
}
#endif

// The element type of float16 rows: the compiler's own where it has one (its
// conversions vectorise), else the bits.
#ifdef __FLT16_MANT_DIG__
using Half = _Float16;
inline float half_to_float(Half h) { return static_cast<float>(h); }
inline Half float_to_half(float f) { return static_cast<Half>(f); }
#else
using Half = uint16_t;
inline float half_to_float(Half h) { return f16_to_float(h); }
inline Half float_to_half(float f) { return float_to_f16(f); }
#endif

LR_SIMD_CLONES
BlockLoad load_f32(const float* src, int64_t n, float* dst) {
  float m = -kInf;
  int bad = 0;
#pragma omp simd reduction(max : m) reduction(| : bad)
  for (int64_t j = 0; j < n; ++j) {
    const float raw = src[j];
    bad |= !(raw < kInf);
    dst[j] = raw;
    m = raw > m ? raw : m;
  }
  return {m, bad != 0};
}

LR_SIMD_CLONES
BlockLoad load_bf16(const uint16_t* src, int64_t n, float* dst) {
  float m = -kInf;
  int bad = 0;
#pragma omp simd reduction(max : m) reduction(| : bad)
  for (int64_t j = 0; j < n; ++j) {
    const float raw = bf16_to_float(src[j]);
    bad |= !(raw < kInf);
    dst[j] = raw;
    m = raw > m ? raw : m;
  }
  return {m, bad != 0};
}

LR_SIMD_CLONES
BlockLoad load_f16(const Half* src, int64_t n, float* dst) {
  float m = -kInf;
  int bad = 0;
#pragma omp simd reduction(max : m) reduction(| : bad)
  for (int64_t j = 0; j < n; ++j) {
    const float raw = half_to_float(src[j]);
    bad |= !(raw < kInf);
    dst[j] = raw;
    m = raw > m ? raw : m;
  }
  return {m, bad != 0};
}

LR_SIMD_CLONES
void store_softmax_f32(const float* x, int64_t n, float m, float inv_t, float log_d, float coef, float* dst) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) dst[j] = coef * exp_nonpositive((x[j] - m) * inv_t - log_d);
}

LR_SIMD_CLONES
void store_softmax_bf16(const float* x, int64_t n, float m, float inv_t, float log_d, float coef, uint16_t* dst) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) dst[j] = float_to_bf16(coef * exp_nonpositive((x[j] - m) * inv_t - log_d));
}

LR_SIMD_CLONES
void store_softmax_f16(const float* x, int64_t n, float m, float inv_t, float log_d, float coef, Half* dst) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j)
    dst[j] = float_to_half(coef * exp_nonpositive((x[j] - m) * inv_t - log_d));
}

}  // namespace

BlockLoad load_block(const void* src, ElemType type, int64_t n, float* dst) {
  switch (type) {
    case ElemType::F32: return load_f32(static_cast<const float*>(src), n, dst);
    case ElemType::BF16: return load_bf16(static_cast<const uint16_t*>(src), n, dst);
    case ElemType::F16: return load_f16(static_cast<const Half*>(src), n, dst);
  }
  return {kInf, true};
}

LR_SIMD_CLONES
float sum_exp_block(const float* x, int64_t n, float m, float inv_t) {
  float d = 0.0f;
#pragma omp simd reduction(+ : d)
  for (int64_t j = 0; j < n; ++j) d += exp_nonpositive((x[j] - m) * inv_t);
  return d;
}

LR_SIMD_CLONES
KlPartials kl_partials_block(const float* e, const float* a, int64_t n, float mE, float mA, float inv_t) {
  float dE = 0.0f, dA = 0.0f, s = 0.0f;
  int amateur_zero = 0;
#pragma omp simd reduction(+ : dE, dA, s) reduction(| : amateur_zero)
  for (int64_t j = 0; j < n; ++j) {
    const float le = (e[j] - mE) * inv_t;
    const float la = (a[j] - mA) * inv_t;
    const float pe = exp_nonpositive(le);
    dE += pe;
    dA += exp_nonpositive(la);
    // pe == 0 (underflow or e = -Inf) drops the term, which would otherwise be
    // 0 * Inf = NaN; p_A = 0 under a finite expert logit is flagged instead.
    s += pe > 0.0f ? pe * (le - la) : 0.0f;
    amateur_zero |= (la == -kInf) & (le > -kInf);
  }
  return {dE, dA, amateur_zero ? kInf : s};
}

void store_scaled_softmax_block(const float* x, int64_t n, float m, float inv_t, float log_d, float coef,
                                void* dst, ElemType type) {
  switch (type) {
    case ElemType::F32: store_softmax_f32(x, n, m, inv_t, log_d, coef, static_cast<float*>(dst)); break;
    case ElemType::BF16: store_softmax_bf16(x, n, m, inv_t, log_d, coef, static_cast<uint16_t*>(dst)); break;
    case ElemType::F16: store_softmax_f16(x, n, m, inv_t, log_d, coef, static_cast<Half*>(dst)); break;
  }
}

void store_zero_block(void* dst, ElemType type, int64_t n) {
  // +0.0 is all-zero bits in all three formats.
  std::memset(dst, 0, static_cast<size_t>(n) * static_cast<size_t>(elem_bytes(type)));
}

float load_one(const void* row, ElemType type, int64_t j) {
  switch (type) {
    case ElemType::F32: return static_cast<const float*>(row)[j];
    case ElemType::BF16: return bf16_to_float(static_cast<const uint16_t*>(row)[j]);
    case ElemType::F16: return f16_to_float(static_cast<const uint16_t*>(row)[j]);
  }
  return std::numeric_limits<float>::quiet_NaN();
}

void store_one(void* row, ElemType type, int64_t j, float v) {
  switch (type) {
    case ElemType::F32: static_cast<float*>(row)[j] = v; break;
    case ElemType::BF16: static_cast<uint16_t*>(row)[j] = float_to_bf16(v); break;
    case ElemType::F16: static_cast<uint16_t*>(row)[j] = float_to_f16(v); break;
  }
}

}  // namespace lr::core::cpu
