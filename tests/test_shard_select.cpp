// lr_shard_select_stats + the host's all-gather + lr_shard_select_finish,
// for every partition of the vocabulary into 1 to 8 contiguous shards
// (support/shard_split.h), against the double-precision brute force (KL
// within the select tolerances of test_select_steps.cpp) and against
// lr_select_steps on the whole rows (KL within the same tolerance, keep
// identical wherever the KL is not within that tolerance of kappa).
// Columns past S hold NaN in every shard: stage 1 must not read them.
#include <gtest/gtest.h>
#include <lightreasoner/lightreasoner.h>

#include <cmath>
#include <sstream>

#include "reference/brute_force.h"
#include "support/device_shim.h"
#include "support/select_targets_cases.h"
#include "support/shard_split.h"

namespace {

using lrref::fx::RowKind;
using lrtest::Dtype;
using lrtest::HostTensor;
using lrtest::Records;

constexpr double kKlAtol = 1e-5;  // as test_select_steps.cpp
constexpr double kKlRtol = 1e-4;

struct ShardSelectCase : lrtest::LogitsCase {
  float kappa = 0.4f;
};

// Every kind pair of the select pools, plus the huge-offset cluster rows.
std::vector<std::pair<RowKind, RowKind>> kind_pairs() {
  auto pairs = lrtest::every_kind_pair(lrtest::kind_pools(1, true));
  pairs.push_back({RowKind::HugeCluster, RowKind::Perturbed});
  pairs.push_back({RowKind::HugeCluster, RowKind::HugeCluster});
  return pairs;
}

struct KlKeep {
  std::vector<double> kl, keep;
};

KlKeep read(HostTensor& kl, HostTensor& keep) {
  KlKeep r;
  for (int64_t i = 0; i < kl.numel(); ++i) {
    r.kl.push_back(kl.at(i));
    r.keep.push_back(keep.at(i));
  }
  return r;
}

// The sharded pipeline on one partition: each rank's stats, gathered, finished.
KlKeep sharded(lrtest::StoredCase& l, const ShardSelectCase& c, const lrtest::Partition& part) {
  const lr_select_params p = lrtest::select_params_for(c, c.kappa);
  Records all = lrtest::gathered_select_stats(l.e, l.a, part, c.Ve, c.Va, p);
  HostTensor kl(Dtype::F32, {c.N}), keep(Dtype::U8, {c.N});
  kl.fill_bytes(0xCD);
  keep.fill_bytes(0xCD);
  EXPECT_EQ(lrtest::shard_select_finish(all.dl(), &p, kl.dl(), keep.dl(), nullptr), LR_OK) << lr_last_error();
  return read(kl, keep);
}

void run_case(Dtype dt, const ShardSelectCase& c) {
  lrtest::StoredCase l = lrtest::store_case(dt, c, lrtest::kind_pools(1, true));
  const lr_select_params p = lrtest::select_params_for(c, c.kappa);
  HostTensor kl(Dtype::F32, {c.N}), keep(Dtype::U8, {c.N});
  ASSERT_EQ(lrtest::select_steps(l.e.dl(), l.a.dl(), &p, kl.dl(), keep.dl(), nullptr), LR_OK) << lr_last_error();
  const KlKeep whole = read(kl, keep);
  std::vector<double> ref;
  for (int64_t i = 0; i < c.N; ++i)
    ref.push_back(lrref::kl(l.se[size_t(i)], l.sa[size_t(i)], l.S, static_cast<double>(c.T)));

  for (const lrtest::Partition& part : lrtest::partitions(l.S, std::min(c.Ve, c.Va), c.seed)) {
    const KlKeep got = sharded(l, c, part);
    for (int64_t i = 0; i < c.N; ++i) {
      const size_t u = static_cast<size_t>(i);
      std::ostringstream ctx;
      ctx << l.row_context(i, c.T) << " shards " << part.describe() << " ref=" << ref[u] << " got=" << got.kl[u]
          << " unsharded=" << whole.kl[u];
      ASSERT_TRUE(lrref::close_enough(got.kl[u], ref[u], kKlAtol, kKlRtol)) << ctx.str();
      ASSERT_TRUE(lrref::close_enough(got.kl[u], whole.kl[u], kKlAtol, kKlRtol)) << ctx.str();
      ASSERT_EQ(got.keep[u], static_cast<float>(got.kl[u]) > c.kappa ? 1.0 : 0.0) << ctx.str();
      if (!lrref::close_enough(whole.kl[u], c.kappa, kKlAtol, kKlRtol)) {
        ASSERT_EQ(got.keep[u], whole.keep[u]) << ctx.str();
      }
    }
  }
}

class ShardSelect : public ::testing::TestWithParam<Dtype> {};

TEST_P(ShardSelect, EveryKindPairSameWidths) {
  ShardSelectCase c;
  c.kinds = kind_pairs();
  c.N = static_cast<int64_t>(c.kinds.size());
  c.Ve = c.Va = 40;
  c.seed = 301;
  run_case(GetParam(), c);
}

TEST_P(ShardSelect, WiderExpertTemperatureAndSharedVocab) {
  ShardSelectCase c;
  c.kinds = kind_pairs();
  c.N = static_cast<int64_t>(c.kinds.size());
  c.Ve = 48;  // the last shards differ past S = 44
  c.Va = 44;
  c.T = 0.7f;
  c.kappa = 0.1f;
  c.seed = 302;
  run_case(GetParam(), c);
  c.shared = 33;  // shards wholly past S
  c.T = 1.3f;
  c.seed = 303;
  run_case(GetParam(), c);
}

TEST_P(ShardSelect, RandomPoolOverSeveralBlocks) {
  ShardSelectCase c;  // rows of 2.3 blocks of the CPU kernels: shards split blocks unevenly
  c.N = 12;
  c.Ve = c.Va = 2400;
  c.seed = 304;
  run_case(GetParam(), c);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, ShardSelect, ::testing::ValuesIn(lrref::fx::logit_dtypes()),
                         [](const ::testing::TestParamInfo<Dtype>& i) { return lrtest::dtype_name(i.param); });

// An amateur -Inf under a finite expert logit gives KL = +Inf however small
// that p_E (the header), also when the block or shard holding it lies so far
// below the row's expert maximum (1000 in units of z / T) that exp of the
// gap underflows in double: the merge of pieces once made 0 * Inf = NaN of
// it, hence KL 0 and keep 0, whole and sharded. The random pools redraw the
// pairs that could show it (lrref::fx::ambiguous_pair).
class AmateurZeroFarBelowTheMax : public ::testing::TestWithParam<Dtype> {};

TEST_P(AmateurZeroFarBelowTheMax, IsInfiniteWholeAndSharded) {
  constexpr int64_t V = 2100;  // three blocks of the CPU kernels (1024 columns)
  const double inf = lrref::kInf;
  for (const float T : {1.0f, 0.01f}) {
    lrref::Row low_tail(V, 0.0);
    for (int64_t j = 1024; j < V; ++j) low_tail[size_t(j)] = T == 1.0f ? -1000.0 : -10.0;  // exact in every dtype
    std::vector<lrref::Row> ze(3, low_tail), za(3, lrref::Row(V, 0.0));
    za[0][1500] = -inf;                                                // one entry, in the low block
    for (int64_t j = 1024; j < 2048; ++j) za[1][size_t(j)] = -inf;     // the whole low block
    ze[2][1500] = za[2][1500] = -inf;                                  // control: p_E = 0 there, KL finite
    const HostTensor e = lrref::fx::make_logits(GetParam(), ze, V), a = lrref::fx::make_logits(GetParam(), za, V);
    ShardSelectCase c;
    c.N = 3;
    c.Ve = c.Va = V;
    c.T = T;
    const lr_select_params p = lrtest::select_params_for(c, c.kappa);
    HostTensor kl(Dtype::F32, {c.N}), keep(Dtype::U8, {c.N});
    ASSERT_EQ(lrtest::select_steps(e.dl(), a.dl(), &p, kl.dl(), keep.dl(), nullptr), LR_OK) << lr_last_error();
    std::vector<KlKeep> results = {read(kl, keep)};
    std::vector<std::string> names = {"unsharded"};
    for (const lrtest::Partition& part : lrtest::partitions(V, V, 306)) {
      Records all = lrtest::gathered_select_stats(e, a, part, V, V, p);
      ASSERT_EQ(lrtest::shard_select_finish(all.dl(), &p, kl.dl(), keep.dl(), nullptr), LR_OK) << lr_last_error();
      results.push_back(read(kl, keep));
      names.push_back(part.describe());
    }
    for (size_t r = 0; r < results.size(); ++r)
      for (size_t i = 0; i < 3; ++i) {
        const double ref = lrref::kl(ze[i], za[i], V, T);
        ASSERT_EQ(ref == inf, i < 2);
        EXPECT_TRUE(lrref::close_enough(results[r].kl[i], ref, kKlAtol, kKlRtol))
            << "row " << i << " T=" << T << " " << names[r] << ": kl " << results[r].kl[i] << ", ref " << ref;
        EXPECT_EQ(results[r].keep[i], i < 2 ? 1.0 : double(float(ref) > c.kappa)) << "row " << i << " " << names[r];
      }
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, AmateurZeroFarBelowTheMax, ::testing::ValuesIn(lrref::fx::logit_dtypes()),
                         [](const ::testing::TestParamInfo<Dtype>& i) { return lrtest::dtype_name(i.param); });

// Masks of the dtype's lowest finite value (lrref::fx::masked_rows) are
// logits on every partition too: the shard's scan is the unsharded one's,
// whose running maximum jumping from a mask once made NaN of its sums (KL 0).
TEST_P(ShardSelect, LowestFiniteMasksAreLogits) {
  const int64_t V = 8192;
  const lrref::fx::MaskedRows m = lrref::fx::masked_rows(GetParam(), V, 78);
  const HostTensor e = lrref::fx::make_logits(GetParam(), m.ze, V), a = lrref::fx::make_logits(GetParam(), m.za, V);
  const std::vector<lrref::Row> se = lrref::fx::read_rows(e), sa = lrref::fx::read_rows(a);
  ShardSelectCase c;
  c.N = 4;
  c.Ve = c.Va = V;
  c.kappa = 0.0f;
  const lr_select_params p = lrtest::select_params_for(c, c.kappa);
  HostTensor kl(Dtype::F32, {c.N}), keep(Dtype::U8, {c.N});
  for (const lrtest::Partition& part : lrtest::thinned(lrtest::partitions(V, V, 307), 2, 0)) {
    Records all = lrtest::gathered_select_stats(e, a, part, V, V, p);
    ASSERT_EQ(lrtest::shard_select_finish(all.dl(), &p, kl.dl(), keep.dl(), nullptr), LR_OK) << lr_last_error();
    for (int64_t i = 0; i < c.N; ++i) {
      const double ref = lrref::kl(se[size_t(i)], sa[size_t(i)], V, 1.0);
      EXPECT_TRUE(lrref::close_enough(kl.at(i), ref, kKlAtol, kKlRtol))
          << "row " << i << " " << part.describe() << ": kl " << kl.at(i) << ", ref " << ref;
      EXPECT_EQ(keep.at(i), 1.0) << "row " << i << " " << part.describe();
    }
  }
}

// A mixed pair of dtypes, and NULL params (the defaults) at both steps.
TEST(ShardSelectMixed, AmateurDtypeAndDefaults) {
  ShardSelectCase c;
  c.kinds = kind_pairs();
  c.N = static_cast<int64_t>(c.kinds.size());
  c.Ve = c.Va = 30;
  c.amateur_dtype = Dtype::BF16;
  c.seed = 305;
  run_case(Dtype::F16, c);
}

}  // namespace
