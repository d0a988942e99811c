// Faults in the data are not call failures: a NaN, a +Inf, or a row whose
// (first S) logits are all -Inf make the call succeed and mark that row
// (kl NaN, keep 0, support_size -1, ids -1, weights 0, loss NaN, gradient 0);
// every other row is exactly (bit for bit) what the same call gives without
// the faulty row. -Inf entries that are not all of the row are not faults.
#include <gtest/gtest.h>
#include <lightreasoner/lightreasoner.h>

#include <cmath>
#include <random>
#include <sstream>

#include "reference/brute_force.h"
#include "support/device_shim.h"
#include "support/host_tensor.h"

namespace {

using lrref::Row;
using lrref::fx::RowKind;
using lrtest::Dtype;
using lrtest::HostTensor;

enum class Fault { NaN, PosInf, AllNegInf };
const Fault kFaults[] = {Fault::NaN, Fault::PosInf, Fault::AllNegInf};
const char* fault_name(Fault f) { return f == Fault::NaN ? "NaN" : f == Fault::PosInf ? "+Inf" : "all -Inf"; }

// Puts fault f into z[0, S) (at column `col` for NaN / +Inf).
void inject(Row& z, Fault f, int64_t S, int64_t col) {
  switch (f) {
    case Fault::NaN: z[static_cast<size_t>(col)] = lrref::kNaN; break;
    case Fault::PosInf: z[static_cast<size_t>(col)] = lrref::kInf; break;
    case Fault::AllNegInf:
      for (int64_t j = 0; j < S; ++j) z[static_cast<size_t>(j)] = -lrref::kInf;
      break;
  }
}

std::vector<Row> without_row(const std::vector<Row>& rows, size_t skip) {
  std::vector<Row> out;
  for (size_t i = 0; i < rows.size(); ++i)
    if (i != skip) out.push_back(rows[i]);
  return out;
}

// Expert [N, Ve] and amateur [N, Va] rows with S = min = Va; expert columns
// past S hold NaN (they must not be read).
struct Pair {
  std::vector<Row> ze, za;
  int64_t Ve = 45, Va = 40, S = 40;
};

Pair make_pair_rows(int64_t N, std::mt19937& g) {
  Pair p;
  const RowKind ek[] = {RowKind::Normal, RowKind::Peaked, RowKind::TiesAtMax, RowKind::NegInfEntries};
  for (int64_t i = 0; i < N; ++i) {
    p.ze.push_back(lrref::fx::make_row(ek[i % 4], p.Ve, g));
    p.za.push_back(lrref::fx::make_amateur(i % 2 ? RowKind::Perturbed : RowKind::Normal, p.ze.back(), p.Va, g));
  }
  lrref::fx::poison_columns(p.ze, p.S);
  return p;
}

struct StageOne {
  std::vector<double> kl, keep, support;
  std::vector<std::vector<double>> ids, w;
};

// Runs all three select/targets calls on the pair (build_targets with rows = all,
// in order); fills kl/keep from select_steps, targets from build_targets and
// checks select_and_build against them (fused).
StageOne run_select(const Pair& p, Dtype dt, int64_t K, StageOne* fused) {
  const int64_t N = static_cast<int64_t>(p.ze.size());
  HostTensor e = lrref::fx::make_logits(dt, p.ze, p.Ve, 3), a = lrref::fx::make_logits(dt, p.za, p.Va);
  lr_select_params sp = lr_select_params_default();
  sp.kl_threshold = -1.0f;  // every non-faulty row kept, so the fused targets are all written
  lr_target_params tp = lr_target_params_default();
  HostTensor kl(Dtype::F32, {N}), keep(Dtype::U8, {N}), ids(Dtype::I32, {N, K}), w(Dtype::F32, {N, K}),
      sup(Dtype::I32, {N});
  for (HostTensor* t : {&kl, &keep, &ids, &w, &sup}) t->fill_bytes(0xCD);
  StageOne o;
  EXPECT_EQ(lrtest::select_steps(e.dl(), a.dl(), &sp, kl.dl(), keep.dl(), nullptr), LR_OK) << lr_last_error();
  EXPECT_EQ(lrtest::build_targets(e.dl(), a.dl(), nullptr, &tp, ids.dl(), w.dl(), sup.dl(), nullptr), LR_OK)
      << lr_last_error();
  auto collect = [&](StageOne& s) {
    s = StageOne{};
    for (int64_t i = 0; i < N; ++i) {
      s.kl.push_back(kl.at(i));
      s.keep.push_back(keep.at(i));
      s.support.push_back(sup.at(i));
      std::vector<double> ri, rw;
      for (int64_t k = 0; k < K; ++k) {
        ri.push_back(ids.get(i, k));
        rw.push_back(w.get(i, k));
      }
      s.ids.push_back(ri);
      s.w.push_back(rw);
    }
  };
  collect(o);
  if (fused) {
    for (HostTensor* t : {&kl, &keep, &ids, &w, &sup}) t->fill_bytes(0xCD);
    EXPECT_EQ(lrtest::select_and_build(e.dl(), a.dl(), &sp, &tp, kl.dl(), keep.dl(), ids.dl(), w.dl(), sup.dl(), nullptr),
              LR_OK)
        << lr_last_error();
    collect(*fused);
  }
  return o;
}

void expect_fault_row(const StageOne& s, size_t i, const std::string& ctx) {
  EXPECT_TRUE(std::isnan(s.kl[i])) << ctx << " kl " << s.kl[i];
  EXPECT_EQ(s.keep[i], 0.0) << ctx;
  EXPECT_EQ(s.support[i], -1.0) << ctx;
  for (size_t k = 0; k < s.ids[i].size(); ++k) {
    EXPECT_EQ(s.ids[i][k], -1.0) << ctx << " k " << k;
    EXPECT_EQ(s.w[i][k], 0.0) << ctx << " k " << k;
  }
}

void expect_same_row(const StageOne& got, size_t i, const StageOne& want, size_t j, const std::string& ctx) {
  EXPECT_TRUE(lrref::same_value(got.kl[i], want.kl[j])) << ctx << " kl " << got.kl[i] << " vs " << want.kl[j];
  EXPECT_EQ(got.keep[i], want.keep[j]) << ctx;
  EXPECT_EQ(got.support[i], want.support[j]) << ctx;
  EXPECT_EQ(got.ids[i], want.ids[j]) << ctx;
  for (size_t k = 0; k < got.w[i].size(); ++k) EXPECT_TRUE(lrref::same_value(got.w[i][k], want.w[j][k])) << ctx;
}

class DataFaults : public ::testing::TestWithParam<Dtype> {};

TEST_P(DataFaults, StageOneFaultyRowIsolated) {
  const Dtype dt = GetParam();
  const int64_t N = 7, K = 6;
  uint32_t seed = 100;
  for (Fault f : kFaults)
    for (bool in_expert : {true, false})
      for (int64_t col_choice : {0, 1, 2}) {  // first column, last shared column, random column
        std::mt19937 g(seed++);
        Pair p = make_pair_rows(N, g);
        const size_t bad = 3;
        const int64_t col = col_choice == 0 ? 0 : col_choice == 1 ? p.S - 1 : std::uniform_int_distribution<int64_t>(0, p.S - 1)(g);
        Pair faulty = p;
        inject(in_expert ? faulty.ze[bad] : faulty.za[bad], f, p.S, col);
        Pair removed = p;
        removed.ze = without_row(p.ze, bad);
        removed.za = without_row(p.za, bad);
        StageOne fused, fused_ref;
        const StageOne got = run_select(faulty, dt, K, &fused);
        const StageOne ref = run_select(removed, dt, K, &fused_ref);
        std::ostringstream ctx;
        ctx << lrtest::dtype_name(dt) << " " << fault_name(f) << " in " << (in_expert ? "expert" : "amateur")
            << " col " << col;
        expect_fault_row(got, bad, ctx.str() + " (select_steps/build_targets)");
        expect_fault_row(fused, bad, ctx.str() + " (select_and_build)");
        for (size_t i = 0, j = 0; i < static_cast<size_t>(N); ++i) {
          if (i == bad) continue;
          expect_same_row(got, i, ref, j, ctx.str() + " other row " + std::to_string(i));
          expect_same_row(fused, i, fused_ref, j, ctx.str() + " fused other row " + std::to_string(i));
          ++j;
        }
      }
}

TEST_P(DataFaults, SeveralFaultyRows) {
  const Dtype dt = GetParam();
  std::mt19937 g(110);
  Pair p = make_pair_rows(9, g);
  Pair faulty = p;
  inject(faulty.ze[0], Fault::NaN, p.S, 5);
  inject(faulty.za[4], Fault::PosInf, p.S, 0);
  inject(faulty.ze[8], Fault::AllNegInf, p.S, 0);
  inject(faulty.za[8], Fault::AllNegInf, p.S, 0);
  StageOne fused;
  const StageOne got = run_select(faulty, dt, 4, &fused);
  Pair clean;
  for (size_t i = 0; i < 9; ++i)
    if (i != 0 && i != 4 && i != 8) {
      clean.ze.push_back(p.ze[i]);
      clean.za.push_back(p.za[i]);
    }
  StageOne fused_ref;
  const StageOne ref = run_select(clean, dt, 4, &fused_ref);
  for (size_t i = 0, j = 0; i < 9; ++i) {
    if (i == 0 || i == 4 || i == 8) {
      expect_fault_row(got, i, "row " + std::to_string(i));
      expect_fault_row(fused, i, "fused row " + std::to_string(i));
      continue;
    }
    expect_same_row(got, i, ref, j, "row " + std::to_string(i));
    expect_same_row(fused, i, fused_ref, j, "fused row " + std::to_string(i));
    ++j;
  }
}

TEST_P(DataFaults, BuildTargetsRowsArgumentWithFaultyRow) {
  // The faulty row requested twice among others, in shuffled order.
  const Dtype dt = GetParam();
  std::mt19937 g(111);
  Pair p = make_pair_rows(6, g);
  Pair faulty = p;
  inject(faulty.za[2], Fault::NaN, p.S, 17);
  HostTensor e = lrref::fx::make_logits(dt, faulty.ze, p.Ve), a = lrref::fx::make_logits(dt, faulty.za, p.Va);
  const std::vector<int64_t> rows = {2, 5, 0, 2, 4};
  const int64_t M = 5, K = 5;
  HostTensor r(Dtype::I64, {M}), ids(Dtype::I32, {M, K}), w(Dtype::F32, {M, K}), sup(Dtype::I32, {M});
  for (int64_t m = 0; m < M; ++m) r.set_at(m, static_cast<double>(rows[static_cast<size_t>(m)]));
  ids.fill_bytes(0xCD);
  w.fill_bytes(0xCD);
  lr_target_params tp = lr_target_params_default();
  ASSERT_EQ(lrtest::build_targets(e.dl(), a.dl(), r.dl(), &tp, ids.dl(), w.dl(), sup.dl(), nullptr), LR_OK)
      << lr_last_error();
  // Reference: the same rows of the clean tensor without row 2.
  Pair clean = p;
  clean.ze = without_row(p.ze, 2);
  clean.za = without_row(p.za, 2);
  HostTensor ec = lrref::fx::make_logits(dt, clean.ze, p.Ve), ac = lrref::fx::make_logits(dt, clean.za, p.Va);
  const std::vector<int64_t> crows = {4, 0, 3};  // rows 5, 0, 4 of the original
  HostTensor cr(Dtype::I64, {3}), cids(Dtype::I32, {3, K}), cw(Dtype::F32, {3, K}), csup(Dtype::I32, {3});
  for (int64_t m = 0; m < 3; ++m) cr.set_at(m, static_cast<double>(crows[static_cast<size_t>(m)]));
  ASSERT_EQ(lrtest::build_targets(ec.dl(), ac.dl(), cr.dl(), &tp, cids.dl(), cw.dl(), csup.dl(), nullptr), LR_OK);
  const int64_t map[] = {-1, 0, 1, -1, 2};
  for (int64_t m = 0; m < M; ++m) {
    if (map[m] < 0) {
      EXPECT_EQ(sup.at(m), -1.0);
      for (int64_t k = 0; k < K; ++k) {
        EXPECT_EQ(ids.get(m, k), -1.0);
        EXPECT_EQ(w.get(m, k), 0.0);
      }
      continue;
    }
    EXPECT_EQ(sup.at(m), csup.at(map[m]));
    for (int64_t k = 0; k < K; ++k) {
      EXPECT_EQ(ids.get(m, k), cids.get(map[m], k));
      EXPECT_TRUE(lrref::same_value(w.get(m, k), cw.get(map[m], k)));
    }
  }
}

TEST_P(DataFaults, ColumnsPastSharedVocabAreNotFaults) {
  // +Inf and NaN past shared_vocab (in both tensors): no fault, and the
  // results equal those of the reference over [0, S).
  const Dtype dt = GetParam();
  std::mt19937 g(112);
  Pair p = make_pair_rows(5, g);
  const int64_t S = 30;
  for (auto& r : p.ze)
    for (int64_t j = S; j < p.Ve; ++j) r[static_cast<size_t>(j)] = (j % 2) ? lrref::kInf : lrref::kNaN;
  for (auto& r : p.za)
    for (int64_t j = S; j < p.Va; ++j) r[static_cast<size_t>(j)] = lrref::kInf;
  for (int64_t j = S; j < p.Va; ++j) p.za[2][static_cast<size_t>(j)] = -lrref::kInf;
  HostTensor e = lrref::fx::make_logits(dt, p.ze, p.Ve), a = lrref::fx::make_logits(dt, p.za, p.Va);
  const auto se = lrref::fx::read_rows(e), sa = lrref::fx::read_rows(a);
  lr_select_params sp = lr_select_params_default();
  sp.shared_vocab = S;
  HostTensor kl(Dtype::F32, {5}), keep(Dtype::U8, {5});
  ASSERT_EQ(lrtest::select_steps(e.dl(), a.dl(), &sp, kl.dl(), keep.dl(), nullptr), LR_OK) << lr_last_error();
  for (int64_t i = 0; i < 5; ++i) {
    const double ref = lrref::kl(se[static_cast<size_t>(i)], sa[static_cast<size_t>(i)], S, 1.0);
    EXPECT_FALSE(std::isnan(ref));
    EXPECT_TRUE(lrref::close_enough(kl.at(i), ref, 1e-5, 1e-4)) << i << " " << kl.at(i) << " " << ref;
  }
  lr_target_params tp = lr_target_params_default();
  tp.shared_vocab = S;
  HostTensor ids(Dtype::I32, {5, 8}), w(Dtype::F32, {5, 8}), sup(Dtype::I32, {5});
  ASSERT_EQ(lrtest::build_targets(e.dl(), a.dl(), nullptr, &tp, ids.dl(), w.dl(), sup.dl(), nullptr), LR_OK);
  for (int64_t i = 0; i < 5; ++i) {
    const auto ref = lrref::targets(se[static_cast<size_t>(i)], sa[static_cast<size_t>(i)], S, 1.0, 0.2f, 8);
    std::vector<int32_t> gi;
    std::vector<double> gw;
    for (int64_t k = 0; k < 8; ++k) {
      gi.push_back(static_cast<int32_t>(ids.get(i, k)));
      gw.push_back(w.get(i, k));
    }
    EXPECT_EQ(lrref::fx::check_targets(gi, gw, static_cast<int64_t>(sup.at(i)), ref, se[static_cast<size_t>(i)],
                                       sa[static_cast<size_t>(i)], S, 1e-6),
              "")
        << i;
  }
}

TEST_P(DataFaults, NegInfEntriesAreNotFaults) {
  // Many -Inf entries (all but one) in expert, amateur, and loss logits: the
  // rows are valid and match the reference.
  const Dtype dt = GetParam();
  const double inf = lrref::kInf;
  const int64_t V = 6;
  std::vector<Row> ze = {{-inf, -inf, 1.0, -inf, -inf, -inf}, {0.5, -inf, 1.0, -inf, 0.0, -inf},
                         {0.0, 0.0, 0.0, 0.0, 0.0, -inf}};
  std::vector<Row> za = {{-inf, -inf, 1.0, -inf, -inf, -inf}, {0.5, 0.0, 1.0, -inf, 0.0, 2.0},
                         {-inf, -inf, -inf, -inf, -inf, 3.0}};
  HostTensor e = lrref::fx::make_logits(dt, ze, V), a = lrref::fx::make_logits(dt, za, V);
  HostTensor kl(Dtype::F32, {3}), keep(Dtype::U8, {3});
  ASSERT_EQ(lrtest::select_steps(e.dl(), a.dl(), nullptr, kl.dl(), keep.dl(), nullptr), LR_OK) << lr_last_error();
  for (int64_t i = 0; i < 3; ++i) {
    const double ref = lrref::kl(ze[static_cast<size_t>(i)], za[static_cast<size_t>(i)], V, 1.0);
    EXPECT_TRUE(lrref::close_enough(kl.at(i), ref, 1e-5, 1e-4)) << i << " " << kl.at(i) << " ref " << ref;
  }
  EXPECT_NEAR(kl.at(0), 0.0, 1e-6);
  EXPECT_EQ(kl.at(2), inf);  // p_A = 0 on all of p_E's support
  HostTensor ids(Dtype::I32, {3, V}), w(Dtype::F32, {3, V}), sup(Dtype::I32, {3});
  ASSERT_EQ(lrtest::build_targets(e.dl(), a.dl(), nullptr, nullptr, ids.dl(), w.dl(), sup.dl(), nullptr), LR_OK);
  for (int64_t i = 0; i < 3; ++i) EXPECT_GT(sup.at(i), 0.0) << i;
  EXPECT_EQ(sup.at(0), 1.0);
  EXPECT_EQ(ids.get(0, 0), 2.0);
  EXPECT_EQ(w.get(0, 0), 1.0);
  // Loss over logits with -Inf entries away from the targets: finite.
  HostTensor lid(Dtype::I32, {3, 1}), lw(Dtype::F32, {3, 1}), loss(Dtype::F32, {3}), grad(dt, {3, V});
  const int32_t target[] = {2, 0, 3};
  for (int64_t i = 0; i < 3; ++i) {
    lid.set(i, 0, target[i]);
    lw.set(i, 0, 1.0);
  }
  lr_loss_params lp = lr_loss_params_default();
  lp.reduction = LR_REDUCTION_NONE;
  ASSERT_EQ(lrtest::distill_loss_backward(e.dl(), lid.dl(), lw.dl(), &lp, loss.dl(), grad.dl(), nullptr), LR_OK);
  for (int64_t i = 0; i < 3; ++i) {
    const auto ref = lrref::loss_row(ze[static_cast<size_t>(i)], {target[i]}, {1.0}, 1.0);
    EXPECT_TRUE(lrref::close_enough(loss.at(i), ref.loss, 1e-5, 1e-4)) << i << " " << loss.at(i) << " " << ref.loss;
    for (int64_t j = 0; j < V; ++j) {
      const double r = ref.grad[static_cast<size_t>(j)];
      EXPECT_NEAR(grad.get(i, j), r, 1e-5 + lrref::fx::ulp_in(r, dt)) << i << " " << j;
    }
  }
}

// Masks of the dtype's lowest finite value are logits, not faults
// (lrref::fx::masked_rows). Where a stretch of masks comes first, a scan's
// running maximum jumps from the mask to the real logits and rescaling its
// sums by exp2 of the gap underflows: the GPU's scan once made 0 * -Inf =
// NaN of it, hence KL 0 and keep 0. KL, keep and the support must match the
// brute force (test_shard_select.cpp: the same rows sharded).
TEST_P(DataFaults, LowestFiniteMasksAreLogits) {
  const Dtype dt = GetParam();
  const int64_t V = 8192;  // long rows: the GPU's threads each stream several chunks
  const lrref::fx::MaskedRows m = lrref::fx::masked_rows(dt, V, 77);
  HostTensor e = lrref::fx::make_logits(dt, m.ze, V), a = lrref::fx::make_logits(dt, m.za, V);
  const std::vector<Row> se = lrref::fx::read_rows(e), sa = lrref::fx::read_rows(a);  // as stored
  lr_select_params sp = lr_select_params_default();
  sp.kl_threshold = 0.0f;
  HostTensor kl(Dtype::F32, {4}), keep(Dtype::U8, {4});
  ASSERT_EQ(lrtest::select_steps(e.dl(), a.dl(), &sp, kl.dl(), keep.dl(), nullptr), LR_OK) << lr_last_error();
  const lr_target_params tp = lr_target_params_default();
  const int64_t K = 8;
  HostTensor ids(Dtype::I32, {4, K}), w(Dtype::F32, {4, K}), sup(Dtype::I32, {4});
  ASSERT_EQ(lrtest::build_targets(e.dl(), a.dl(), nullptr, nullptr, ids.dl(), w.dl(), sup.dl(), nullptr), LR_OK)
      << lr_last_error();
  for (int64_t i = 0; i < 4; ++i) {
    const size_t u = size_t(i);
    const double ref = lrref::kl(se[u], sa[u], V, 1.0);
    EXPECT_TRUE(std::isfinite(ref) && ref > 0.1) << i << " " << ref;
    EXPECT_TRUE(lrref::close_enough(kl.at(i), ref, 1e-5, 1e-4)) << "row " << i << ": kl " << kl.at(i) << ", ref " << ref;
    EXPECT_EQ(keep.at(i), 1.0) << i;
    const lrref::Targets t = lrref::targets(se[u], sa[u], V, 1.0, double(tp.beta), K);
    EXPECT_EQ(sup.at(i), double(t.support_size)) << i;
  }
}

// ------------------------------------------------------------------ loss

struct LossRun {
  std::vector<double> loss;
  std::vector<Row> grad;
};

LossRun run_loss(const std::vector<Row>& z, const std::vector<std::vector<int32_t>>& ids, const std::vector<Row>& w,
                 Dtype dt, lr_reduction red, bool in_place, float scale, float T) {
  const int64_t N = static_cast<int64_t>(z.size()), V = N ? static_cast<int64_t>(z[0].size()) : 1;
  const int64_t K = N ? static_cast<int64_t>(ids[0].size()) : 1;
  HostTensor zt = lrref::fx::make_logits(dt, z, V, 2);
  HostTensor it(Dtype::I32, {N, K}), wt(Dtype::F32, {N, K}), grad(dt, {N, V});
  for (int64_t i = 0; i < N; ++i)
    for (int64_t k = 0; k < K; ++k) {
      it.set(i, k, ids[static_cast<size_t>(i)][static_cast<size_t>(k)]);
      wt.set(i, k, w[static_cast<size_t>(i)][static_cast<size_t>(k)]);
    }
  HostTensor loss = red == LR_REDUCTION_NONE ? HostTensor(Dtype::F32, {N}) : HostTensor(Dtype::F32, {1});
  lr_loss_params p = lr_loss_params_default();
  p.reduction = red;
  p.grad_scale = scale;
  p.temperature = T;
  EXPECT_EQ(lrtest::distill_loss_backward(zt.dl(), it.dl(), wt.dl(), &p, loss.dl(), in_place ? zt.dl() : grad.dl(),
                                     nullptr),
            LR_OK)
      << lr_last_error();
  LossRun r;
  for (int64_t i = 0; i < (red == LR_REDUCTION_NONE ? N : 1); ++i) r.loss.push_back(loss.at(i));
  r.grad = lrref::fx::read_rows(in_place ? zt : grad, V);
  return r;
}

TEST_P(DataFaults, LossFaultyRowIsolated) {
  const Dtype dt = GetParam();
  const int64_t N = 6, V = 37;
  uint32_t seed = 120;
  for (Fault f : kFaults)
    for (lr_reduction red : {LR_REDUCTION_NONE, LR_REDUCTION_SUM, LR_REDUCTION_MEAN})
      for (bool in_place : {false, true}) {
        std::mt19937 g(seed++);
        std::vector<Row> z, w;
        std::vector<std::vector<int32_t>> ids;
        for (int64_t i = 0; i < N; ++i) {
          z.push_back(lrref::fx::make_row(RowKind::Normal, V, g));
          std::vector<int32_t> ri = {static_cast<int32_t>(i), static_cast<int32_t>(i + 7), -1,
                                     static_cast<int32_t>(i + 20)};
          ids.push_back(ri);
          w.push_back({0.5, 0.25, 0.0, 0.25});
        }
        const size_t bad = 2;
        std::vector<Row> zf = z;
        inject(zf[bad], f, V, std::uniform_int_distribution<int64_t>(0, V - 1)(g));
        const LossRun got = run_loss(zf, ids, w, dt, red, in_place, 0.5f, 1.25f);
        const LossRun clean = run_loss(z, ids, w, dt, red, in_place, 0.5f, 1.25f);  // row replaced by a valid one
        std::ostringstream ctx;
        ctx << lrtest::dtype_name(dt) << " " << fault_name(f) << " red " << red << (in_place ? " in-place" : "");
        if (red == LR_REDUCTION_NONE) {
          EXPECT_TRUE(std::isnan(got.loss[bad])) << ctx.str();
          for (size_t i = 0; i < static_cast<size_t>(N); ++i)
            if (i != bad) {
              EXPECT_TRUE(lrref::same_value(got.loss[i], clean.loss[i])) << ctx.str() << " row " << i;
            }
          // Also equal to the call without the faulty row at all.
          std::vector<std::vector<int32_t>> ids2;
          for (size_t i = 0; i < ids.size(); ++i)
            if (i != bad) ids2.push_back(ids[i]);
          const LossRun removed = run_loss(without_row(z, bad), ids2, without_row(w, bad), dt, red, in_place, 0.5f, 1.25f);
          for (size_t i = 0, j = 0; i < static_cast<size_t>(N); ++i) {
            if (i == bad) continue;
            EXPECT_TRUE(lrref::same_value(got.loss[i], removed.loss[j])) << ctx.str() << " row " << i;
            for (int64_t c = 0; c < V; ++c)
              EXPECT_TRUE(lrref::same_value(got.grad[i][static_cast<size_t>(c)], removed.grad[j][static_cast<size_t>(c)]))
                  << ctx.str() << " row " << i;
            ++j;
          }
        } else {
          EXPECT_TRUE(std::isnan(got.loss[0])) << ctx.str() << " reduced loss " << got.loss[0];
        }
        for (int64_t c = 0; c < V; ++c) EXPECT_EQ(got.grad[bad][static_cast<size_t>(c)], 0.0) << ctx.str() << " col " << c;
        // The other rows' gradients do not depend on the faulty data (MEAN
        // still counts the faulty row, so D is unchanged).
        for (size_t i = 0; i < static_cast<size_t>(N); ++i) {
          if (i == bad) continue;
          for (int64_t c = 0; c < V; ++c)
            ASSERT_TRUE(lrref::same_value(got.grad[i][static_cast<size_t>(c)], clean.grad[i][static_cast<size_t>(c)]))
                << ctx.str() << " row " << i << " col " << c;
        }
        // And the reference agrees on the fault row and on D.
        const lrref::LossBatch ref = lrref::distill_loss(lrref::fx::read_rows(lrref::fx::make_logits(dt, zf, V)), ids,
                                                         w, red == LR_REDUCTION_NONE ? lrref::Reduction::None
                                                            : red == LR_REDUCTION_SUM ? lrref::Reduction::Sum
                                                                                      : lrref::Reduction::Mean,
                                                         0.5, 1.25f);
        EXPECT_EQ(ref.counted, N);
        for (size_t i = 0; i < static_cast<size_t>(N); ++i) {
          if (i == bad) continue;
          for (int64_t c = 0; c < V; ++c) {
            const double r = ref.grad[i][static_cast<size_t>(c)];
            EXPECT_NEAR(got.grad[i][static_cast<size_t>(c)], r, 1e-5 + 1e-4 * std::fabs(r) + lrref::fx::ulp_in(r, dt))
                << ctx.str() << " row " << i << " col " << c;
          }
        }
      }
}

TEST_P(DataFaults, PaddingRowWithFaultyLogits) {
  // A row whose ids are all -1 is loss 0 and gradient 0 even if its logits
  // are faulty (the header does not order the two rules; the padding row is
  // not looked at, which is what the library does). Pinned. It is not
  // counted for MEAN either (counting depends on ids only).
  const Dtype dt = GetParam();
  std::mt19937 g(130);
  std::vector<Row> z = {lrref::fx::make_row(RowKind::Normal, 9, g), lrref::fx::make_row(RowKind::Normal, 9, g)};
  z[0][3] = lrref::kNaN;
  const std::vector<std::vector<int32_t>> ids = {{-1, -1}, {4, 1}};
  const std::vector<Row> w = {{0.0, 0.0}, {0.75, 0.25}};
  for (bool in_place : {false, true}) {
    const LossRun none = run_loss(z, ids, w, dt, LR_REDUCTION_NONE, in_place, 1.0f, 1.0f);
    EXPECT_EQ(none.loss[0], 0.0);
    for (double x : none.grad[0]) EXPECT_EQ(x, 0.0);
    const LossRun mean = run_loss(z, ids, w, dt, LR_REDUCTION_MEAN, in_place, 1.0f, 1.0f);
    EXPECT_TRUE(lrref::same_value(mean.loss[0], none.loss[1]));  // D = 1
    for (size_t j = 0; j < 9; ++j) EXPECT_TRUE(lrref::same_value(mean.grad[1][j], none.grad[1][j]));
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, DataFaults, ::testing::ValuesIn(lrref::fx::logit_dtypes()),
                         [](const ::testing::TestParamInfo<Dtype>& i) { return lrtest::dtype_name(i.param); });

}  // namespace
