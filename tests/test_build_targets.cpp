// lr_build_targets against the double-precision brute force, for every
// logits dtype, random and adversarial rows, with and without `rows`.
//
// Exact: support_size, the written id set (and, when |M| > K, the kept K
// ids), padding (-1 / 0.0f), the order (descending weight, ties lower id).
// Weights: |got - ref| <= 1e-6 absolute per id. The header computes the
// weights in double (softmax over M of (z_E - z_A) / T up to a constant that
// cancels) and writes them as float32, so the only error expected is the
// float rounding of a weight <= 1 (<= 6e-8) plus the double evaluation of
// the shared log-sum-exp constant; 1e-6 leaves a 16x margin and is still
// 10x tighter than a float32-accumulated softmax would need. Weight sums:
// within 1e-5 of 1 (K float roundings).
#include <gtest/gtest.h>
#include <lightreasoner/lightreasoner.h>

#include <algorithm>
#include <random>
#include <sstream>

#include "reference/brute_force.h"
#include "support/device_shim.h"
#include "support/host_tensor.h"
#include "support/select_targets_cases.h"

namespace {

using lrref::Row;
using lrref::fx::RowKind;
using lrtest::Dtype;
using lrtest::HostTensor;

constexpr double kWeightAtol = 1e-6;

struct TargetOut {
  std::vector<std::vector<int32_t>> ids;
  std::vector<std::vector<double>> weights;
  std::vector<int64_t> support;
};

// Calls lr_build_targets; rows empty and use_rows false = NULL (all rows).
TargetOut call_build(HostTensor& e, HostTensor& a, const std::vector<int64_t>* rows, const lr_target_params& p,
                     int64_t K, lr_status expect = LR_OK) {
  const int64_t M = rows ? static_cast<int64_t>(rows->size()) : e.rows();
  HostTensor r(Dtype::I64, {M});
  if (rows)
    for (int64_t m = 0; m < M; ++m) r.set_at(m, static_cast<double>((*rows)[static_cast<size_t>(m)]));
  HostTensor ids(Dtype::I32, {M, K}), w(Dtype::F32, {M, K}), sup(Dtype::I32, {M});
  ids.fill_bytes(0xCD);
  w.fill_bytes(0xCD);
  sup.fill_bytes(0xCD);
  lr_status s = lrtest::build_targets(e.dl(), a.dl(), rows ? r.dl() : nullptr, &p, ids.dl(), w.dl(), sup.dl(), nullptr);
  EXPECT_EQ(s, expect) << lr_last_error();
  TargetOut o;
  for (int64_t m = 0; m < M; ++m) {
    std::vector<int32_t> ri;
    std::vector<double> rw;
    for (int64_t k = 0; k < K; ++k) {
      ri.push_back(static_cast<int32_t>(ids.get(m, k)));
      rw.push_back(w.get(m, k));
    }
    o.ids.push_back(ri);
    o.weights.push_back(rw);
    o.support.push_back(static_cast<int64_t>(sup.at(m)));
  }
  return o;
}

struct TargetCase : lrtest::LogitsCase {
  float beta = 0.2f;
  int64_t K = 8;
  bool use_rows = false;  // a shuffled subset with repeats
};

// Amateur pool with Perturbed once. Ambiguous pairs are not redrawn: what makes
// them ambiguous is their KL, which lr_build_targets does not compute.
const lrtest::KindPools kPools = lrtest::kind_pools(1, false);

void run_case(Dtype dt, const TargetCase& c) {
  lrtest::StoredCase l = lrtest::store_case(dt, c, kPools);

  std::vector<int64_t> rows;
  if (c.use_rows && c.N > 0) {
    for (int64_t i = 0; i < c.N; i += 2) rows.push_back(i);                     // a subset
    for (int i = 0; i < 5; ++i) rows.push_back(rows[static_cast<size_t>(i) % rows.size()]);  // repeats
    rows.push_back(c.N - 1);
    std::shuffle(rows.begin(), rows.end(), l.rng);
  }
  TargetOut o = call_build(l.e, l.a, c.use_rows ? &rows : nullptr, lrtest::target_params_for(c, c.beta), c.K);

  const size_t M = c.use_rows ? rows.size() : static_cast<size_t>(c.N);
  for (size_t m = 0; m < M; ++m) {
    const size_t i = c.use_rows ? static_cast<size_t>(rows[m]) : m;
    const lrref::Targets ref =
        lrref::targets(l.se[i], l.sa[i], l.S, static_cast<double>(c.T), static_cast<double>(c.beta), c.K);
    const std::string err =
        lrref::fx::check_targets(o.ids[m], o.weights[m], o.support[m], ref, l.se[i], l.sa[i], l.S, kWeightAtol);
    EXPECT_EQ(err, "") << "output row " << m << " = logits " << l.row_context(static_cast<int64_t>(i), c.T)
                       << " beta=" << c.beta << " K=" << c.K;
  }
  // Repeated rows give identical outputs.
  for (size_t m = 0; m < M; ++m)
    for (size_t n = m + 1; n < M; ++n)
      if (c.use_rows && rows[m] == rows[n]) {
        EXPECT_EQ(o.ids[m], o.ids[n]);
        EXPECT_EQ(o.weights[m], o.weights[n]);
        EXPECT_EQ(o.support[m], o.support[n]);
      }
}

class BuildTargets : public ::testing::TestWithParam<Dtype> {};

TEST_P(BuildTargets, RandomPoolAllRows) {
  TargetCase c;
  c.N = 96;
  c.Ve = c.Va = 200;
  c.seed = 31;
  run_case(GetParam(), c);
}

TEST_P(BuildTargets, RandomPoolRowsSubsetStridedTemperature) {
  TargetCase c;
  c.N = 40;
  c.Ve = c.Va = 151;
  c.T = 0.8f;
  c.beta = 0.1f;
  c.K = 16;
  c.stride_extra = 9;
  c.use_rows = true;
  c.seed = 32;
  run_case(GetParam(), c);
  c.T = 2.0f;
  c.seed = 33;
  run_case(GetParam(), c);
}

TEST_P(BuildTargets, NullStrides) {
  TargetCase c;
  c.N = 24;
  c.Ve = c.Va = 90;
  c.null_strides = true;
  c.use_rows = true;
  c.seed = 34;
  run_case(GetParam(), c);
}

TEST_P(BuildTargets, EveryKindPair) {
  TargetCase c;
  c.kinds = lrtest::every_kind_pair(kPools);
  c.N = static_cast<int64_t>(c.kinds.size()) * 2;
  c.Ve = c.Va = 64;
  c.K = 64;  // no truncation: the id set must equal M exactly
  c.seed = 35;
  run_case(GetParam(), c);
  c.K = 3;  // truncation wherever |M| > 3
  c.T = 0.6f;
  c.seed = 36;
  run_case(GetParam(), c);
}

TEST_P(BuildTargets, Betas) {
  for (float beta : {1.0f, 0.5f, 0.2f, 0.01f, 1e-6f}) {
    TargetCase c;
    c.N = 30;
    c.Ve = c.Va = 48;
    c.beta = beta;
    c.K = 48;
    c.seed = 37;
    run_case(GetParam(), c);
  }
}

TEST_P(BuildTargets, KOfOne) {
  TargetCase c;
  c.N = 40;
  c.Ve = c.Va = 60;
  c.K = 1;
  c.seed = 38;
  run_case(GetParam(), c);
}

TEST_P(BuildTargets, TruncationKeepsLargestExpertLogits) {
  // Uniform expert rows: |M| = V; keep ids 0..K-1 (ties lower id) with
  // weights renormalised over them; support_size reports V.
  const int64_t V = 40, K = 5;
  std::vector<Row> ze(3, Row(V, 1.5)), za(3, Row(V, 0.0));
  std::mt19937 g(39);
  std::normal_distribution<double> n(0.0, 1.0);
  for (auto& x : za[1]) x = n(g);      // weights differ, the kept set does not
  za[2] = ze[2];                        // c = 0 everywhere: uniform weights 1/K
  HostTensor e = lrref::fx::make_logits(GetParam(), ze, V);
  HostTensor a = lrref::fx::make_logits(GetParam(), za, V);
  const auto se = lrref::fx::read_rows(e), sa = lrref::fx::read_rows(a);
  lr_target_params p = lr_target_params_default();
  TargetOut o = call_build(e, a, nullptr, p, K);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(o.support[i], V);
    std::vector<int32_t> sorted = o.ids[i];
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, (std::vector<int32_t>{0, 1, 2, 3, 4})) << "row " << i;
    const lrref::Targets ref = lrref::targets(se[i], sa[i], V, 1.0, 0.2f, K);
    EXPECT_EQ(lrref::fx::check_targets(o.ids[i], o.weights[i], o.support[i], ref, se[i], sa[i], V, kWeightAtol), "");
  }
  for (int64_t k = 0; k < K; ++k) {
    EXPECT_EQ(o.ids[2][static_cast<size_t>(k)], k);  // exact ties: ascending ids
    EXPECT_NEAR(o.weights[2][static_cast<size_t>(k)], 0.2, 1e-7);
  }
  // A graded expert row: ids 10..19 at decreasing logits all in M, keep the top K.
  Row z(V, -30.0), zz(V, 0.0);
  for (int j = 0; j < 10; ++j) z[10 + static_cast<size_t>(j)] = 1.0 - 0.05 * j;
  z[30] = 1.0;  // tie with id 10 at the max: both kept, 10 before 30 on equal weight
  std::vector<Row> ze2 = {z}, za2 = {zz};
  HostTensor e2 = lrref::fx::make_logits(GetParam(), ze2, V);
  HostTensor a2 = lrref::fx::make_logits(GetParam(), za2, V);
  const auto se2 = lrref::fx::read_rows(e2), sa2 = lrref::fx::read_rows(a2);
  TargetOut o2 = call_build(e2, a2, nullptr, p, 4);
  const lrref::Targets ref2 = lrref::targets(se2[0], sa2[0], V, 1.0, 0.2f, 4);
  EXPECT_EQ(o2.support[0], 11);
  EXPECT_EQ(lrref::fx::check_targets(o2.ids[0], o2.weights[0], o2.support[0], ref2, se2[0], sa2[0], V, kWeightAtol),
            "");
  EXPECT_EQ(o2.ids[0][0], 10);
  EXPECT_EQ(o2.ids[0][1], 30);
}

// The next representable value of dtype d above (dir > 0) or below x.
double step_in_dtype(double x, Dtype d, int dir) {
  float f = static_cast<float>(x);
  if (d == Dtype::F32) return std::nextafter(f, dir > 0 ? INFINITY : -INFINITY);
  // Walk float32 neighbours until the dtype-rounded value changes.
  float r = lrtest::round_to_dtype(f, d), cur = f;
  while (lrtest::round_to_dtype(cur, d) == r) cur = std::nextafter(cur, dir > 0 ? INFINITY : -INFINITY);
  return lrtest::round_to_dtype(cur, d);
}

TEST_P(BuildTargets, SupportThresholdBoundary) {
  // Entries a few dtype-ulps either side of z_max + T log(beta): the decision
  // (double(z_a) - double(z_max)) / T >= log(beta) must be taken exactly as
  // the header states (the reference evaluates that very expression).
  const Dtype dt = GetParam();
  for (float T : {1.0f, 0.5f, 1.7f}) {
    for (float beta : {0.2f, 0.5f, 0.3f}) {
      for (double zmax : {0.0, 3.0, -7.25}) {
        const double t = zmax + static_cast<double>(T) * std::log(static_cast<double>(beta));
        Row z = {zmax};
        double lo = lrtest::round_to_dtype(static_cast<float>(t), dt), hi = lo;
        z.push_back(lo);
        for (int s = 0; s < 4; ++s) {
          lo = step_in_dtype(lo, dt, -1);
          hi = step_in_dtype(hi, dt, +1);
          z.push_back(lo);
          z.push_back(hi);
        }
        const int64_t V = static_cast<int64_t>(z.size());
        std::vector<Row> ze = {z}, za = {Row(static_cast<size_t>(V), 0.0)};
        HostTensor e = lrref::fx::make_logits(dt, ze, V);
        HostTensor a = lrref::fx::make_logits(dt, za, V);
        const auto se = lrref::fx::read_rows(e), sa = lrref::fx::read_rows(a);
        lr_target_params p = lr_target_params_default();
        p.temperature = T;
        p.beta = beta;
        TargetOut o = call_build(e, a, nullptr, p, V);
        const lrref::Targets ref = lrref::targets(se[0], sa[0], V, T, beta, V);
        EXPECT_GT(ref.support_size, 1);         // the test straddles the boundary
        EXPECT_LT(ref.support_size, V);
        EXPECT_EQ(lrref::fx::check_targets(o.ids[0], o.weights[0], o.support[0], ref, se[0], sa[0], V, kWeightAtol),
                  "")
            << "T=" << T << " beta=" << beta << " zmax=" << zmax;
      }
    }
  }
}

TEST_P(BuildTargets, AmateurZeroProbabilityInSupport) {
  // p_A(a) = 0 (z_A = -Inf) for some a in M: v is spread over exactly those
  // ids in proportion to p_E; the other ids of M are still written (weight
  // 0, after the positive ones, ascending ids) and counted in support_size.
  const double inf = lrref::kInf;
  const int64_t V = 8;
  std::vector<Row> ze = {
      {2.0, 1.9, 1.8, 0.0, -5.0, 1.95, -1.0, 2.0},  // M (beta 0.2): ids 0,1,2,5,7
      {2.0, 1.9, 1.8, 0.0, -5.0, 1.95, -1.0, 2.0},
      {3.0, -inf, 1.0, 3.0, 2.5, -inf, -inf, 0.0},
  };
  std::vector<Row> za = {
      {0.0, -inf, 0.0, 0.0, 0.0, -inf, 0.0, 0.0},   // ids 1 and 5 have p_A = 0
      {-inf, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -inf},   // ids 0 and 7 (tie in p_E): equal weights, 0 first
      {-inf, -inf, -inf, -inf, -inf, -inf, -inf, 0.0},  // all of M has p_A = 0 (amateur one-hot elsewhere)
  };
  HostTensor e = lrref::fx::make_logits(GetParam(), ze, V);
  HostTensor a = lrref::fx::make_logits(GetParam(), za, V);
  const auto se = lrref::fx::read_rows(e), sa = lrref::fx::read_rows(a);
  lr_target_params p = lr_target_params_default();
  for (int64_t K : {int64_t{8}, int64_t{5}, int64_t{3}}) {
    TargetOut o = call_build(e, a, nullptr, p, K);
    for (size_t i = 0; i < ze.size(); ++i) {
      const lrref::Targets ref = lrref::targets(se[i], sa[i], V, 1.0, 0.2f, K);
      // (Truncation here never drops every id with p_A = 0, a case the
      // header leaves open; see the report.)
      EXPECT_EQ(lrref::fx::check_targets(o.ids[i], o.weights[i], o.support[i], ref, se[i], sa[i], V, kWeightAtol),
                "")
          << "row " << i << " K=" << K;
    }
  }
  // Row 1 with K=8: ids 0 and 7 share the weight 1/2 each, 0 first.
  TargetOut o = call_build(e, a, nullptr, p, 8);
  EXPECT_EQ(o.ids[1][0], 0);
  EXPECT_EQ(o.ids[1][1], 7);
  EXPECT_NEAR(o.weights[1][0], 0.5, 1e-7);
  EXPECT_NEAR(o.weights[1][1], 0.5, 1e-7);
  EXPECT_EQ(o.support[1], 5);
}

TEST_P(BuildTargets, TruncationDropsEveryZeroAmateurId) {
  // |M| > K and the only id with p_A = 0 is truncated away. The header's
  // order of the two rules is open here; the only well-defined reading (and
  // the library's) keeps the K largest p_E first and takes the softmax of c
  // over them, where c is finite. Pinned so that it stays so.
  const double inf = lrref::kInf;
  std::vector<Row> ze = {{2.0, 1.9, 1.8}}, za = {{0.0, 0.5, -inf}};
  HostTensor e = lrref::fx::make_logits(GetParam(), ze, 3), a = lrref::fx::make_logits(GetParam(), za, 3);
  const auto se = lrref::fx::read_rows(e), sa = lrref::fx::read_rows(a);
  lr_target_params p = lr_target_params_default();
  TargetOut o = call_build(e, a, nullptr, p, 2);
  const lrref::Targets ref = lrref::targets(se[0], sa[0], 3, 1.0, 0.2f, 2);
  EXPECT_FALSE(ref.infinite_rule);
  EXPECT_EQ(o.support[0], 3);
  EXPECT_EQ(lrref::fx::check_targets(o.ids[0], o.weights[0], o.support[0], ref, se[0], sa[0], 3, kWeightAtol), "");
}

TEST_P(BuildTargets, VocabOfOne) {
  TargetCase c;
  c.N = 5;
  c.Ve = c.Va = 1;
  c.K = 3;
  c.use_rows = true;
  c.seed = 40;
  run_case(GetParam(), c);
}

TEST_P(BuildTargets, LargeVocab) {
  TargetCase c;
  c.N = 3;
  c.Ve = c.Va = 151936;
  c.K = 64;
  c.kinds = {{RowKind::Normal, RowKind::Perturbed}, {RowKind::TiesAtMax, RowKind::Normal},
             {RowKind::Uniform, RowKind::Normal}};  // the uniform row: |M| = 151936 > K
  c.seed = 41;
  run_case(GetParam(), c);
}

TEST_P(BuildTargets, DifferentWidths) {
  TargetCase c;
  c.N = 24;
  c.Ve = 50;
  c.Va = 37;
  c.seed = 42;
  run_case(GetParam(), c);
  c.Ve = 37;
  c.Va = 50;
  c.use_rows = true;
  c.seed = 43;
  run_case(GetParam(), c);
  c.Ve = 50;
  c.Va = 45;
  c.shared = 20;
  c.T = 1.25f;
  c.stride_extra = 5;
  c.seed = 44;
  run_case(GetParam(), c);
}

TEST_P(BuildTargets, ZeroAndOneRow) {
  TargetCase c;
  c.N = 0;
  c.seed = 45;
  run_case(GetParam(), c);
  c.N = 1;
  run_case(GetParam(), c);
  c.use_rows = true;
  run_case(GetParam(), c);
  // rows given but empty (M = 0) over N = 3 logits rows.
  std::mt19937 g(46);
  std::vector<Row> ze = {lrref::fx::make_row(RowKind::Normal, 10, g), lrref::fx::make_row(RowKind::Normal, 10, g),
                         lrref::fx::make_row(RowKind::Normal, 10, g)};
  HostTensor e = lrref::fx::make_logits(GetParam(), ze, 10), a = lrref::fx::make_logits(GetParam(), ze, 10);
  std::vector<int64_t> none;
  lr_target_params p = lr_target_params_default();
  TargetOut o = call_build(e, a, &none, p, 4);
  EXPECT_TRUE(o.ids.empty());
}

TEST_P(BuildTargets, MixedDtypes) {
  for (Dtype adt : lrref::fx::logit_dtypes()) {
    if (adt == GetParam()) continue;
    TargetCase c;
    c.N = 40;
    c.Ve = 70;
    c.Va = 80;
    c.amateur_dtype = adt;
    c.T = 0.9f;
    c.use_rows = true;
    c.seed = 47;
    run_case(GetParam(), c);
  }
}

TEST_P(BuildTargets, StridedRowsAndSupport) {
  // rows and support_size as 1-D tensors with element stride 2.
  std::mt19937 g(48);
  const int64_t N = 10, V = 30, K = 6;
  std::vector<Row> ze, za;
  for (int64_t i = 0; i < N; ++i) {
    ze.push_back(lrref::fx::make_row(RowKind::Normal, V, g));
    za.push_back(lrref::fx::make_amateur(RowKind::Perturbed, ze.back(), V, g));
  }
  HostTensor e = lrref::fx::make_logits(GetParam(), ze, V), a = lrref::fx::make_logits(GetParam(), za, V);
  const std::vector<int64_t> rows = {7, 2, 2, 9, 0};
  lr_target_params p = lr_target_params_default();
  TargetOut compact = call_build(e, a, &rows, p, K);
  lrref::fx::Strided1D r(Dtype::I64, 5, 2), sup(Dtype::I32, 5, 2);
  for (int64_t m = 0; m < 5; ++m) r.set(m, static_cast<double>(rows[static_cast<size_t>(m)]));
  HostTensor ids(Dtype::I32, {5, K}), w(Dtype::F32, {5, K});
  ASSERT_EQ(lrtest::build_targets(e.dl(), a.dl(), r.dl(), &p, ids.dl(), w.dl(), sup.dl(), nullptr), LR_OK)
      << lr_last_error();
  for (int64_t m = 0; m < 5; ++m) {
    EXPECT_EQ(sup.get(m), static_cast<double>(compact.support[static_cast<size_t>(m)]));
    for (int64_t k = 0; k < K; ++k) {
      EXPECT_EQ(ids.get(m, k), compact.ids[static_cast<size_t>(m)][static_cast<size_t>(k)]);
      EXPECT_EQ(w.get(m, k), compact.weights[static_cast<size_t>(m)][static_cast<size_t>(k)]);
    }
  }
}

TEST_P(BuildTargets, NullParamsMeanDefaults) {
  std::mt19937 g(49);
  std::vector<Row> ze, za;
  for (int i = 0; i < 8; ++i) {
    ze.push_back(lrref::fx::make_row(RowKind::TiesAtMax, 25, g));
    za.push_back(lrref::fx::make_row(RowKind::Normal, 25, g));
  }
  HostTensor e = lrref::fx::make_logits(GetParam(), ze, 25), a = lrref::fx::make_logits(GetParam(), za, 25);
  lr_target_params p = lr_target_params_default();
  TargetOut def = call_build(e, a, nullptr, p, 7);
  HostTensor ids(Dtype::I32, {8, 7}), w(Dtype::F32, {8, 7}), sup(Dtype::I32, {8});
  ASSERT_EQ(lrtest::build_targets(e.dl(), a.dl(), nullptr, nullptr, ids.dl(), w.dl(), sup.dl(), nullptr), LR_OK);
  for (int64_t m = 0; m < 8; ++m) {
    EXPECT_EQ(sup.at(m), static_cast<double>(def.support[static_cast<size_t>(m)]));
    for (int64_t k = 0; k < 7; ++k) {
      EXPECT_EQ(ids.get(m, k), def.ids[static_cast<size_t>(m)][static_cast<size_t>(k)]);
      EXPECT_EQ(w.get(m, k), def.weights[static_cast<size_t>(m)][static_cast<size_t>(k)]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, BuildTargets, ::testing::ValuesIn(lrref::fx::logit_dtypes()),
                         [](const ::testing::TestParamInfo<Dtype>& i) { return lrtest::dtype_name(i.param); });

}  // namespace
