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
