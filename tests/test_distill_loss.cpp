// lr_distill_loss_backward against the double-precision brute force, for
// every logits dtype, with finite-difference gradient checks.
//
// Tolerances (the reference reads logits and weights as stored):
// - row loss: |got - ref| <= 1e-5 + 1e-4 |ref| (float32 log-sum-exp over up
//   to 151936 terms, as for KL); a reduced loss: the sum of its rows'
//   tolerances (divided by D for MEAN).
// - gradient, float32 output: |got - ref| <= 1e-5 s + 1e-4 |ref| with
//   s = |grad_scale| / T / D the gradient's scale: q = softmax carries a
//   relative error of order 1e-6..1e-5 from float32 accumulation, and where
//   w q - v cancels the error is absolute (at most ~1e-5 q s).
// - gradient, bf16/f16 output: the reference is rounded to the dtype and one
//   unit in its last place is allowed on top of the float32 tolerance (the
//   library's float32 value may sit across a rounding boundary from the
//   exact one).
// - finite differences of the library's own loss (float32 logits, V 7..50,
//   moderate logits, h = 1e-2 on the stored value): |fd - grad| <= 3e-4.
//   Truncation error h^2/6 |d3L/dz3| <= 2e-5 (for T >= 0.7), and float32
//   loss values of magnitude <= 10 carry ~1e-6 error, /(2h) -> 1e-4.
// - finite differences of the reference loss in double (h = 1e-5):
//   |fd - grad| <= 1e-7 (truncation ~1e-11, rounding ~1e-10).
#include <gtest/gtest.h>
#include <lightreasoner/lightreasoner.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <sstream>

#include "reference/brute_force.h"
#include "support/device_shim.h"
#include "support/host_tensor.h"
#include "support/loss_cases.h"

namespace {

using lrref::Row;
using lrref::fx::RowKind;
using lrtest::Dtype;
using lrtest::HostTensor;
using lrtest::LossCase;
using lrtest::LossInputs;
using lrtest::TargetKind;
using lrtest::make_inputs;
using lrtest::make_targets;
using lrtest::kLogitPool;

struct LossOut {
  std::vector<double> loss;         // [N] for NONE, [1] otherwise
  std::vector<Row> grad;            // empty if grad_null
};

LossOut call_loss(LossInputs& in, Dtype dt, const LossCase& c) {
  const int64_t N = in.z.rows(), V = in.z.cols();
  lr_loss_params p = lr_loss_params_default();
  p.reduction = c.red;
  p.grad_scale = c.grad_scale;
  p.temperature = c.T;
  HostTensor loss = c.red == LR_REDUCTION_NONE ? HostTensor(Dtype::F32, {N})
                    : c.zero_d_loss            ? HostTensor(Dtype::F32, {})
                                               : HostTensor(Dtype::F32, {1});
  loss.fill_bytes(0xCD);
  // A separate gradient tensor: same dtype, its own NaN-padded stride when
  // the logits have one (the padding must survive).
  HostTensor grad(dt, {N, V}, c.stride_extra > 0 ? V + c.stride_extra + 1 : -1);
  if (c.null_strides) grad.use_null_strides();
  DLTensor* gdl = c.grad_null ? nullptr : c.in_place ? in.z.dl() : grad.dl();
  lr_status s = lrtest::distill_loss_backward(in.z.dl(), in.ids.dl(), in.w.dl(), &p, loss.dl(), gdl, nullptr);
  EXPECT_EQ(s, LR_OK) << lr_last_error();
  LossOut o;
  const int64_t nl = c.red == LR_REDUCTION_NONE ? N : 1;
  for (int64_t i = 0; i < nl; ++i) o.loss.push_back(loss.at(i));
  if (!c.grad_null) {
    HostTensor& gt = c.in_place ? in.z : grad;
    o.grad = lrref::fx::read_rows(gt);
    if (!c.in_place && c.stride_extra > 0) {
      for (int64_t i = 0; i + 1 < N; ++i)
        for (int64_t j = V; j < V + c.stride_extra + 1; ++j) {
          EXPECT_TRUE(std::isnan(grad.get(i, j))) << "gradient padding overwritten at row " << i << " col " << j;
        }
    }
  }
  return o;
}

lrref::Reduction ref_red(lr_reduction r) {
  return r == LR_REDUCTION_NONE ? lrref::Reduction::None
         : r == LR_REDUCTION_SUM ? lrref::Reduction::Sum
                                 : lrref::Reduction::Mean;
}

void run_case(Dtype dt, const LossCase& c) {
  LossInputs in = make_inputs(dt, c);
  const lrref::LossBatch ref = lrref::distill_loss(in.stored_z, in.id_rows, in.w_rows, ref_red(c.red),
                                                   static_cast<double>(c.grad_scale), static_cast<double>(c.T));
  LossOut o = call_loss(in, dt, c);
  const double D = c.red == LR_REDUCTION_MEAN ? std::max<double>(1.0, static_cast<double>(ref.counted)) : 1.0;
  const double s = std::fabs(static_cast<double>(c.grad_scale)) / static_cast<double>(c.T) / D;
  std::ostringstream cctx;
  cctx << "dtype " << lrtest::dtype_name(dt) << " red " << c.red << " T " << c.T << " scale " << c.grad_scale
       << " V " << c.V << " K " << c.K << (c.in_place ? " in-place" : "") << (c.grad_null ? " grad NULL" : "");
  if (c.red == LR_REDUCTION_NONE) {
    for (size_t i = 0; i < ref.row_loss.size(); ++i)
      EXPECT_TRUE(lrref::close_enough(o.loss[i], ref.row_loss[i], 1e-5, 1e-4))
          << cctx.str() << " row " << i << " (" << in.names[i] << ") loss " << o.loss[i] << " ref " << ref.row_loss[i];
  } else {
    double tol = 0;
    for (double l : ref.row_loss) tol += 1e-5 + 1e-4 * std::fabs(l);
    tol /= D;
    EXPECT_TRUE(lrref::close_enough(o.loss[0], ref.reduced, tol, 0.0))
        << cctx.str() << " reduced loss " << o.loss[0] << " ref " << ref.reduced << " tol " << tol;
  }
  if (c.grad_null) return;
  for (size_t i = 0; i < o.grad.size(); ++i) {
    for (size_t j = 0; j < o.grad[i].size(); ++j) {
      const double r = ref.grad[i][j], got = o.grad[i][j];
      double tol = 1e-5 * s + 1e-4 * std::fabs(r);
      double want = r;
      if (dt != Dtype::F32) {
        want = lrtest::round_to_dtype(static_cast<float>(r), dt);
        tol += lrref::fx::ulp_in(r, dt);
      }
      ASSERT_TRUE(std::isfinite(got) && std::fabs(got - want) <= tol)
          << cctx.str() << " row " << i << " (" << in.names[i] << ") col " << j << " grad " << got << " ref " << r
          << " tol " << tol;
    }
    bool counted = false;
    for (int32_t id : in.id_rows[i]) counted = counted || id != -1;
    if (!counted) {
      for (double x : o.grad[i]) {
        ASSERT_EQ(x, 0.0) << cctx.str() << " padding row " << i;
      }
    }
  }
}

class DistillLoss : public ::testing::TestWithParam<Dtype> {};

TEST_P(DistillLoss, ReductionsScalesTemperatures) {
  uint32_t seed = 70;
  for (lr_reduction red : {LR_REDUCTION_NONE, LR_REDUCTION_SUM, LR_REDUCTION_MEAN})
    for (float T : {1.0f, 0.7f, 2.0f})
      for (float scale : {1.0f, 0.5f, -3.0f}) {
        LossCase c;
        c.N = 24;
        c.V = 64;
        c.K = 8;
        c.red = red;
        c.T = T;
        c.grad_scale = scale;
        c.seed = seed++;
        run_case(GetParam(), c);
      }
}

TEST_P(DistillLoss, ZeroDimensionalLossOut) {
  for (lr_reduction red : {LR_REDUCTION_SUM, LR_REDUCTION_MEAN}) {
    LossCase c;
    c.red = red;
    c.zero_d_loss = true;
    c.seed = 80;
    run_case(GetParam(), c);
  }
}

TEST_P(DistillLoss, StridedAndNullStrides) {
  LossCase c;
  c.N = 20;
  c.V = 53;
  c.stride_extra = 11;
  c.red = LR_REDUCTION_MEAN;
  c.T = 1.3f;
  c.seed = 81;
  run_case(GetParam(), c);
  c.stride_extra = 0;
  c.null_strides = true;
  c.red = LR_REDUCTION_SUM;
  c.seed = 82;
  run_case(GetParam(), c);
}

TEST_P(DistillLoss, GradNullGivesSameLoss) {
  for (lr_reduction red : {LR_REDUCTION_NONE, LR_REDUCTION_SUM, LR_REDUCTION_MEAN}) {
    LossCase c;
    c.red = red;
    c.T = 0.8f;
    c.seed = 83;
    LossInputs in = make_inputs(GetParam(), c);
    LossOut with = call_loss(in, GetParam(), c);
    c.grad_null = true;
    LossOut without = call_loss(in, GetParam(), c);
    ASSERT_EQ(with.loss.size(), without.loss.size());
    for (size_t i = 0; i < with.loss.size(); ++i)
      EXPECT_TRUE(lrref::same_value(with.loss[i], without.loss[i])) << "red " << red << " row " << i;
    run_case(GetParam(), c);
  }
}

TEST_P(DistillLoss, InPlaceEqualsOutOfPlace) {
  for (lr_reduction red : {LR_REDUCTION_NONE, LR_REDUCTION_MEAN}) {
    LossCase c;
    c.red = red;
    c.grad_scale = 0.25f;
    c.T = 1.5f;
    c.seed = 84;
    c.stride_extra = 4;
    LossInputs in = make_inputs(GetParam(), c);
    LossOut out = call_loss(in, GetParam(), c);
    c.in_place = true;
    LossOut inp = call_loss(in, GetParam(), c);  // overwrites in.z
    for (size_t i = 0; i < out.loss.size(); ++i) EXPECT_TRUE(lrref::same_value(out.loss[i], inp.loss[i])) << i;
    for (size_t i = 0; i < out.grad.size(); ++i)
      for (size_t j = 0; j < out.grad[i].size(); ++j)
        ASSERT_TRUE(lrref::same_value(out.grad[i][j], inp.grad[i][j]))
            << "red " << red << " row " << i << " col " << j << ": " << out.grad[i][j] << " vs " << inp.grad[i][j];
    // And the in-place result against the reference.
    LossCase c2 = c;
    c2.seed = 85;
    run_case(GetParam(), c2);
  }
}

TEST_P(DistillLoss, PaddingRows) {
  // All rows padding: loss 0 for every reduction (MEAN: no counted row), gradient 0.
  for (lr_reduction red : {LR_REDUCTION_NONE, LR_REDUCTION_SUM, LR_REDUCTION_MEAN}) {
    LossCase c;
    c.red = red;
    c.N = 5;
    c.tkinds = {TargetKind::AllPad};
    c.seed = 86;
    run_case(GetParam(), c);
    LossInputs in = make_inputs(GetParam(), c);
    LossOut o = call_loss(in, GetParam(), c);
    for (double l : o.loss) EXPECT_EQ(l, 0.0);
    for (const Row& r : o.grad)
      for (double x : r) EXPECT_EQ(x, 0.0);
    c.in_place = true;
    run_case(GetParam(), c);
  }
  // Mixed: MEAN divides by the counted rows only.
  LossCase c;
  c.red = LR_REDUCTION_MEAN;
  c.N = 9;
  c.tkinds = {TargetKind::AllPad, TargetKind::Full, TargetKind::AllPad};
  c.seed = 87;
  run_case(GetParam(), c);
}

TEST_P(DistillLoss, AdversarialLogits) {
  uint32_t seed = 88;
  for (RowKind k : kLogitPool)
    for (lr_reduction red : {LR_REDUCTION_NONE, LR_REDUCTION_MEAN}) {
      LossCase c;
      c.kinds = {k};
      c.red = red;
      c.N = 14;
      c.V = 33;
      c.seed = seed++;
      run_case(GetParam(), c);
      c.T = 0.6f;
      c.seed = seed++;
      run_case(GetParam(), c);
    }
}

TEST_P(DistillLoss, SmallShapes) {
  LossCase c;
  for (lr_reduction red : {LR_REDUCTION_NONE, LR_REDUCTION_SUM, LR_REDUCTION_MEAN}) {
    c.red = red;
    c.N = 0;
    c.seed = 89;
    run_case(GetParam(), c);
    c.N = 1;
    run_case(GetParam(), c);
    c.N = 6;
    c.V = 1;  // q = 1: loss 0 and gradient 0 for v = 1
    c.K = 2;
    run_case(GetParam(), c);
    c.K = 1;
    c.V = 40;
    run_case(GetParam(), c);
  }
}

TEST_P(DistillLoss, LargeVocab) {
  LossCase c;
  c.N = 3;
  c.V = 151936;
  c.K = 16;
  c.kinds = {RowKind::Normal, RowKind::Uniform, RowKind::Peaked};
  c.tkinds = {TargetKind::Full, TargetKind::Padded, TargetKind::Full};
  c.red = LR_REDUCTION_MEAN;
  c.grad_scale = 0.5f;
  c.seed = 90;
  run_case(GetParam(), c);
}

TEST_P(DistillLoss, HandValues) {
  // V = 2, z = (0, 0), target id 1 with weight 1: q = (1/2, 1/2),
  // loss = -log(1/2) = log 2, grad = (1/2, -1/2).
  std::vector<Row> z = {{0.0, 0.0}};
  HostTensor zt = lrref::fx::make_logits(GetParam(), z, 2);
  HostTensor ids(Dtype::I32, {1, 2}), w(Dtype::F32, {1, 2}), loss(Dtype::F32, {1}), grad(GetParam(), {1, 2});
  ids.set(0, 0, 1);
  ids.set(0, 1, -1);
  w.set(0, 0, 1.0);
  w.set(0, 1, 0.0);
  lr_loss_params p = lr_loss_params_default();
  p.reduction = LR_REDUCTION_NONE;
  ASSERT_EQ(lrtest::distill_loss_backward(zt.dl(), ids.dl(), w.dl(), &p, loss.dl(), grad.dl(), nullptr), LR_OK)
      << lr_last_error();
  EXPECT_NEAR(loss.at(0), std::log(2.0), 1e-6);
  EXPECT_NEAR(grad.get(0, 0), 0.5, 1e-6);
  EXPECT_NEAR(grad.get(0, 1), -0.5, 1e-6);
  // NULL params: defaults (MEAN), loss_out [1].
  HostTensor l1(Dtype::F32, {1});
  ASSERT_EQ(lrtest::distill_loss_backward(zt.dl(), ids.dl(), w.dl(), nullptr, l1.dl(), grad.dl(), nullptr), LR_OK)
      << lr_last_error();
  EXPECT_NEAR(l1.at(0), std::log(2.0), 1e-6);
}

// float32 logits of magnitude ~1e4 with several likely tokens near the max.
// The probabilities that matter come from entries within a few units of the
// row max, where z - z_max is exact in float32, so (z - z_max) / T gives q
// to ~1e-7 relative. Scaling first, float(z) * (1/T), rounds each scaled
// logit at |z| / T ~ 1.4e4 (~5e-4 absolute): q errors of ~5e-4 relative,
// outside the 1e-4 tolerance, for T != 1 only (T = 1 scales exactly).
void huge_cluster_loss(float T) {
  LossCase c;
  c.N = 12;
  c.V = 64;
  c.T = T;
  c.kinds = {RowKind::HugeCluster};
  c.tkinds = {TargetKind::Full};
  c.red = LR_REDUCTION_NONE;
  c.seed = 93;
  run_case(Dtype::F32, c);
}
TEST(DistillLossPrecision, HugeLogitsUnitTemperature) { huge_cluster_loss(1.0f); }
TEST(DistillLossPrecision, HugeLogitsWithTemperature) {
  huge_cluster_loss(0.7f);
  huge_cluster_loss(1.3f);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, DistillLoss, ::testing::ValuesIn(lrref::fx::logit_dtypes()),
                         [](const ::testing::TestParamInfo<Dtype>& i) { return lrtest::dtype_name(i.param); });

// ------------------------------------------------------ finite differences

// Moderate float32 logits for the finite-difference checks.
std::vector<Row> moderate_rows(int64_t N, int64_t V, std::mt19937& g) {
  std::normal_distribution<double> n(0.0, 2.0);
  std::vector<Row> z(static_cast<size_t>(N), Row(static_cast<size_t>(V)));
  for (auto& r : z)
    for (auto& x : r) x = n(g);
  return z;
}

TEST(DistillLossFiniteDifferences, LibraryGradientMatchesItsOwnLoss) {
  std::mt19937 g(91);
  for (int64_t V : {int64_t{7}, int64_t{19}, int64_t{50}})
    for (float T : {1.0f, 0.7f})
      for (lr_reduction red : {LR_REDUCTION_NONE, LR_REDUCTION_SUM}) {
        const int64_t N = 3, K = 5;
        std::vector<Row> z = moderate_rows(N, V, g);
        HostTensor zt = lrref::fx::make_logits(Dtype::F32, z, V);
        HostTensor ids(Dtype::I32, {N, K}), w(Dtype::F32, {N, K});
        for (int64_t i = 0; i < N; ++i) {
          std::vector<int32_t> ri;
          Row rw;
          make_targets(i == 1 ? TargetKind::Padded : TargetKind::Full, V, K, g, ri, rw);
          for (int64_t k = 0; k < K; ++k) {
            ids.set(i, k, ri[static_cast<size_t>(k)]);
            w.set(i, k, rw[static_cast<size_t>(k)]);
          }
        }
        lr_loss_params p = lr_loss_params_default();
        p.reduction = red;
        p.temperature = T;
        const int64_t nl = red == LR_REDUCTION_NONE ? N : 1;
        HostTensor loss(Dtype::F32, {nl}), grad(Dtype::F32, {N, V});
        ASSERT_EQ(lrtest::distill_loss_backward(zt.dl(), ids.dl(), w.dl(), &p, loss.dl(), grad.dl(), nullptr), LR_OK)
            << lr_last_error();
        auto loss_at = [&](int64_t i, int64_t j, double h, double& actual_h) {
          HostTensor zp = zt;
          const double z0 = zt.get(i, j);
          zp.set(i, j, z0 + h);
          actual_h = zp.get(i, j) - z0;  // the step as stored in float32
          HostTensor l(Dtype::F32, {nl});
          EXPECT_EQ(lrtest::distill_loss_backward(zp.dl(), ids.dl(), w.dl(), &p, l.dl(), nullptr, nullptr), LR_OK);
          return l.at(red == LR_REDUCTION_NONE ? i : 0);
        };
        for (int64_t i = 0; i < N; ++i)
          for (int64_t j = 0; j < V; ++j) {
            double hp, hm;
            const double lp = loss_at(i, j, 1e-2, hp), lm = loss_at(i, j, -1e-2, hm);
            const double fd = (lp - lm) / (hp - hm);
            EXPECT_NEAR(fd, grad.get(i, j), 3e-4)
                << "V " << V << " T " << T << " red " << red << " row " << i << " col " << j;
          }
      }
}

TEST(DistillLossFiniteDifferences, ReferenceGradientMatchesReferenceLoss) {
  std::mt19937 g(92);
  for (int64_t V : {int64_t{7}, int64_t{30}})
    for (double T : {1.0, 0.7, 2.5})
      for (TargetKind tk : {TargetKind::Full, TargetKind::Padded, TargetKind::PartialMass, TargetKind::Single}) {
        Row z = moderate_rows(1, V, g)[0];
        std::vector<int32_t> ids;
        Row w;
        make_targets(tk, V, 6, g, ids, w);
        const lrref::LossRow r = lrref::loss_row(z, ids, w, T);
        for (int64_t j = 0; j < V; ++j) {
          const double h = 1e-5;
          Row zp = z, zm = z;
          zp[static_cast<size_t>(j)] += h;
          zm[static_cast<size_t>(j)] -= h;
          const double fd = (lrref::loss_row(zp, ids, w, T).loss - lrref::loss_row(zm, ids, w, T).loss) / (2 * h);
          EXPECT_NEAR(fd, r.grad[static_cast<size_t>(j)], 1e-7) << "V " << V << " T " << T << " col " << j;
        }
      }
}

}  // namespace
