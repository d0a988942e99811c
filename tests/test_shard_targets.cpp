// The sharded targets: select stats gathered, lr_shard_target_candidates on
// every rank, the candidates gathered, lr_shard_targets_finish; for every
// partition into 1 to 8 contiguous shards (support/shard_split.h). Ids and
// support sizes must be IDENTICAL to lr_build_targets on the whole rows,
// weights within its tolerance of them, and the rows pass
// lrref::fx::check_targets against the brute force.
#include <gtest/gtest.h>
#include <lightreasoner/lightreasoner.h>

#include <algorithm>
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

constexpr double kWeightAtol = 1e-6;  // as test_build_targets.cpp

struct ShardTargetCase : lrtest::LogitsCase {
  float beta = 0.2f;
  int64_t K = 8;
  bool use_rows = false;  // a shuffled subset with repeats
  size_t every = 1;       // > 1: a thinned list of partitions (support/shard_split.h)
};

struct TargetOut {
  std::vector<std::vector<int32_t>> ids;
  std::vector<std::vector<double>> weights;
  std::vector<int64_t> support;
};

TargetOut read(HostTensor& ids, HostTensor& w, HostTensor& sup) {
  TargetOut o;
  for (int64_t m = 0; m < ids.rows(); ++m) {
    o.ids.emplace_back();
    o.weights.emplace_back();
    for (int64_t k = 0; k < ids.cols(); ++k) {
      o.ids.back().push_back(static_cast<int32_t>(ids.get(m, k)));
      o.weights.back().push_back(w.get(m, k));
    }
    o.support.push_back(static_cast<int64_t>(sup.at(m)));
  }
  return o;
}

HostTensor rows_tensor(const std::vector<int64_t>& rows) {
  HostTensor r(Dtype::I64, {static_cast<int64_t>(rows.size())});
  for (size_t m = 0; m < rows.size(); ++m) r.set_at(static_cast<int64_t>(m), static_cast<double>(rows[m]));
  return r;
}

// Candidates on every rank, gathered, finished.
TargetOut sharded(lrtest::StoredCase& l, const ShardTargetCase& c, const lrtest::Partition& part,
                  const std::vector<int64_t>* rows) {
  const lr_select_params sp = lrtest::select_params_for(c, 0.4f);
  const lr_target_params tp = lrtest::target_params_for(c, c.beta);
  Records stats = lrtest::gathered_select_stats(l.e, l.a, part, c.Ve, c.Va, sp);
  HostTensor r = rows ? rows_tensor(*rows) : HostTensor();
  const int64_t M = rows ? static_cast<int64_t>(rows->size()) : c.N, width = LR_SHARD_CANDIDATES(c.K);
  std::vector<Records> parts;
  for (int64_t w = 0; w < part.shards(); ++w) {
    HostTensor e = lrtest::column_slice(l.e, part.begin(w), part.end(w, c.Ve));
    HostTensor a = lrtest::column_slice(l.a, part.begin(w), part.end(w, c.Va));
    const lr_vocab_shard sh = lrtest::shard_of(part, w, c.Ve, c.Va);
    parts.emplace_back(false, std::vector<int64_t>{M, width}, w % 2 ? 2 : 0);
    EXPECT_EQ(lrtest::shard_target_candidates(e.dl(), a.dl(), &sh, stats.dl(), rows ? r.dl() : nullptr, &tp,
                                              parts.back().dl(), nullptr),
              LR_OK)
        << lr_last_error();
  }
  Records all = lrtest::gather(parts, false, M, width, 1);
  HostTensor ids(Dtype::I32, {M, c.K}), wt(Dtype::F32, {M, c.K}), sup(Dtype::I32, {M});
  ids.fill_bytes(0xCD);
  wt.fill_bytes(0xCD);
  sup.fill_bytes(0xCD);
  EXPECT_EQ(lrtest::shard_targets_finish(all.dl(), &tp, ids.dl(), wt.dl(), sup.dl(), nullptr), LR_OK)
      << lr_last_error();
  return read(ids, wt, sup);
}

// The case's rows whole (lr_build_targets, the brute force) and on every
// partition: identical ids and support, weights within tolerance.
void check_case(lrtest::StoredCase& l, const ShardTargetCase& c) {
  std::vector<int64_t> rows;
  if (c.use_rows) {
    for (int64_t i = c.N - 1; i >= 0; i -= 2) rows.push_back(i);
    for (int i = 0; i < 4; ++i) rows.push_back(rows[static_cast<size_t>(i) % rows.size()]);  // repeats
    std::shuffle(rows.begin(), rows.end(), l.rng);
  }
  const std::vector<int64_t>* rp = c.use_rows ? &rows : nullptr;
  const int64_t M = c.use_rows ? static_cast<int64_t>(rows.size()) : c.N;
  const lr_target_params tp = lrtest::target_params_for(c, c.beta);
  HostTensor r = rp ? rows_tensor(rows) : HostTensor();
  HostTensor ids(Dtype::I32, {M, c.K}), wt(Dtype::F32, {M, c.K}), sup(Dtype::I32, {M});
  ASSERT_EQ(lrtest::build_targets(l.e.dl(), l.a.dl(), rp ? r.dl() : nullptr, &tp, ids.dl(), wt.dl(), sup.dl(), nullptr),
            LR_OK)
      << lr_last_error();
  const TargetOut whole = read(ids, wt, sup);
  std::vector<lrref::Targets> ref;
  for (int64_t m = 0; m < M; ++m) {
    const size_t i = static_cast<size_t>(rp ? rows[size_t(m)] : m);
    ref.push_back(lrref::targets(l.se[i], l.sa[i], l.S, static_cast<double>(c.T), static_cast<double>(c.beta), c.K));
  }

  const auto parts = lrtest::thinned(lrtest::partitions(l.S, std::min(c.Ve, c.Va), c.seed), c.every, c.seed);
  for (const lrtest::Partition& part : parts) {
    const TargetOut got = sharded(l, c, part, rp);
    for (int64_t m = 0; m < M; ++m) {
      const size_t u = static_cast<size_t>(m), i = static_cast<size_t>(rp ? rows[u] : u);
      std::ostringstream ctx;
      ctx << "output row " << m << " = logits " << l.row_context(static_cast<int64_t>(i), c.T) << " beta=" << c.beta
          << " K=" << c.K << " shards " << part.describe();
      ASSERT_EQ(got.support[u], whole.support[u]) << ctx.str();
      ASSERT_EQ(got.ids[u], whole.ids[u]) << ctx.str();
      for (int64_t k = 0; k < c.K; ++k)
        ASSERT_NEAR(got.weights[u][size_t(k)], whole.weights[u][size_t(k)], kWeightAtol) << ctx.str() << " slot " << k;
      ASSERT_EQ(lrref::fx::check_targets(got.ids[u], got.weights[u], got.support[u], ref[u], l.se[i], l.sa[i], l.S,
                                         kWeightAtol),
                "")
          << ctx.str();
    }
  }
}

void run_case(Dtype dt, const ShardTargetCase& c) {
  lrtest::StoredCase l = lrtest::store_case(dt, c, lrtest::kind_pools(1, false));
  check_case(l, c);
}

// Every kind pair of the pools (no pair is ambiguous for targets), with the
// huge-offset cluster rows.
std::vector<std::pair<RowKind, RowKind>> kind_pairs() {
  auto pairs = lrtest::every_kind_pair(lrtest::kind_pools(1, false));
  pairs.push_back({RowKind::HugeCluster, RowKind::Perturbed});
  pairs.push_back({RowKind::HugeCluster, RowKind::Normal});
  return pairs;
}

class ShardTargets : public ::testing::TestWithParam<Dtype> {};

TEST_P(ShardTargets, EveryKindPairTruncatedAndNot) {
  ShardTargetCase c;
  c.kinds = kind_pairs();
  c.N = static_cast<int64_t>(c.kinds.size());
  c.Ve = c.Va = 40;
  c.seed = 401;
  c.K = 3;  // TiesAtMax, Uniform and beta 0.05 truncate
  for (float beta : {0.2f, 0.05f, 1.0f}) {
    c.beta = beta;
    run_case(GetParam(), c);
    c.every = 3;  // the other variants on a third of the partitions
    ++c.seed;
  }
  c.K = 12;
  c.beta = 0.2f;
  run_case(GetParam(), c);
}

TEST_P(ShardTargets, RowsWiderExpertTemperatureSharedVocab) {
  ShardTargetCase c;
  c.kinds = kind_pairs();
  c.N = static_cast<int64_t>(c.kinds.size());
  c.Ve = 48;
  c.Va = 44;
  c.T = 0.7f;
  c.use_rows = true;
  c.seed = 402;
  run_case(GetParam(), c);
  c.shared = 33;  // shards wholly past S
  c.T = 1.3f;
  c.K = 5;
  c.seed = 403;
  run_case(GetParam(), c);
}

// Flat rows: more near-maximal tokens than the unsharded scan keeps as
// candidates (its full-pass path), and supports far above K.
TEST_P(ShardTargets, FlatRows) {
  ShardTargetCase c;
  c.kinds = {{RowKind::Uniform, RowKind::Normal}, {RowKind::TiesAtMax, RowKind::Normal}};
  c.N = 4;
  c.Ve = c.Va = 1500;
  c.K = 4;
  c.beta = 0.05f;
  c.seed = 404;
  run_case(GetParam(), c);
}

// -0.0 and +0.0 are equal logits: the lower id wins the tie at truncation,
// as the brute force's comparison of values says (a key made of a float's
// bits ranks +0.0 above -0.0: the GPU's radix selection once did). V = 10:
// a support of two, within the candidates' buffers; V = 2048: every column
// a member, more than a GPU block buffers (its re-reading path).
TEST_P(ShardTargets, SignedZerosAreEqualLogits) {
  for (const int64_t V : {int64_t{10}, int64_t{2048}}) {
    const bool wide = V == 2048;
    std::vector<lrref::Row> ze(2, lrref::Row(size_t(V), wide ? 0.0 : -10.0)), za(2, lrref::Row(size_t(V), 0.0));
    const size_t lo = wide ? 0 : 3, hi = wide ? 1 : 7;
    ze[0][lo] = -0.0;  // the lower id holds -0.0, the higher +0.0 ...
    ze[0][hi] = 0.0;
    ze[1][lo] = 0.0;   // ... and the other way round
    for (size_t j = wide ? 1 : hi; j < (wide ? size_t(V) : hi + 1); ++j) ze[1][j] = -0.0;
    ShardTargetCase c;
    c.N = 2;
    c.Ve = c.Va = V;
    c.K = 1;
    // Wide: a quarter of the partitions, from the first (thinned() starts at
    // seed % every): the whole row, and W = 2 with an empty shard 0, put
    // 2048 members in one shard.
    c.every = wide ? 4 : 1;
    c.seed = 8;
    lrtest::StoredCase l{GetParam(), GetParam(), V, {"-0.0 first", "+0.0 first"},
                         lrref::fx::make_logits(GetParam(), ze, V), lrref::fx::make_logits(GetParam(), za, V),
                         ze, za, std::mt19937(c.seed)};
    ASSERT_TRUE(std::signbit(l.e.get(0, int64_t(lo))) && std::signbit(l.e.get(1, int64_t(hi))))
        << "the dtype kept the zero's sign";
    for (const lrref::Row& row : ze) ASSERT_EQ(lrref::targets(row, za[0], V, 1.0, c.beta, c.K).ids[0], int32_t(lo));
    check_case(l, c);
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, ShardTargets, ::testing::ValuesIn(lrref::fx::logit_dtypes()),
                         [](const ::testing::TestParamInfo<Dtype>& i) { return lrtest::dtype_name(i.param); });

}  // namespace
