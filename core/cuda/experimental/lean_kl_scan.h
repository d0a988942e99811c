// The select/targets pass's KL statistics in the lean form
// (select_targets_lean.cuh, LR_CUDA_SELECT_TARGETS_LEAN=1): what one thread
// keeps while it streams its share of a row pair, and how the block turns
// the threads' pieces into the KL. Host and device code, so that host tests
// run this arithmetic, with an exp2 that behaves like the GPU's
// ex2.approx.ftz, against the double-precision reference.
//
// Units are base 2: a logit z counts as z * c2, c2 = log2(e) / T. A thread
// measures exponents from a reference r = fl(m * c2) of its running maximum
// m, so one FFMA gives an exponent, fma(z, c2, -r), rounded once. r is a
// float known exactly, and the KL
//     KL = ln 2 * s2 / dE - ln dE + ln dA,
//     dE = sum 2^lE, dA = sum 2^lA, s2 = sum 2^lE (lE - lA)
// is the same whatever the references, as long as the sums and every
// rebasing use the same ones. Rebasing from r to r' scales by 2^(r - r'),
// a difference of two floats that is exact when they are within a factor of
// two (Sterbenz): for logits of magnitude 1e4 the exponents near the maximum
// keep their full precision, where forming z * c2 first would not.
//
// Per element pair: one FFMA per side, two ex2, two adds, and s2 as
// fma(pE, max(lE - lA, -FLT_MAX), s2). The clamp turns the -Inf - -Inf of a
// column that is -Inf on both sides into a finite number that pE = 0 zeroes.
// An amateur -Inf under a finite expert logit (p_A = 0 < p_E: KL = +Inf)
// leaves s2 non-finite (+Inf, or NaN when pE underflowed), and nothing else
// can once the row is free of NaN and +Inf, so "s2 is not finite" is the
// amateur-zero test; a non-finite s2 is never rebased, it stays.
//
// fl(m * c2) is off from m * c2 by up to half an ulp, which every exponent
// of the thread then carries: harmless below 2^30 (at most 2^5, so the
// largest term stays within 2^+-32 of 1), but past that the terms could
// overflow. A thread whose reference reaches 2^30 in magnitude (|z| / T
// above ~7e8: no real logits) marks itself wide, and the block takes the
// row's statistics again (`rescan_element`), relative to the block maxima in
// the subtraction form of the exact kernel.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define LR_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define LR_HOST_DEVICE inline
#endif
#if defined(__CUDA_ARCH__)  // the device pass: the host compiler does not know the pragma
#define LR_UNROLL _Pragma("unroll")
#else
#define LR_UNROLL
#endif

namespace lr::core::cuda {

// |reference| at or beyond this marks a thread wide.
constexpr float kWideReference = 0x1p30f;

struct LeanKlScan {
  float mE = -INFINITY, mA = -INFINITY;  // raw running maxima
  float rE = -INFINITY, rA = -INFINITY;  // references fl(m * c2)
  float dE = 0.0f, dA = 0.0f, s2 = 0.0f;  // relative to the references
  bool bad = false;                       // a NaN or +Inf seen where no sum takes it
  bool lone_expert = false;               // a finite expert logit while every amateur one was -Inf
  bool wide = false;                      // a reference too large: the block rescans the row
};

// A thread's sums relative to the references (rE2, rA2), both >= its own.
// Sums of 0 stay 0 whatever the references; a NaN sum (a fault) stays NaN.
struct KlPiece {
  float dE, dA, s2;
};

template <class Exp2>
LR_HOST_DEVICE KlPiece rebased(const LeanKlScan& s, float rE2, float rA2, Exp2 ex2) {
  KlPiece p{s.dE, s.dA, s.s2};
  if (s.dE > 0.0f) {
    const float uE = s.rE - rE2;
    const float f = ex2(uE);
    const float uA = s.rA > -INFINITY ? s.rA - rA2 : 0.0f;
    if (s.s2 < INFINITY) p.s2 = f > 0.0f ? f * fmaf(s.dE, uE - uA, s.s2) : 0.0f;
    p.dE = s.dE * f;
  }
  if (s.dA > 0.0f) p.dA = s.dA * ex2(s.rA - rA2);
  return p;
}

// New running maxima (nE >= mE, nA >= mA): new references, sums rebased.
template <class Exp2>
LR_HOST_DEVICE void raise_maxima(LeanKlScan& s, float nE, float nA, float c2, Exp2 ex2) {
  const float rE = nE * c2, rA = nA * c2;
  const bool wide_now =
      (nE > -INFINITY && !(fabsf(rE) < kWideReference)) || (nA > -INFINITY && !(fabsf(rA) < kWideReference));
  // Earlier wide maxima (a first chunk masked with -1e9, say) stop counting
  // once the maxima are ordinary and the sums finite: those sums are exact
  // relative to their reference and rebase like any others (to ~0). Sums
  // that overflowed cannot be told from a fault: the thread stays wide.
  const bool finite_sums = s.dE < INFINITY && s.dA < INFINITY && s.s2 < INFINITY;
  s.wide = wide_now || (s.wide && !finite_sums);
  const KlPiece p = rebased(s, rE, rA, ex2);
  s.dE = p.dE;
  s.dA = p.dA;
  s.s2 = p.s2;
  s.mE = nE;
  s.mA = nA;
  s.rE = rE;
  s.rA = rA;
}

// N element pairs (a chunk of eight, or one) whose maxima cmE, cmA the
// caller found (a packed max for 16-bit logits). With KL wanted.
template <int N, class Exp2>
LR_HOST_DEVICE void lean_consume(LeanKlScan& s, const float* e, const float* a, float cmE, float cmA, float c2,
                                 Exp2 ex2) {
  const float nE = fmaxf(s.mE, cmE), nA = fmaxf(s.mA, cmA);
  if (nE > s.mE || nA > s.mA) raise_maxima(s, nE, nA, c2, ex2);
  if (nE > -INFINITY && nA > -INFINITY) {
    // A NaN or +Inf makes dE or dA NaN here (a NaN propagates; a +Inf is the
    // maximum, its reference +Inf, and fma(+Inf, c2, -Inf) is NaN).
LR_UNROLL
    for (int i = 0; i < N; ++i) {
      const float lE = fmaf(e[i], c2, -s.rE);
      const float lA = fmaf(a[i], c2, -s.rA);
      const float pE = ex2(lE);
      s.dE += pE;
      s.dA += ex2(lA);
      s.s2 = fmaf(pE, fmaxf(lE - lA, -FLT_MAX), s.s2);
    }
    return;
  }
  // A side with no finite value yet: the other side's sum alone; NaN on the
  // empty side is tested here, since no sum would carry it.
  if (nA > -INFINITY) {
LR_UNROLL
    for (int i = 0; i < N; ++i) s.dA += ex2(fmaf(a[i], c2, -s.rA));
  }
  if (nE > -INFINITY) {
LR_UNROLL
    for (int i = 0; i < N; ++i) {
      s.dE += ex2(fmaf(e[i], c2, -s.rE));
      s.lone_expert |= e[i] > -INFINITY;
    }
  }
LR_UNROLL
  for (int i = 0; i < N; ++i) s.bad |= (!(nE > -INFINITY) && e[i] != e[i]) | (!(nA > -INFINITY) && a[i] != a[i]);
}

// After the scan: this thread's share of the row has an amateur -Inf under
// a finite expert logit.
LR_HOST_DEVICE bool amateur_zero(const LeanKlScan& s) { return s.lone_expert || !(s.s2 < INFINITY); }

// A NaN or +Inf in this thread's share (valid when the block is not wide).
LR_HOST_DEVICE bool faulty(const LeanKlScan& s) { return s.bad || s.dE != s.dE || s.dA != s.dA; }

// The wide-row rescan, one element pair, relative to the block maxima zE, zA
// (finite): sums in the subtraction form, faults and p_A = 0 tested directly.
struct RescanSums {
  float dE = 0.0f, dA = 0.0f, s2 = 0.0f;
  bool bad = false, amateur_zero = false;
};
template <class Exp2>
LR_HOST_DEVICE void rescan_element(RescanSums& r, float e, float a, float zE, float zA, float c2, Exp2 ex2) {
  r.bad |= !(e < INFINITY) || !(a < INFINITY);
  r.amateur_zero |= a == -INFINITY && e > -INFINITY;
  const float lE = (e - zE) * c2, lA = (a - zA) * c2;
  const float pE = ex2(lE);
  r.dE += pE;
  r.dA += ex2(lA);
  r.s2 += pE > 0.0f ? pE * (lE - lA) : 0.0f;
}

// The KL of the row from the block's sums (relative to common references),
// in natural units; clamped at 0 against rounding.
LR_HOST_DEVICE double kl_from_sums(double dE, double dA, double s2) {
  if (s2 == INFINITY) return s2;
  const double v = 0.6931471805599453 * s2 / dE - log(dE) + log(dA);
  return v < 0.0 ? 0.0 : v;  // as core/kl_merge.h: a NaN is passed on, not hidden as 0
}

}  // namespace lr::core::cuda
