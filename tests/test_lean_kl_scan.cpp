// The lean select/targets KL arithmetic (core/cuda/experimental/
// lean_kl_scan.h) run on the host
// exactly as the kernel partitions a row: thread t of B takes chunks of eight
// t, t + B, ... (maxima per chunk), then the tail elements one by one; the
// block rebases every thread's sums to its maxima' references, or rescans a
// wide row. The exp2 here behaves like ex2.approx.ftz (results below 2^-126
// flushed). Compared with the double-precision reference (lrref::kl), so the
// FFMA-exponent bookkeeping, the clamp that keeps -Inf - -Inf out of s2, the
// amateur-zero test through a non-finite s2 and the wide-row rescan are
// checked without a GPU; the kernel's block mechanics are checked by the CUDA
// suites on a GPU.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <random>
#include <vector>

#include "lean_kl_scan.h"
#include "reference/brute_force.h"

namespace {

using lr::core::cuda::KlPiece;
using lr::core::cuda::LeanKlScan;
using lr::core::cuda::RescanSums;

struct FlushingExp2 {
  float operator()(float x) const {
    const float y = std::exp2(x);
    return y < 0x1p-126f ? 0.0f : y;  // also -Inf -> 0; NaN stays NaN
  }
};

struct BlockResult {
  double kl = 0;
  bool wide = false;
};

BlockResult block_kl(const std::vector<float>& e, const std::vector<float>& a, float T, int threads) {
  const FlushingExp2 ex2;
  const float c2 = static_cast<float>(1.4426950408889634 / T);
  const int64_t S = static_cast<int64_t>(e.size());
  const int64_t chunks = S / 8;
  std::vector<LeanKlScan> scans(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    LeanKlScan& s = scans[static_cast<size_t>(t)];
    for (int64_t c = t; c < chunks; c += threads) {
      const float* pe = &e[static_cast<size_t>(c * 8)];
      const float* pa = &a[static_cast<size_t>(c * 8)];
      float cmE = pe[0], cmA = pa[0];
      for (int i = 1; i < 8; ++i) {
        cmE = std::fmax(cmE, pe[i]);
        cmA = std::fmax(cmA, pa[i]);
      }
      lr::core::cuda::lean_consume<8>(s, pe, pa, cmE, cmA, c2, ex2);
    }
    for (int64_t i = chunks * 8 + t; i < S; i += threads)
      lr::core::cuda::lean_consume<1>(s, &e[static_cast<size_t>(i)], &a[static_cast<size_t>(i)],
                                      e[static_cast<size_t>(i)], a[static_cast<size_t>(i)], c2, ex2);
  }
  float zE = -INFINITY, zA = -INFINITY;
  bool wide = false, bad = false, amateur_zero = false;
  for (const LeanKlScan& s : scans) {
    zE = std::fmax(zE, s.mE);
    zA = std::fmax(zA, s.mA);
    wide |= s.wide;
    bad |= lr::core::cuda::faulty(s);
    amateur_zero |= lr::core::cuda::amateur_zero(s);
  }
  double dE = 0, dA = 0, s2 = 0;
  if (wide) {
    bad = false;
    amateur_zero = false;
    if (zE > -INFINITY && zA > -INFINITY) {
      for (int t = 0; t < threads; ++t) {
        RescanSums r;
        for (int64_t i = t; i < S; i += threads)
          lr::core::cuda::rescan_element(r, e[static_cast<size_t>(i)], a[static_cast<size_t>(i)], zE, zA, c2, ex2);
        bad |= r.bad || r.dE != r.dE || r.dA != r.dA;
        amateur_zero |= r.amateur_zero;
        dE += r.dE;
        dA += r.dA;
        s2 += r.s2;
      }
    }
  } else {
    const float rE = zE * c2, rA = zA * c2;  // = the largest thread reference on each side
    for (const LeanKlScan& s : scans) {
      const KlPiece p = lr::core::cuda::rebased(s, rE, rA, ex2);
      dE += p.dE;
      dA += p.dA;
      s2 += p.s2;
    }
  }
  BlockResult out;
  out.wide = wide;
  if (bad || zE == -INFINITY || zA == -INFINITY) out.kl = lrref::kNaN;
  else if (amateur_zero) out.kl = lrref::kInf;
  else out.kl = lr::core::cuda::kl_from_sums(dE, dA, s2);
  return out;
}

lrref::Row widen(const std::vector<float>& v) { return lrref::Row(v.begin(), v.end()); }

// Checks both thread counts the tests use: the kernel's 512 and 3 (long runs
// per thread, so maxima rise and sums are rebased many times).
void expect_matches_reference(const std::vector<float>& e, const std::vector<float>& a, float T,
                              const char* what, bool expect_wide = false) {
  const double ref = lrref::kl(widen(e), widen(a), static_cast<int64_t>(e.size()), T);
  for (int threads : {512, 3}) {
    const BlockResult got = block_kl(e, a, T, threads);
    EXPECT_TRUE(lrref::close_enough(got.kl, ref, 1e-5, 1e-4))
        << what << ": threads " << threads << " S " << e.size() << " T " << T << " ref " << ref << " got " << got.kl;
    EXPECT_EQ(got.wide, expect_wide) << what << ": threads " << threads;
  }
}

struct Pair {
  std::vector<float> e, a;
};

Pair normal_pair(int64_t S, double sd, double noise, double offset, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0.0, sd), n(0.0, noise);
  Pair p;
  for (int64_t i = 0; i < S; ++i) {
    const double x = offset + z(rng);
    p.e.push_back(static_cast<float>(x));
    p.a.push_back(static_cast<float>(x + n(rng)));
  }
  return p;
}

TEST(LeanKlScan, RandomRowsOfEveryLength) {
  uint64_t seed = 1;
  for (int64_t S : {1, 2, 7, 8, 9, 63, 4095, 4096, 4103, 151936})
    for (float T : {0.5f, 1.0f, 2.5f}) {
      const Pair p = normal_pair(S, 3.0, 0.7, 0.0, seed++);
      expect_matches_reference(p.e, p.a, T, "normal rows");
    }
}

TEST(LeanKlScan, RisingMaximaRebaseTheSums) {
  // Increasing logits: every chunk raises each thread's maxima.
  std::vector<float> e, a;
  for (int i = 0; i < 20000; ++i) {
    e.push_back(0.001f * static_cast<float>(i));
    a.push_back(0.0012f * static_cast<float>(i) - 3.0f);
  }
  expect_matches_reference(e, a, 1.0f, "rising");
  expect_matches_reference(e, a, 0.3f, "rising, T 0.3");
}

TEST(LeanKlScan, LogitsOfMagnitude1e4KeepTheirPrecision) {
  // Exponents formed as fma(z, c2, -fl(m c2)) are exact up to one rounding;
  // the reference rounding cancels. Forming z * c2 first would lose ~1e-3.
  for (double offset : {1e4, -1e4, 3e5})
    for (float T : {0.7f, 1.0f, 1.3f}) {
      Pair p = normal_pair(4096, 2.0, 0.3, offset, 7);
      expect_matches_reference(p.e, p.a, T, "huge cluster");
    }
}

TEST(LeanKlScan, MinusInfinityColumns) {
  Pair p = normal_pair(9000, 3.0, 0.5, 0.0, 11);
  std::mt19937_64 rng(12);
  std::bernoulli_distribution coin(0.3);
  Pair expert_only = p, both = p;
  for (size_t i = 0; i < p.e.size(); ++i) {
    if (coin(rng)) expert_only.e[i] = -INFINITY;  // p_E = 0: the term counts 0
    if (coin(rng)) both.e[i] = both.a[i] = -INFINITY;
  }
  expect_matches_reference(expert_only.e, expert_only.a, 1.0f, "expert -Inf");
  expect_matches_reference(both.e, both.a, 0.8f, "both -Inf");

  // Whole -Inf prefixes on one side (threads see only one side finite for a while).
  Pair prefix = p;
  for (size_t i = 0; i < 5000; ++i) prefix.e[i] = -INFINITY;
  for (size_t i = 0; i < 5000; i += 2) prefix.a[i] = -INFINITY;
  expect_matches_reference(prefix.e, prefix.a, 1.0f, "expert prefix -Inf");
  Pair amateur_prefix = p;
  for (size_t i = 0; i < 5000; ++i) amateur_prefix.a[i] = amateur_prefix.e[i] = -INFINITY;
  expect_matches_reference(amateur_prefix.e, amateur_prefix.a, 1.0f, "both prefix -Inf");
}

TEST(LeanKlScan, AmateurZeroUnderAFiniteExpertLogitIsInfinite) {
  Pair p = normal_pair(5000, 3.0, 0.5, 0.0, 21);
  Pair visible = p;
  visible.a[1234] = -INFINITY;  // p_E there is ordinary
  expect_matches_reference(visible.e, visible.a, 1.0f, "amateur -Inf");
  EXPECT_EQ(block_kl(visible.e, visible.a, 1.0f, 512).kl, lrref::kInf);

  Pair underflow = p;
  underflow.e[4321] = -400.0f;  // p_E underflows in float, yet is > 0
  underflow.a[4321] = -INFINITY;
  EXPECT_EQ(block_kl(underflow.e, underflow.a, 1.0f, 512).kl, lrref::kInf);
  EXPECT_EQ(block_kl(underflow.e, underflow.a, 1.0f, 3).kl, lrref::kInf);

  Pair lone = p;  // the only finite amateur logits come after the expert's
  for (size_t i = 0; i < 2000; ++i) lone.a[i] = -INFINITY;
  EXPECT_EQ(block_kl(lone.e, lone.a, 1.0f, 3).kl, lrref::kInf);
}

TEST(LeanKlScan, DataFaultsGiveNaN) {
  const Pair p = normal_pair(3000, 3.0, 0.5, 0.0, 31);
  for (size_t at : {size_t(0), size_t(1500), size_t(2999)}) {
    for (int side = 0; side < 2; ++side) {
      for (float bad : {NAN, INFINITY}) {
        Pair q = p;
        (side == 0 ? q.e : q.a)[at] = bad;
        for (int threads : {512, 3})
          EXPECT_TRUE(std::isnan(block_kl(q.e, q.a, 1.0f, threads).kl)) << "side " << side << " at " << at << " " << bad;
      }
    }
  }
  Pair all_minus_inf = p;
  for (float& x : all_minus_inf.e) x = -INFINITY;
  EXPECT_TRUE(std::isnan(block_kl(all_minus_inf.e, all_minus_inf.a, 1.0f, 512).kl));
  Pair nan_behind_minus_inf = p;  // NaN where the side has no finite value yet
  for (size_t i = 0; i < 100; ++i) nan_behind_minus_inf.a[i] = -INFINITY;
  nan_behind_minus_inf.a[5] = NAN;
  EXPECT_TRUE(std::isnan(block_kl(nan_behind_minus_inf.e, nan_behind_minus_inf.a, 1.0f, 3).kl));
}

TEST(LeanKlScan, HugeReferencesTakeTheWidePath) {
  // |z| / T ~ 1e9: the thread references pass 2^30 and the row is
  // rescanned. (Float logits that large are a few ulps apart in units of T,
  // so such rows are close to one-hot, and their KL large or 0.)
  Pair p = normal_pair(2048, 1.0, 0.1, 0.0, 41);
  for (size_t i = 0; i < p.e.size(); ++i) {
    p.e[i] = 1e30f + p.e[i] * 1e23f;
    p.a[i] = 1e30f + p.a[i] * 1e23f;
  }
  expect_matches_reference(p.e, p.a, 1e21f, "1e30 logits", true);
  // A tiny temperature makes ordinary logits wide too.
  const Pair q = normal_pair(2048, 3.0, 0.5, 0.0, 42);
  expect_matches_reference(q.e, q.a, 1e-9f, "T 1e-9", true);
  // And a wide row keeps its faults and its p_A = 0.
  Pair r = p;
  r.a[7] = -INFINITY;
  EXPECT_EQ(block_kl(r.e, r.a, 1e21f, 512).kl, lrref::kInf);
  r.e[9] = NAN;
  EXPECT_TRUE(std::isnan(block_kl(r.e, r.a, 1e21f, 512).kl));
  Pair plus_inf = p;
  plus_inf.e[100] = INFINITY;
  EXPECT_TRUE(std::isnan(block_kl(plus_inf.e, plus_inf.a, 1.0f, 512).kl));
}

TEST(LeanKlScan, MaskedFirstChunksStayNarrowOrRescan) {
  // Each thread's first chunk masked on the expert side (512 threads x 8).
  Pair p = normal_pair(20000, 3.0, 0.5, 0.0, 61);
  Pair minus_1e9 = p, lowest = p;
  for (size_t i = 0; i < 4096; ++i) {
    minus_1e9.e[i] = -1e9f;  // |z| c2 past 2^30, finite sums: narrow again once ordinary logits come
    lowest.e[i] = -FLT_MAX;  // the reference overflows: the row is rescanned
  }
  expect_matches_reference(minus_1e9.e, minus_1e9.a, 1.0f, "-1e9 mask");
  expect_matches_reference(lowest.e, lowest.a, 1.0f, "-FLT_MAX mask", true);
  // Masked amateur chunks too, and a p_A = 0 behind the mask still counts.
  Pair both = minus_1e9;
  for (size_t i = 0; i < 4096; ++i) both.a[i] = -1e9f;
  expect_matches_reference(both.e, both.a, 1.0f, "-1e9 mask, both sides");
  both.a[10000] = -INFINITY;
  EXPECT_EQ(block_kl(both.e, both.a, 1.0f, 512).kl, lrref::kInf);
}

TEST(LeanKlScan, OrdinaryExtremesStayNarrow) {
  // Small temperatures with real-sized logits do not need the rescan.
  const Pair p = normal_pair(4096, 10.0, 1.0, 0.0, 51);
  expect_matches_reference(p.e, p.a, 1e-4f, "T 1e-4");
  expect_matches_reference(p.e, p.a, 50.0f, "T 50");
}

}  // namespace
