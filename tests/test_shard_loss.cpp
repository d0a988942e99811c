// The sharded loss: lr_shard_loss_stats on every rank, the stats gathered,
// lr_shard_loss_backward on every rank (gradient separate, in place or not
// wanted); for every partition of V into 1 to 8 contiguous shards
// (support/shard_split.h). The loss (the same on every rank, bit for bit)
// and the assembled gradient are checked against the double-precision
// brute force with the tolerances of test_distill_loss.cpp, and against
// lr_distill_loss_backward on the whole rows with the same tolerances.
#include <gtest/gtest.h>
#include <lightreasoner/lightreasoner.h>

#include <cmath>
#include <sstream>

#include "reference/brute_force.h"
#include "support/device_shim.h"
#include "support/loss_cases.h"
#include "support/shard_split.h"

namespace {

using lrref::Row;
using lrref::fx::RowKind;
using lrtest::Dtype;
using lrtest::HostTensor;
using lrtest::LossCase;
using lrtest::Records;
using lrtest::TargetKind;

constexpr int64_t kStats = LR_SHARD_LOSS_STATS;

lr_loss_params params_for(const LossCase& c) {
  lr_loss_params p = lr_loss_params_default();
  p.reduction = c.red;
  p.grad_scale = c.grad_scale;
  p.temperature = c.T;
  return p;
}

HostTensor loss_tensor(const LossCase& c) {
  HostTensor t = c.red == LR_REDUCTION_NONE ? HostTensor(Dtype::F32, {c.N}) : HostTensor(Dtype::F32, {1});
  t.fill_bytes(0xCD);
  return t;
}

std::vector<double> read_loss(const HostTensor& t) {
  std::vector<double> v;
  for (int64_t i = 0; i < t.numel(); ++i) v.push_back(t.at(i));
  return v;
}

struct LossOut {
  std::vector<double> loss;
  std::vector<Row> grad;  // [N, V]; empty when not wanted
};

// The whole rows through lr_distill_loss_backward.
LossOut unsharded(lrtest::LossInputs& in, const LossCase& c) {
  const lr_loss_params p = params_for(c);
  HostTensor loss = loss_tensor(c), grad(in.z.dtype(), {c.N, c.V});
  EXPECT_EQ(lrtest::distill_loss_backward(in.z.dl(), in.ids.dl(), in.w.dl(), &p, loss.dl(), grad.dl(), nullptr), LR_OK)
      << lr_last_error();
  return {read_loss(loss), lrref::fx::read_rows(grad)};
}

// Every rank's stats, gathered; every rank's finish; the gradient assembled.
LossOut sharded(lrtest::LossInputs& in, const LossCase& c, const lrtest::Partition& part) {
  const lr_loss_params p = params_for(c);
  std::vector<HostTensor> z;
  std::vector<lr_vocab_shard> sh;
  std::vector<Records> parts;
  for (int64_t r = 0; r < part.shards(); ++r) {
    z.push_back(lrtest::column_slice(in.z, part.begin(r), part.end(r, c.V)));
    sh.push_back(lrtest::shard_of(part, r, c.V, 0));
    parts.emplace_back(true, std::vector<int64_t>{c.N, kStats}, r % 2 ? 1 : 0);
    EXPECT_EQ(lrtest::shard_loss_stats(z.back().dl(), &sh.back(), in.ids.dl(), in.w.dl(), &p, parts.back().dl(),
                                       nullptr),
              LR_OK)
        << lr_last_error();
  }
  Records all = lrtest::gather(parts, true, c.N, kStats, 2);
  LossOut o;
  if (!c.grad_null) o.grad.assign(static_cast<size_t>(c.N), Row(static_cast<size_t>(c.V)));
  for (int64_t r = 0; r < part.shards(); ++r) {
    HostTensor loss = loss_tensor(c);
    HostTensor grad(in.z.dtype(), {c.N, z[size_t(r)].cols()});
    grad.fill_bytes(0xCD);
    DLTensor* g = c.grad_null ? nullptr : c.in_place ? z[size_t(r)].dl() : grad.dl();
    EXPECT_EQ(lrtest::shard_loss_backward(z[size_t(r)].dl(), &sh[size_t(r)], in.ids.dl(), in.w.dl(), all.dl(), &p,
                                          loss.dl(), g, nullptr),
              LR_OK)
        << lr_last_error();
    const std::vector<double> l = read_loss(loss);
    if (r == 0) o.loss = l;
    for (size_t i = 0; i < l.size(); ++i)
      EXPECT_TRUE(lrref::same_value(l[i], o.loss[i])) << "rank " << r << " wrote another loss " << l[i] << " vs "
                                                      << o.loss[i];
    if (c.grad_null) continue;
    const HostTensor& gt = c.in_place ? z[size_t(r)] : grad;
    for (int64_t i = 0; i < c.N; ++i)
      for (int64_t j = 0; j < gt.cols(); ++j) o.grad[size_t(i)][size_t(part.begin(r) + j)] = gt.get(i, j);
  }
  return o;
}

lrref::Reduction ref_red(lr_reduction r) {
  return r == LR_REDUCTION_NONE ? lrref::Reduction::None
         : r == LR_REDUCTION_SUM ? lrref::Reduction::Sum
                                 : lrref::Reduction::Mean;
}

// test_distill_loss.cpp's tolerances: rows 1e-5 + 1e-4 |ref|, a reduced loss
// the sum of its rows' (over D for MEAN); gradients 1e-5 s + 1e-4 |ref|, plus
// one unit in the last place for bf16/f16.
void expect_close(const LossOut& got, const std::vector<double>& loss_ref, const std::vector<Row>& grad_ref,
                  const lrref::LossBatch& ref, Dtype dt, const LossCase& c, const std::string& ctx) {
  const double D = c.red == LR_REDUCTION_MEAN ? std::max<double>(1.0, static_cast<double>(ref.counted)) : 1.0;
  if (c.red == LR_REDUCTION_NONE) {
    for (size_t i = 0; i < loss_ref.size(); ++i)
      ASSERT_TRUE(lrref::close_enough(got.loss[i], loss_ref[i], 1e-5, 1e-4))
          << ctx << " row " << i << " loss " << got.loss[i] << " ref " << loss_ref[i];
  } else {
    double tol = 0;
    for (double l : ref.row_loss) tol += 1e-5 + 1e-4 * std::fabs(l);
    ASSERT_TRUE(lrref::close_enough(got.loss[0], loss_ref[0], tol / D, 0.0))
        << ctx << " reduced loss " << got.loss[0] << " ref " << loss_ref[0];
  }
  if (c.grad_null) return;
  const double s = std::fabs(static_cast<double>(c.grad_scale)) / static_cast<double>(c.T) / D;
  for (size_t i = 0; i < grad_ref.size(); ++i)
    for (size_t j = 0; j < grad_ref[i].size(); ++j) {
      const double r = grad_ref[i][j], g = got.grad[i][j];
      double tol = 1e-5 * s + 1e-4 * std::fabs(r), want = r;
      if (dt != Dtype::F32) {
        want = lrtest::round_to_dtype(static_cast<float>(r), dt);
        tol += lrref::fx::ulp_in(r, dt);
      }
      ASSERT_TRUE(std::isfinite(g) && std::fabs(g - want) <= tol)
          << ctx << " row " << i << " col " << j << " grad " << g << " ref " << r << " tol " << tol;
    }
}

void run_case(Dtype dt, const LossCase& c, size_t every = 1) {
  const lrtest::LossInputs pristine = lrtest::make_inputs(dt, c);
  const lrref::LossBatch ref = lrref::distill_loss(pristine.stored_z, pristine.id_rows, pristine.w_rows,
                                                   ref_red(c.red), c.grad_scale, c.T);
  const std::vector<double> ref_loss = c.red == LR_REDUCTION_NONE ? ref.row_loss : std::vector<double>{ref.reduced};
  lrtest::LossInputs in = pristine;
  const LossOut whole = unsharded(in, c);
  for (const lrtest::Partition& part : lrtest::thinned(lrtest::partitions(c.V, c.V, c.seed), every, c.seed)) {
    in = pristine;  // in place overwrites the slices only, but start clean
    const LossOut got = sharded(in, c, part);
    std::ostringstream ctx;
    ctx << "dtype " << lrtest::dtype_name(dt) << " red " << c.red << " T " << c.T << " scale " << c.grad_scale
        << " V " << c.V << " K " << c.K << (c.in_place ? " in-place" : "") << (c.grad_null ? " grad NULL" : "")
        << " shards " << part.describe();
    expect_close(got, ref_loss, ref.grad, ref, dt, c, ctx.str() + " vs brute force");
    expect_close(got, whole.loss, whole.grad, ref, dt, c, ctx.str() + " vs lr_distill_loss_backward");
    if (c.grad_null) continue;
    for (int64_t i = 0; i < c.N; ++i) {
      bool counted = false;
      for (int32_t id : pristine.id_rows[size_t(i)]) counted = counted || id != -1;
      if (counted) continue;
      for (double x : got.grad[size_t(i)]) ASSERT_EQ(x, 0.0) << ctx.str() << " padding row " << i;
    }
  }
}

class ShardLoss : public ::testing::TestWithParam<Dtype> {};

TEST_P(ShardLoss, ReductionsTemperaturesScales) {
  LossCase c;
  c.N = 14;
  c.V = 37;
  c.K = 6;
  uint32_t seed = 501;
  for (lr_reduction red : {LR_REDUCTION_NONE, LR_REDUCTION_SUM, LR_REDUCTION_MEAN})
    for (float T : {1.0f, 0.7f}) {
      c.red = red;
      c.T = T;
      c.grad_scale = red == LR_REDUCTION_SUM ? 0.25f : 1.0f;
      c.seed = seed++;
      run_case(GetParam(), c, 2);  // half the partitions each, alternating
    }
}

TEST_P(ShardLoss, InPlaceAndWithoutGradient) {
  LossCase c;
  c.N = 10;
  c.V = 29;
  c.K = 5;
  c.red = LR_REDUCTION_MEAN;
  c.in_place = true;
  c.seed = 510;
  run_case(GetParam(), c);
  c.in_place = false;
  c.grad_null = true;
  c.red = LR_REDUCTION_NONE;
  c.seed = 511;
  run_case(GetParam(), c);
}

TEST_P(ShardLoss, EveryLogitKindWithEveryTargetKind) {
  LossCase c;
  c.kinds = {RowKind::Normal, RowKind::Peaked,    RowKind::OneHot,    RowKind::Uniform,    RowKind::Huge,
             RowKind::NegInfEntries, RowKind::TiesAtMax, RowKind::HugeCluster};
  c.tkinds = {TargetKind::Full, TargetKind::Padded, TargetKind::AllPad, TargetKind::Single,
              TargetKind::PartialMass, TargetKind::ZeroWeightId, TargetKind::Full};
  c.N = 56;  // every (kind, target kind) pair: 8 x 7
  c.V = 24;
  c.K = 4;
  c.red = LR_REDUCTION_NONE;
  c.seed = 512;
  run_case(GetParam(), c);
}

TEST_P(ShardLoss, RowsOverSeveralBlocks) {
  LossCase c;
  c.N = 6;
  c.V = 2300;
  c.K = 8;
  c.T = 1.3f;
  c.red = LR_REDUCTION_SUM;
  c.seed = 513;
  run_case(GetParam(), c);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, ShardLoss, ::testing::ValuesIn(lrref::fx::logit_dtypes()),
                         [](const ::testing::TestParamInfo<Dtype>& i) { return lrtest::dtype_name(i.param); });

}  // namespace
