// lr_select_and_build: equal to lr_select_steps followed by lr_build_targets
// on the kept rows (bit for bit: the header says the results are equal), and
// against the double-precision brute force (KL within 1e-5 + 1e-4 |ref|,
// weights within 1e-6; see test_select_steps.cpp and test_build_targets.cpp
// for the reasoning). Rows not kept: padding, support_size 0.
#include <gtest/gtest.h>
#include <lightreasoner/lightreasoner.h>

#include <sstream>

#include "reference/brute_force.h"
#include "support/device_shim.h"
#include "support/host_tensor.h"
#include "support/select_targets_cases.h"

namespace {

using lrref::fx::RowKind;
using lrtest::Dtype;
using lrtest::HostTensor;

constexpr double kKlAtol = 1e-5, kKlRtol = 1e-4, kWeightAtol = 1e-6;

struct FusedCase : lrtest::LogitsCase {
  float kappa = 0.4f, beta = 0.2f;
  int64_t K = 8;
  FusedCase() { N = 32; }  // this suite's default row count
};

// Amateur pool with Perturbed three times; pairs with an ill-defined float KL redrawn.
const lrtest::KindPools kPools = lrtest::kind_pools(3, true);

void run_case(Dtype dt, const FusedCase& c) {
  lrtest::StoredCase l = lrtest::store_case(dt, c, kPools);
  const lr_select_params sp = lrtest::select_params_for(c, c.kappa);
  const lr_target_params tp = lrtest::target_params_for(c, c.beta);

  // The fused call.
  const int64_t N = c.N, K = c.K;
  HostTensor kl(Dtype::F32, {N}), keep(Dtype::U8, {N}), ids(Dtype::I32, {N, K}), w(Dtype::F32, {N, K}),
      sup(Dtype::I32, {N});
  for (HostTensor* t : {&kl, &keep, &ids, &w, &sup}) t->fill_bytes(0xCD);
  ASSERT_EQ(lrtest::select_and_build(l.e.dl(), l.a.dl(), &sp, &tp, kl.dl(), keep.dl(), ids.dl(), w.dl(), sup.dl(),
                                     nullptr),
            LR_OK)
      << lr_last_error();

  // The two-step path.
  HostTensor kl2(Dtype::F32, {N}), keep2(Dtype::U8, {N});
  ASSERT_EQ(lrtest::select_steps(l.e.dl(), l.a.dl(), &sp, kl2.dl(), keep2.dl(), nullptr), LR_OK) << lr_last_error();
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < N; ++i)
    if (keep2.at(i) != 0) kept.push_back(i);
  const int64_t M = static_cast<int64_t>(kept.size());
  HostTensor rows(Dtype::I64, {M}), ids2(Dtype::I32, {M, K}), w2(Dtype::F32, {M, K}), sup2(Dtype::I32, {M});
  for (int64_t m = 0; m < M; ++m) rows.set_at(m, static_cast<double>(kept[static_cast<size_t>(m)]));
  ASSERT_EQ(lrtest::build_targets(l.e.dl(), l.a.dl(), rows.dl(), &tp, ids2.dl(), w2.dl(), sup2.dl(), nullptr), LR_OK)
      << lr_last_error();

  int64_t m = 0;
  for (int64_t i = 0; i < N; ++i) {
    const size_t u = static_cast<size_t>(i);
    std::ostringstream ctx;
    ctx << l.row_context(i, c.T) << " K=" << K;
    // Equal to the two-step path.
    EXPECT_TRUE(lrref::same_value(kl.at(i), kl2.at(i))) << ctx.str() << " fused kl " << kl.at(i) << " vs "
                                                        << kl2.at(i);
    EXPECT_EQ(keep.at(i), keep2.at(i)) << ctx.str();
    const bool is_kept = keep2.at(i) != 0;
    if (is_kept) {
      EXPECT_EQ(sup.at(i), sup2.at(m)) << ctx.str();
      for (int64_t k = 0; k < K; ++k) {
        EXPECT_EQ(ids.get(i, k), ids2.get(m, k)) << ctx.str() << " k=" << k;
        EXPECT_TRUE(lrref::same_value(w.get(i, k), w2.get(m, k))) << ctx.str() << " k=" << k;
      }
      ++m;
    } else {
      EXPECT_EQ(sup.at(i), std::isnan(kl.at(i)) ? -1.0 : 0.0) << ctx.str();
      for (int64_t k = 0; k < K; ++k) {
        EXPECT_EQ(ids.get(i, k), -1.0) << ctx.str();
        EXPECT_EQ(w.get(i, k), 0.0) << ctx.str();
      }
    }
    // Against the reference.
    const double ref_kl = lrref::kl(l.se[u], l.sa[u], l.S, static_cast<double>(c.T));
    EXPECT_TRUE(lrref::close_enough(kl.at(i), ref_kl, kKlAtol, kKlRtol))
        << ctx.str() << " kl " << kl.at(i) << " ref " << ref_kl;
    EXPECT_EQ(keep.at(i), static_cast<float>(kl.at(i)) > c.kappa ? 1.0 : 0.0) << ctx.str();
    if (is_kept) {
      std::vector<int32_t> gi;
      std::vector<double> gw;
      for (int64_t k = 0; k < K; ++k) {
        gi.push_back(static_cast<int32_t>(ids.get(i, k)));
        gw.push_back(w.get(i, k));
      }
      const lrref::Targets ref =
          lrref::targets(l.se[u], l.sa[u], l.S, static_cast<double>(c.T), static_cast<double>(c.beta), K);
      const int64_t support = static_cast<int64_t>(sup.at(i));
      EXPECT_EQ(lrref::fx::check_targets(gi, gw, support, ref, l.se[u], l.sa[u], l.S, kWeightAtol), "") << ctx.str();
    }
  }
}

class SelectAndBuild : public ::testing::TestWithParam<Dtype> {};

TEST_P(SelectAndBuild, RandomPool) {
  FusedCase c;
  c.N = 96;
  c.Ve = c.Va = 200;
  c.seed = 51;
  run_case(GetParam(), c);
}

TEST_P(SelectAndBuild, StridedTemperatureKappa) {
  FusedCase c;
  c.N = 40;
  c.Ve = c.Va = 120;
  c.T = 0.75f;
  c.kappa = 0.05f;
  c.beta = 0.1f;
  c.K = 4;
  c.stride_extra = 7;
  c.seed = 52;
  run_case(GetParam(), c);
  c.kappa = -1.0f;  // every non-faulty row kept
  c.seed = 53;
  run_case(GetParam(), c);
  c.kappa = 1e30f;  // only +Inf rows kept
  c.seed = 54;
  run_case(GetParam(), c);
}

TEST_P(SelectAndBuild, NullStrides) {
  FusedCase c;
  c.N = 24;
  c.Ve = c.Va = 77;
  c.null_strides = true;
  c.T = 1.4f;
  c.seed = 55;
  run_case(GetParam(), c);
}

TEST_P(SelectAndBuild, EveryKindPair) {
  FusedCase c;
  c.kinds = lrtest::every_kind_pair(kPools);
  c.N = static_cast<int64_t>(c.kinds.size());
  c.Ve = c.Va = 48;
  c.K = 48;
  c.kappa = 0.01f;
  c.seed = 56;
  run_case(GetParam(), c);
}

TEST_P(SelectAndBuild, DifferentWidthsAndSharedVocab) {
  FusedCase c;
  c.N = 24;
  c.Ve = 60;
  c.Va = 41;
  c.seed = 57;
  run_case(GetParam(), c);
  c.Ve = 41;
  c.Va = 60;
  c.shared = 30;
  c.stride_extra = 2;
  c.seed = 58;
  run_case(GetParam(), c);
}

TEST_P(SelectAndBuild, SmallShapes) {
  FusedCase c;
  c.N = 0;
  c.seed = 59;
  run_case(GetParam(), c);
  c.N = 1;
  run_case(GetParam(), c);
  c.N = 4;
  c.Ve = c.Va = 1;
  c.kappa = -1.0f;
  run_case(GetParam(), c);
  c.K = 1;
  c.Ve = c.Va = 20;
  c.N = 20;
  c.kappa = 0.1f;
  run_case(GetParam(), c);
}

TEST_P(SelectAndBuild, LargeVocab) {
  FusedCase c;
  c.N = 3;
  c.Ve = 152064;  // Qwen2.5-7B width against 0.5B: S = 151936, expert columns past it NaN
  c.Va = 151936;
  c.K = 16;
  c.kappa = 0.0f;
  c.kinds = {{RowKind::Normal, RowKind::Normal}, {RowKind::Peaked, RowKind::Perturbed},
             {RowKind::Uniform, RowKind::Normal}};
  c.seed = 60;
  run_case(GetParam(), c);
}

TEST_P(SelectAndBuild, MixedDtypes) {
  for (Dtype adt : lrref::fx::logit_dtypes()) {
    if (adt == GetParam()) continue;
    FusedCase c;
    c.N = 30;
    c.Ve = 50;
    c.Va = 64;
    c.amateur_dtype = adt;
    c.seed = 61;
    run_case(GetParam(), c);
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, SelectAndBuild, ::testing::ValuesIn(lrref::fx::logit_dtypes()),
                         [](const ::testing::TestParamInfo<Dtype>& i) { return lrtest::dtype_name(i.param); });

}  // namespace
