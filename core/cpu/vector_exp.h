// exp(x) for x <= 0 in plain float arithmetic that the compiler vectorises
// inside `omp simd` loops (libm's expf is a call, which blocks vectorisation
// unless -ffast-math, and fast-math would break our NaN/Inf handling).
// Cody-Waite range reduction to r in [-ln2/2, ln2/2] and the Cephes minimax
// polynomial for exp(r): about 1 ulp. Returns exactly 0 for x < -87.3
// (including -Inf), which the KL kernel relies on to drop p = 0 terms.
#pragma once

#include <cstdint>
#include <cstring>

namespace lr::core {

#pragma omp declare simd notinbranch
static inline float exp_nonpositive(float x) {
  constexpr float kLowest = -87.33f;  // exp below is under FLT_MIN: flush to 0
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;
  constexpr float kLn2Lo = -2.12194440e-4f;
  constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23: float add rounds to an integer
  // One compare serves the clamp and the flush (x > 0 never occurs here:
  // callers pass logits minus their maximum).
  const bool underflow = x < kLowest;
  const float xc = underflow ? kLowest : x;
  const float t = xc * kLog2e + kRoundMagic;
  const float n = t - kRoundMagic;  // round(x / ln2) as a float
  const float r = (xc - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * (r * r) + r + 1.0f;
  // 2^n by building the exponent field: n in [-126, 0] keeps it normal.
  // t's mantissa holds n + 2^22 (its ulp is 1); reading it from the bits
  // rather than converting n keeps a NaN input free of undefined behaviour.
  uint32_t tbits;
  std::memcpy(&tbits, &t, sizeof tbits);
  const int32_t ni = static_cast<int32_t>(tbits & 0x7FFFFFu) - 0x400000;
  const uint32_t bits = static_cast<uint32_t>(ni + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return underflow ? 0.0f : er * scale;
}

}  // namespace lr::core
