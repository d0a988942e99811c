// lr_select_steps against the double-precision brute force, for every
// logits dtype (F32, BF16, F16), random and adversarial rows.
//
// Tolerance for KL: |got - ref| <= 1e-5 + 1e-4 * |ref|. The reference reads
// the logits as stored, so this covers only the library's float32
// accumulation: log-sum-exp over up to 151936 terms carries a relative error
// of a few 1e-6 in the sum (hence ~1e-6..1e-5 absolute in log), and the
// p_E-weighted sum of log-ratios a relative error of order 1e-6; 1e-4
// relative also absorbs the rounding of log p ~ -2e4 for the +-1e4 rows.
// Infinite and NaN references must match exactly.
#include <gtest/gtest.h>
#include <lightreasoner/lightreasoner.h>

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

constexpr double kKlAtol = 1e-5;
constexpr double kKlRtol = 1e-4;

struct SelectCase : lrtest::LogitsCase {
  float kappa = 0.4f;
  bool with_keep = true;
};

// Amateur pool with Perturbed twice; pairs with an ill-defined float KL redrawn.
const lrtest::KindPools kPools = lrtest::kind_pools(2, true);

struct SelectResult {
  std::vector<double> kl;
  std::vector<double> keep;
};

SelectResult call_select(HostTensor& e, HostTensor& a, const lr_select_params& p, bool with_keep) {
  const int64_t N = e.rows();
  HostTensor kl(Dtype::F32, {N});
  HostTensor keep(Dtype::U8, {N});
  kl.fill_bytes(0xCD);
  keep.fill_bytes(0xCD);
  lr_status s = lrtest::select_steps(e.dl(), a.dl(), &p, kl.dl(), with_keep ? keep.dl() : nullptr, nullptr);
  EXPECT_EQ(s, LR_OK) << lr_last_error();
  SelectResult r;
  for (int64_t i = 0; i < N; ++i) {
    r.kl.push_back(kl.at(i));
    r.keep.push_back(keep.at(i));
  }
  return r;
}

// Runs a case and checks it against the reference and the invariants.
void run_case(Dtype dt, const SelectCase& c) {
  lrtest::StoredCase l = lrtest::store_case(dt, c, kPools);
  SelectResult r = call_select(l.e, l.a, lrtest::select_params_for(c, c.kappa), c.with_keep);

  for (int64_t i = 0; i < c.N; ++i) {
    const size_t u = static_cast<size_t>(i);
    const double ref = lrref::kl(l.se[u], l.sa[u], l.S, static_cast<double>(c.T));
    std::ostringstream ctx;
    ctx << l.row_context(i, c.T) << " ref=" << ref << " got=" << r.kl[u];
    EXPECT_TRUE(lrref::close_enough(r.kl[u], ref, kKlAtol, kKlRtol)) << ctx.str();
    if (!std::isnan(ref)) {
      EXPECT_GE(r.kl[u], -kKlAtol) << "KL must be >= 0: " << ctx.str();
    }
    if (c.with_keep) {
      // keep iff the written KL, as float, exceeds kappa (NaN: 0, +Inf: 1).
      const bool expect_keep = static_cast<float>(r.kl[u]) > c.kappa;
      EXPECT_EQ(r.keep[u], expect_keep ? 1.0 : 0.0) << ctx.str() << " kappa=" << c.kappa;
    }
  }
}

class SelectSteps : public ::testing::TestWithParam<Dtype> {};

TEST_P(SelectSteps, RandomPool) {
  SelectCase c;
  c.N = 96;
  c.Ve = c.Va = 300;
  c.seed = 11;
  run_case(GetParam(), c);
}

TEST_P(SelectSteps, RandomPoolStridedViewsAndTemperature) {
  SelectCase c;
  c.N = 40;
  c.Ve = c.Va = 257;
  c.T = 0.7f;
  c.kappa = 0.1f;
  c.stride_extra = 13;
  c.seed = 12;
  run_case(GetParam(), c);
  c.T = 2.5f;
  c.seed = 13;
  run_case(GetParam(), c);
}

TEST_P(SelectSteps, NullStrides) {
  SelectCase c;
  c.N = 24;
  c.Ve = c.Va = 100;
  c.T = 1.5f;
  c.null_strides = true;
  c.seed = 14;
  run_case(GetParam(), c);
}

TEST_P(SelectSteps, EveryKindPair) {
  SelectCase c;
  c.kinds = lrtest::every_kind_pair(kPools);
  c.N = static_cast<int64_t>(c.kinds.size()) * 2;
  c.Ve = c.Va = 64;
  c.seed = 15;
  run_case(GetParam(), c);
  c.T = 0.5f;
  c.seed = 16;
  run_case(GetParam(), c);
}

TEST_P(SelectSteps, KeepOutNullGivesSameKl) {
  SelectCase c;
  c.N = 20;
  c.Ve = c.Va = 50;
  c.seed = 17;
  lrtest::StoredCase l = lrtest::store_case(GetParam(), c, kPools);
  lr_select_params p = lr_select_params_default();
  SelectResult with = call_select(l.e, l.a, p, true);
  SelectResult without = call_select(l.e, l.a, p, false);
  for (size_t i = 0; i < with.kl.size(); ++i) EXPECT_TRUE(lrref::same_value(with.kl[i], without.kl[i])) << i;
  c.with_keep = false;
  run_case(GetParam(), c);
}

TEST_P(SelectSteps, KappaValues) {
  for (float kappa : {-1.0f, 0.0f, 0.4f, 3.0f, 1e30f}) {
    SelectCase c;
    c.N = 30;
    c.Ve = c.Va = 40;
    c.kappa = kappa;
    c.seed = 18;
    run_case(GetParam(), c);
  }
}

TEST_P(SelectSteps, VocabOfOne) {
  SelectCase c;
  c.N = 6;
  c.Ve = c.Va = 1;
  c.kappa = -1.0f;  // KL is 0, so every row is kept
  c.kinds = {{RowKind::Normal, RowKind::Normal}, {RowKind::Huge, RowKind::Normal}, {RowKind::OneHot, RowKind::Huge}};
  c.seed = 19;
  run_case(GetParam(), c);
  c.kappa = 0.0f;  // KL is 0: nothing kept
  run_case(GetParam(), c);
}

TEST_P(SelectSteps, LargeVocab) {
  SelectCase c;
  c.N = 4;
  c.Ve = c.Va = 151936;
  c.kinds = {{RowKind::Normal, RowKind::Perturbed}, {RowKind::Normal, RowKind::Normal},
             {RowKind::Uniform, RowKind::Perturbed}, {RowKind::Peaked, RowKind::NegInfEntries}};
  c.seed = 20;
  run_case(GetParam(), c);
  // Qwen2.5-7B (152064 logits) against 0.5B (151936): S = 151936, the
  // expert's last 128 columns are NaN and must not be read.
  c.Ve = 152064;
  c.T = 0.9f;
  c.seed = 30;
  run_case(GetParam(), c);
}

TEST_P(SelectSteps, DifferentWidths) {
  // Expert wider than amateur, shared_vocab = 0: S = min(Ve, Va); the extra
  // expert columns hold NaN and must not be read.
  SelectCase c;
  c.N = 24;
  c.Ve = 50;
  c.Va = 37;
  c.seed = 21;
  run_case(GetParam(), c);
  // Amateur wider.
  c.Ve = 37;
  c.Va = 50;
  c.seed = 22;
  run_case(GetParam(), c);
  // shared_vocab smaller than both; columns past it are NaN in both.
  c.Ve = 50;
  c.Va = 45;
  c.shared = 20;
  c.T = 0.8f;
  c.stride_extra = 3;
  c.seed = 23;
  run_case(GetParam(), c);
  // shared_vocab equal to min explicitly.
  c.shared = 45;
  c.seed = 24;
  run_case(GetParam(), c);
}

TEST_P(SelectSteps, ZeroAndOneRow) {
  SelectCase c;
  c.N = 0;
  c.seed = 25;
  run_case(GetParam(), c);
  c.N = 1;
  run_case(GetParam(), c);
  c.null_strides = true;
  c.N = 0;
  run_case(GetParam(), c);
}

TEST_P(SelectSteps, MixedDtypes) {
  // The amateur in each of the other two dtypes.
  for (Dtype adt : lrref::fx::logit_dtypes()) {
    if (adt == GetParam()) continue;
    SelectCase c;
    c.N = 40;
    c.Ve = 80;
    c.Va = 70;
    c.amateur_dtype = adt;
    c.T = 1.3f;
    c.seed = 26;
    run_case(GetParam(), c);
  }
}

TEST_P(SelectSteps, StridedOneDimensionalOutputs) {
  // kl_out and keep_out with element stride 3 (1-D tensors may have any stride).
  SelectCase c;
  c.N = 12;
  c.Ve = c.Va = 30;
  c.seed = 27;
  lrtest::StoredCase l = lrtest::store_case(GetParam(), c, kPools);
  lr_select_params p = lr_select_params_default();
  SelectResult compact = call_select(l.e, l.a, p, true);
  lrref::fx::Strided1D kl(Dtype::F32, c.N, 3), keep(Dtype::U8, c.N, 3);
  ASSERT_EQ(lrtest::select_steps(l.e.dl(), l.a.dl(), &p, kl.dl(), keep.dl(), nullptr), LR_OK) << lr_last_error();
  for (int64_t i = 0; i < c.N; ++i) {
    EXPECT_TRUE(lrref::same_value(kl.get(i), compact.kl[static_cast<size_t>(i)])) << i;
    EXPECT_EQ(keep.get(i), compact.keep[static_cast<size_t>(i)]) << i;
  }
  // The skipped elements are untouched.
  for (size_t b = 0; b < kl.storage.size(); ++b)
    if ((b / 4) % 3 != 0) {
      ASSERT_EQ(kl.storage[b], 0xCD) << "kl_out byte " << b;
    }
  for (size_t b = 0; b < keep.storage.size(); ++b)
    if (b % 3 != 0) {
      ASSERT_EQ(keep.storage[b], 0xCD) << "keep_out byte " << b;
    }
}

TEST_P(SelectSteps, NullParamsMeanDefaults) {
  SelectCase c;
  c.N = 16;
  c.Ve = c.Va = 40;
  c.seed = 28;
  lrtest::StoredCase l = lrtest::store_case(GetParam(), c, kPools);
  lr_select_params p = lr_select_params_default();
  SelectResult def = call_select(l.e, l.a, p, true);
  HostTensor kl(Dtype::F32, {c.N}), keep(Dtype::U8, {c.N});
  ASSERT_EQ(lrtest::select_steps(l.e.dl(), l.a.dl(), nullptr, kl.dl(), keep.dl(), nullptr), LR_OK) << lr_last_error();
  for (int64_t i = 0; i < c.N; ++i) {
    EXPECT_TRUE(lrref::same_value(kl.at(i), def.kl[static_cast<size_t>(i)])) << i;
    EXPECT_EQ(keep.at(i), def.keep[static_cast<size_t>(i)]) << i;
  }
}

TEST(SelectStepsExact, KnownValues) {
  // Hand-checkable rows in float32.
  // Row 0: identical rows -> KL 0 exactly in math.
  // Row 1: expert one-hot (0, -inf), amateur (0, 0): KL = log 2.
  // Row 2: expert (0, 0), amateur (0, -inf): p_A = 0 where p_E > 0 -> +Inf, keep 1.
  // Row 3: both (-inf, 5): KL 0 (the -inf column counts 0 in both).
  const double inf = lrref::kInf;
  std::vector<Row> ze = {{1, 2}, {0, -inf}, {0, 0}, {-inf, 5}};
  std::vector<Row> za = {{1, 2}, {0, 0}, {0, -inf}, {-inf, 5}};
  HostTensor e = lrref::fx::make_logits(Dtype::F32, ze, 2);
  HostTensor a = lrref::fx::make_logits(Dtype::F32, za, 2);
  lr_select_params p = lr_select_params_default();
  SelectResult r = call_select(e, a, p, true);
  EXPECT_NEAR(r.kl[0], 0.0, 1e-6);
  EXPECT_NEAR(r.kl[1], std::log(2.0), 1e-6);
  EXPECT_EQ(r.kl[2], inf);
  EXPECT_EQ(r.keep[2], 1.0);
  EXPECT_NEAR(r.kl[3], 0.0, 1e-6);
  EXPECT_EQ(r.keep[0], 0.0);
  EXPECT_EQ(r.keep[1], 1.0);  // log 2 = 0.693 > 0.4
}

// Logits of magnitude ~1e4 in float32 with several likely tokens near the
// max, amateur = expert + N(0, 0.3): KL is of order 0.01..0.1, so the
// 1e-5 + 1e-4 |ref| tolerance asks for ~1e-5 absolute. The stored values are
// exact, and the entries that matter lie within a few units of the row max,
// where z - z_max is exact in float32: an implementation that forms
// (z - z_max) / T keeps the error near 1e-7. Scaling first,
// float(z) * (1/T), rounds each scaled logit at |z| / T ~ 1e4 (~5e-4
// absolute) and fails the T != 1 case; with T = 1 the scaling is exact.
void huge_cluster_case(float T) {
  SelectCase c;
  c.N = 16;
  c.Ve = c.Va = 64;
  c.T = T;
  c.kinds = {{RowKind::HugeCluster, RowKind::Perturbed}};
  c.seed = 29;
  run_case(Dtype::F32, c);
}
TEST(SelectStepsPrecision, HugeLogitsUnitTemperature) { huge_cluster_case(1.0f); }
TEST(SelectStepsPrecision, HugeLogitsWithTemperature) {
  huge_cluster_case(0.7f);
  huge_cluster_case(1.3f);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, SelectSteps, ::testing::ValuesIn(lrref::fx::logit_dtypes()),
                         [](const ::testing::TestParamInfo<Dtype>& i) { return lrtest::dtype_name(i.param); });

}  // namespace
