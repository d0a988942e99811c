// Faults of the sharded calls.
// - Data faults (ShardDataFault, both devices): a NaN or +Inf in one
//   shard's columns, or a row -Inf in every shard, faults that row on every
//   rank and in every finish (kl NaN, keep 0, count -1 in every rank's
//   candidates, support -1 with padding, loss NaN, gradient 0 on every
//   rank); the other rows equal a run on the same rows without the fault,
//   bit for bit; NaN past shared_vocab is never read.
// - Argument faults (ArgumentFaultShard, host checks, run once on the CPU):
//   each returns its status, names its argument in lr_last_error(), and
//   leaves every output byte as it was.
#include <gtest/gtest.h>
#include <lightreasoner/lightreasoner.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "reference/brute_force.h"
#include "support/device_shim.h"
#include "support/host_tensor.h"
#include "support/shard_split.h"

namespace {

using lrtest::Dtype;
using lrtest::HostTensor;
using lrtest::Records;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// ------------------------------------------------------------- data faults

constexpr int64_t N = 7, V = 20, S = 18, K = 4;
const lrtest::Partition kPart{{0, 7, 7, 13, V}, "faults"};  // ranks 0..3, rank 1 empty

// Rows of N(0, 2); faulty: the rows with a fault (the others as given).
struct Pair {
  HostTensor e, a;
};
Pair logits(Dtype dt, bool faulty) {
  std::mt19937 g(77);
  std::normal_distribution<double> n(0.0, 2.0);
  std::vector<lrref::Row> e(N, lrref::Row(V)), a(N, lrref::Row(V));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < V; ++j) e[size_t(i)][size_t(j)] = n(g), a[size_t(i)][size_t(j)] = n(g);
  for (int64_t i = 0; i < N; ++i) e[size_t(i)][19] = a[size_t(i)][18] = kNaN;  // past S: never read
  if (faulty) {
    e[1][15] = kNaN;                                        // rank 3 sees it
    a[3][2] = kInf;                                         // rank 0 sees it
    for (int64_t j = 0; j < S; ++j) e[4][size_t(j)] = -kInf;  // -Inf on every rank
    for (int64_t j = 0; j < 7; ++j) a[5][size_t(j)] = -kInf;  // one rank all -Inf: not a fault
  }
  return {lrref::fx::make_logits(dt, e, V), lrref::fx::make_logits(dt, a, V)};
}
bool is_fault_row(int64_t i) { return i == 1 || i == 3 || i == 4; }

lr_select_params select_params() {
  lr_select_params p = lr_select_params_default();
  p.shared_vocab = S;
  return p;
}
lr_target_params target_params() {
  lr_target_params p = lr_target_params_default();
  p.shared_vocab = S;
  p.beta = 0.1f;
  return p;
}

struct Stage1 {
  std::vector<double> kl, keep, support;
  std::vector<std::vector<double>> ids, weights;
  std::vector<std::vector<double>> counts;  // [rank][row]
};

Stage1 stage1(Pair& l) {
  Stage1 o;
  const lr_select_params sp = select_params();
  const lr_target_params tp = target_params();
  Records stats = lrtest::gathered_select_stats(l.e, l.a, kPart, V, V, sp);
  HostTensor kl(Dtype::F32, {N}), keep(Dtype::U8, {N});
  EXPECT_EQ(lrtest::shard_select_finish(stats.dl(), &sp, kl.dl(), keep.dl(), nullptr), LR_OK) << lr_last_error();
  for (int64_t i = 0; i < N; ++i) o.kl.push_back(kl.at(i)), o.keep.push_back(keep.at(i));
  std::vector<Records> parts;
  for (int64_t r = 0; r < kPart.shards(); ++r) {
    HostTensor e = lrtest::column_slice(l.e, kPart.begin(r), kPart.end(r, V));
    HostTensor a = lrtest::column_slice(l.a, kPart.begin(r), kPart.end(r, V));
    const lr_vocab_shard sh = lrtest::shard_of(kPart, r, V, V);
    parts.emplace_back(false, std::vector<int64_t>{N, LR_SHARD_CANDIDATES(K)});
    EXPECT_EQ(lrtest::shard_target_candidates(e.dl(), a.dl(), &sh, stats.dl(), nullptr, &tp, parts.back().dl(),
                                              nullptr),
              LR_OK)
        << lr_last_error();
    o.counts.emplace_back();
    for (int64_t i = 0; i < N; ++i) o.counts.back().push_back(parts.back().get(0, i, 0));
  }
  Records all = lrtest::gather(parts, false, N, LR_SHARD_CANDIDATES(K));
  HostTensor ids(Dtype::I32, {N, K}), w(Dtype::F32, {N, K}), sup(Dtype::I32, {N});
  EXPECT_EQ(lrtest::shard_targets_finish(all.dl(), &tp, ids.dl(), w.dl(), sup.dl(), nullptr), LR_OK) << lr_last_error();
  for (int64_t i = 0; i < N; ++i) {
    o.support.push_back(sup.at(i));
    o.ids.emplace_back();
    o.weights.emplace_back();
    for (int64_t k = 0; k < K; ++k) o.ids.back().push_back(ids.get(i, k)), o.weights.back().push_back(w.get(i, k));
  }
  return o;
}

class ShardDataFault : public ::testing::TestWithParam<Dtype> {};

TEST_P(ShardDataFault, Stage1FaultsTheRowOnEveryRank) {
  Pair bad = logits(GetParam(), true), good = logits(GetParam(), false);
  const Stage1 b = stage1(bad), g = stage1(good);
  for (int64_t i = 0; i < N; ++i) {
    const size_t u = size_t(i);
    if (is_fault_row(i)) {
      EXPECT_TRUE(std::isnan(b.kl[u])) << "row " << i;
      EXPECT_EQ(b.keep[u], 0.0) << "row " << i;
      for (const auto& c : b.counts) EXPECT_EQ(c[u], -1.0) << "row " << i;
      EXPECT_EQ(b.support[u], -1.0) << "row " << i;
      for (int64_t k = 0; k < K; ++k) {
        EXPECT_EQ(b.ids[u][size_t(k)], -1.0);
        EXPECT_EQ(b.weights[u][size_t(k)], 0.0);
      }
    } else if (i != 5) {  // row 5 differs from the clean run by its -Inf amateur shard
      EXPECT_TRUE(lrref::same_value(b.kl[u], g.kl[u])) << "row " << i;
      EXPECT_EQ(b.keep[u], g.keep[u]) << "row " << i;
      EXPECT_EQ(b.support[u], g.support[u]) << "row " << i;
      EXPECT_EQ(b.ids[u], g.ids[u]) << "row " << i;
      EXPECT_EQ(b.weights[u], g.weights[u]) << "row " << i;
    }
  }
  // One rank's amateur all -Inf under finite expert logits: p_A = 0 there, KL = +Inf.
  EXPECT_EQ(b.kl[5], kInf);
  EXPECT_GE(b.support[5], 1.0);
}

// Loss: NaN in rank 3's columns (row 1), +Inf in rank 0's (row 2), -Inf
// everywhere (row 3), NaN under all-padding targets (row 4: loss 0, gradient 0).
void loss_case(Dtype dt, bool faulty, lr_reduction red, std::vector<double>& loss, std::vector<lrref::Row>& grad) {
  std::mt19937 g(78);
  std::normal_distribution<double> n(0.0, 2.0);
  std::vector<lrref::Row> z(N, lrref::Row(V));
  for (auto& r : z)
    for (auto& x : r) x = n(g);
  if (faulty) {
    z[1][16] = kNaN;
    z[2][3] = kInf;
    for (auto& x : z[3]) x = -kInf;
    z[4][9] = kNaN;
  }
  HostTensor zt = lrref::fx::make_logits(dt, z, V);
  HostTensor ids(Dtype::I32, {N, 3}), w(Dtype::F32, {N, 3});
  for (int64_t i = 0; i < N; ++i) {
    const bool pad = i == 4;
    for (int64_t k = 0; k < 3; ++k) {
      ids.set(i, k, pad ? -1 : (i * 5 + k * 7) % V);
      w.set(i, k, pad ? 0.0 : (k + 1) / 6.0);
    }
  }
  lr_loss_params p = lr_loss_params_default();
  p.reduction = red;
  std::vector<Records> parts;
  std::vector<HostTensor> zs;
  std::vector<lr_vocab_shard> sh;
  for (int64_t r = 0; r < kPart.shards(); ++r) {
    zs.push_back(lrtest::column_slice(zt, kPart.begin(r), kPart.end(r, V)));
    sh.push_back(lrtest::shard_of(kPart, r, V, 0));
    parts.emplace_back(true, std::vector<int64_t>{N, LR_SHARD_LOSS_STATS});
    EXPECT_EQ(lrtest::shard_loss_stats(zs.back().dl(), &sh.back(), ids.dl(), w.dl(), &p, parts.back().dl(), nullptr),
              LR_OK)
        << lr_last_error();
  }
  Records all = lrtest::gather(parts, true, N, LR_SHARD_LOSS_STATS);
  grad.assign(N, lrref::Row(V, 7.0));
  for (int64_t r = 0; r < kPart.shards(); ++r) {
    HostTensor lt = red == LR_REDUCTION_NONE ? HostTensor(Dtype::F32, {N}) : HostTensor(Dtype::F32, {1});
    EXPECT_EQ(lrtest::shard_loss_backward(zs[size_t(r)].dl(), &sh[size_t(r)], ids.dl(), w.dl(), all.dl(), &p, lt.dl(),
                                          zs[size_t(r)].dl(), nullptr),
              LR_OK)
        << lr_last_error();
    loss.clear();
    for (int64_t i = 0; i < lt.numel(); ++i) loss.push_back(lt.at(i));
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < zs[size_t(r)].cols(); ++j)
        grad[size_t(i)][size_t(kPart.begin(r) + j)] = zs[size_t(r)].get(i, j);
  }
}

TEST_P(ShardDataFault, LossFaultsTheRowOnEveryRank) {
  std::vector<double> lb, lg;
  std::vector<lrref::Row> gb, gg;
  loss_case(GetParam(), true, LR_REDUCTION_NONE, lb, gb);
  loss_case(GetParam(), false, LR_REDUCTION_NONE, lg, gg);
  for (int64_t i = 0; i < N; ++i) {
    const size_t u = size_t(i);
    if (i >= 1 && i <= 3) {
      EXPECT_TRUE(std::isnan(lb[u])) << "row " << i;
      for (double x : gb[u]) EXPECT_EQ(x, 0.0) << "row " << i;
    } else if (i == 4) {
      EXPECT_EQ(lb[u], 0.0);
      for (double x : gb[u]) EXPECT_EQ(x, 0.0);
    } else {
      EXPECT_TRUE(lrref::same_value(lb[u], lg[u])) << "row " << i;
      EXPECT_EQ(gb[u], gg[u]) << "row " << i;
    }
  }
  // MEAN: NaN; the faulty rows still count, so the other rows' gradients
  // are those of the clean run.
  loss_case(GetParam(), true, LR_REDUCTION_MEAN, lb, gb);
  loss_case(GetParam(), false, LR_REDUCTION_MEAN, lg, gg);
  EXPECT_TRUE(std::isnan(lb[0]));
  for (int64_t i : {0, 5, 6}) EXPECT_EQ(gb[size_t(i)], gg[size_t(i)]) << "row " << i;
}

INSTANTIATE_TEST_SUITE_P(Dtypes, ShardDataFault, ::testing::ValuesIn(lrref::fx::logit_dtypes()),
                         [](const ::testing::TestParamInfo<Dtype>& i) { return lrtest::dtype_name(i.param); });

// ---------------------------------------------------------- argument faults

constexpr uint8_t kSentinel = 0xA5;

// Small valid calls of all six entry points on two shards of V = 8 (rank 0
// holds [0, 5), rank 1 [5, 8)); each test breaks one argument of one call.
class ArgumentFaultShard : public ::testing::Test {
 protected:
  static constexpr int64_t n = 3, v = 8, v0 = 5, k = 2;

  ArgumentFaultShard()
      : e(Dtype::F32, {n, v - v0}), a(Dtype::F32, {n, v - v0}), z(Dtype::F32, {n, v - v0}),
        stats_out(true, {n, LR_SHARD_SELECT_STATS}), stats(true, {2, n, LR_SHARD_SELECT_STATS}),
        cands_out(false, {n, LR_SHARD_CANDIDATES(k)}), cands(false, {2, n, LR_SHARD_CANDIDATES(k)}),
        loss_stats_out(true, {n, LR_SHARD_LOSS_STATS}), loss_stats(true, {2, n, LR_SHARD_LOSS_STATS}),
        kl(Dtype::F32, {n}), keep(Dtype::U8, {n}), ids(Dtype::I32, {n, k}), w(Dtype::F32, {n, k}),
        sup(Dtype::I32, {n}), tid(Dtype::I32, {n, k}), tw(Dtype::F32, {n, k}), loss(Dtype::F32, {n}),
        grad(Dtype::F32, {n, v - v0}) {
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < v - v0; ++j) {
        e.set(i, j, 0.5 * double(i + j));
        a.set(i, j, 0.25 * double(j - i));
        z.set(i, j, 0.1 * double(i * j));
      }
      tid.set(i, 0, 1);  // rank 0's id
      tid.set(i, 1, 6);  // rank 1's id
      tw.set(i, 0, 0.5);
      tw.set(i, 1, 0.5);
    }
    sh = {sizeof(lr_vocab_shard), v0, v, v};
    // Gathered records as the valid partial calls write them (both ranks alike: valid input).
    lr_select_params sp = lr_select_params_default();
    EXPECT_EQ(lr_shard_select_stats(e.dl(), a.dl(), &sh, &sp, stats_out.dl(), nullptr), LR_OK) << lr_last_error();
    std::vector<Records> two;
    two.emplace_back(true, std::vector<int64_t>{n, LR_SHARD_SELECT_STATS});
    two.emplace_back(true, std::vector<int64_t>{n, LR_SHARD_SELECT_STATS});
    for (auto& r : two)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t c = 0; c < LR_SHARD_SELECT_STATS; ++c) r.set(0, i, c, stats_out.get(0, i, c));
    stats = lrtest::gather(two, true, n, LR_SHARD_SELECT_STATS);
    for (int64_t w_ = 0; w_ < 2; ++w_)
      for (int64_t i = 0; i < n; ++i) {
        cands.set(w_, i, 0, 1);
        cands.set(w_, i, 1, double(w_ == 0 ? 0 : 6)), cands.set(w_, i, 2, 1.0), cands.set(w_, i, 3, 0.0);
        for (int64_t c = 4; c < LR_SHARD_CANDIDATES(k); ++c) cands.set(w_, i, c, c % 3 == 1 ? -1.0 : 0.0);
        loss_stats.set(w_, i, 0, 1.0), loss_stats.set(w_, i, 1, 2.0), loss_stats.set(w_, i, 2, 0.3);
        loss_stats.set(w_, i, 3, 0.0);
      }
  }

  // The call fails with `status`, names `name`, and writes no output.
  void expect_fault(lr_status status, const std::string& name, const std::function<lr_status()>& call) {
    std::vector<std::vector<uint8_t>*> outs;
    for (HostTensor* t : {&kl, &keep, &ids, &w, &sup, &loss, &grad}) t->fill_bytes(kSentinel);
    for (HostTensor* t : {&kl, &keep, &ids, &w, &sup, &loss, &grad}) before.push_back(t->bytes());
    const std::vector<uint8_t> so = stats_out.bytes(), co = cands_out.bytes(), lo = loss_stats_out.bytes(),
                               zb = z.bytes();
    const lr_status s = call();
    EXPECT_EQ(s, status) << lr_status_string(s) << ": " << lr_last_error();
    const std::string msg = lr_last_error();
    EXPECT_NE(msg.find(name), std::string::npos) << "message does not name " << name << ": " << msg;
    size_t t = 0;
    for (HostTensor* h : {&kl, &keep, &ids, &w, &sup, &loss, &grad}) EXPECT_EQ(h->bytes(), before[t++]) << msg;
    EXPECT_EQ(stats_out.bytes(), so) << msg;
    EXPECT_EQ(cands_out.bytes(), co) << msg;
    EXPECT_EQ(loss_stats_out.bytes(), lo) << msg;
    EXPECT_EQ(z.bytes(), zb) << msg;
    before.clear();
  }
  void invalid(const std::string& name, const std::function<lr_status()>& call) {
    expect_fault(LR_ERR_INVALID_ARGUMENT, name, call);
  }

  lr_status select_stats(const lr_vocab_shard* s, const lr_select_params* p = nullptr) {
    return lr_shard_select_stats(e.dl(), a.dl(), s, p, stats_out.dl(), nullptr);
  }
  lr_status candidates(const lr_vocab_shard* s, DLTensor* st, const DLTensor* rows = nullptr,
                       const lr_target_params* p = nullptr, DLTensor* out = nullptr) {
    return lr_shard_target_candidates(e.dl(), a.dl(), s, st, rows, p, out ? out : cands_out.dl(), nullptr);
  }
  lr_status loss_stats_call(const lr_vocab_shard* s) {
    return lr_shard_loss_stats(z.dl(), s, tid.dl(), tw.dl(), nullptr, loss_stats_out.dl(), nullptr);
  }
  lr_status backward(const lr_vocab_shard* s, DLTensor* st, DLTensor* g) {
    lr_loss_params p = lr_loss_params_default();
    p.reduction = LR_REDUCTION_NONE;
    return lr_shard_loss_backward(z.dl(), s, tid.dl(), tw.dl(), st, &p, loss.dl(), g, nullptr);
  }

  HostTensor e, a, z;
  Records stats_out, stats, cands_out, cands, loss_stats_out, loss_stats;
  HostTensor kl, keep, ids, w, sup, tid, tw, loss, grad;
  lr_vocab_shard sh{};
  std::vector<std::vector<uint8_t>> before;
};

TEST_F(ArgumentFaultShard, AcceptsTheValidCalls) {
  ASSERT_EQ(select_stats(&sh), LR_OK) << lr_last_error();
  ASSERT_EQ(lr_shard_select_finish(stats.dl(), nullptr, kl.dl(), keep.dl(), nullptr), LR_OK) << lr_last_error();
  ASSERT_EQ(candidates(&sh, stats.dl()), LR_OK) << lr_last_error();
  ASSERT_EQ(lr_shard_targets_finish(cands.dl(), nullptr, ids.dl(), w.dl(), sup.dl(), nullptr), LR_OK)
      << lr_last_error();
  EXPECT_EQ(sup.at(0), 2.0);
  ASSERT_EQ(loss_stats_call(&sh), LR_OK) << lr_last_error();
  ASSERT_EQ(backward(&sh, loss_stats.dl(), grad.dl()), LR_OK) << lr_last_error();
  ASSERT_EQ(backward(&sh, loss_stats.dl(), z.dl()), LR_OK) << lr_last_error();  // in place
  // A zero-column shard, and one wholly past shared_vocab.
  HostTensor e0(Dtype::F32, {n, 0}), a0(Dtype::F32, {n, 0});
  lr_vocab_shard end{sizeof(lr_vocab_shard), v, v, v};
  EXPECT_EQ(lr_shard_select_stats(e0.dl(), a0.dl(), &end, nullptr, stats_out.dl(), nullptr), LR_OK) << lr_last_error();
  lr_select_params p = lr_select_params_default();
  p.shared_vocab = 4;
  EXPECT_EQ(select_stats(&sh, &p), LR_OK) << lr_last_error();
  EXPECT_EQ(stats_out.get(0, 0, 0), -kInf);  // no column below S
  // Ve != Va past S: rank 1 of a wider expert.
  HostTensor ew(Dtype::F32, {n, v - v0 + 2});
  lr_vocab_shard wide{sizeof(lr_vocab_shard), v0, v + 2, v};
  EXPECT_EQ(lr_shard_select_stats(ew.dl(), a.dl(), &wide, nullptr, stats_out.dl(), nullptr), LR_OK) << lr_last_error();
  // A wider expert's last shard wholly past Va: the amateur has no columns
  // there, and its empty shard may start past Va.
  HostTensor e_tail(Dtype::F32, {n, 2}), a_none(Dtype::F32, {n, 0});
  lr_vocab_shard tail{sizeof(lr_vocab_shard), v + 1, v + 3, v};
  EXPECT_EQ(lr_shard_select_stats(e_tail.dl(), a_none.dl(), &tail, nullptr, stats_out.dl(), nullptr), LR_OK)
      << lr_last_error();
  EXPECT_EQ(stats_out.get(0, 0, 0), -kInf);  // nothing below S
  tail.amateur_vocab = v + 1;  // ... but a shard with columns must fit
  EXPECT_EQ(lr_shard_select_stats(e_tail.dl(), e_tail.dl(), &tail, nullptr, stats_out.dl(), nullptr),
            LR_ERR_INVALID_ARGUMENT);
  // A newer caller's larger struct.
  struct {
    lr_vocab_shard s;
    int64_t more;
  } bigger{{sizeof bigger, v0, v, v}, 9};
  EXPECT_EQ(select_stats(&bigger.s), LR_OK) << lr_last_error();
}

// Gathered candidates no partial call writes (a host's garbage, a buffer
// never filled) fault their row, never the process: the finish converts no
// number it cannot trust (the fuzzer's capi_shard_args found a count of
// 3.7e19 converted to int64).
TEST_F(ArgumentFaultShard, ForeignCandidatesRecordsFaultTheirRow) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN(), kInf = std::numeric_limits<double>::infinity();
  const struct {
    int64_t column;
    double value;
  } foreign[] = {{0, 3.7e19}, {0, 2.5},  {0, kNaN}, {0, -2.0},         {0, double(int64_t{1} << 25)},
                 {1, -3.0},   {1, 6.5},  {1, 1e9},  {2, kInf},          {2, kNaN},
                 {3, kNaN},   {3, kInf}, {4, 7.0},  {0, 2.0} /* lists a padding slot */};
  for (const auto& f : foreign) {
    const double saved = cands.get(1, 1, f.column);
    cands.set(1, 1, f.column, f.value);
    sup.fill_bytes(kSentinel);
    ASSERT_EQ(lr_shard_targets_finish(cands.dl(), nullptr, ids.dl(), w.dl(), sup.dl(), nullptr), LR_OK)
        << lr_last_error();
    EXPECT_EQ(sup.at(1), -1) << "column " << f.column << " = " << f.value;
    EXPECT_EQ(ids.get(1, 0), -1);
    EXPECT_EQ(sup.at(0), 2);
    EXPECT_EQ(sup.at(2), 2);
    cands.set(1, 1, f.column, saved);
  }
  // Amateur -Inf is a valid record (p_A = 0).
  cands.set(1, 1, 3, -kInf);
  ASSERT_EQ(lr_shard_targets_finish(cands.dl(), nullptr, ids.dl(), w.dl(), sup.dl(), nullptr), LR_OK);
  EXPECT_EQ(sup.at(1), 2);
}

TEST_F(ArgumentFaultShard, Shard) {
  invalid("shard is NULL", [&] { return select_stats(nullptr); });
  lr_vocab_shard s = sh;
  s.struct_size = 8;
  invalid("shard->struct_size", [&] { return select_stats(&s); });
  s = sh;
  s.column_offset = -1;
  invalid("shard->column_offset", [&] { return select_stats(&s); });
  s = sh;
  s.expert_vocab = v - 1;  // v0 + Ve_r > Ve
  invalid("expert_shard", [&] { return select_stats(&s); });
  s = sh;
  s.amateur_vocab = v - 1;
  invalid("amateur_shard", [&] { return select_stats(&s); });
  s = sh;
  s.expert_vocab = 0;
  invalid("shard->expert_vocab", [&] { return select_stats(&s); });
  s = sh;
  s.column_offset = std::numeric_limits<int64_t>::max();  // v0 + Ve_r overflows int64
  invalid("expert_shard", [&] { return select_stats(&s); });
  s = sh;
  invalid("shard", [&] { return candidates(nullptr, stats.dl()); });
  invalid("shard", [&] { return loss_stats_call(nullptr); });
  s.expert_vocab = v - 1;
  invalid("logits_shard", [&] { return loss_stats_call(&s); });
  invalid("logits_shard", [&] { return backward(&s, loss_stats.dl(), grad.dl()); });
}

TEST_F(ArgumentFaultShard, SharedColumnsDiffer) {
  // The amateur's shard one column narrower, below S.
  HostTensor an(Dtype::F32, {n, v - v0 - 1});
  invalid("hold different columns", [&] {
    return lr_shard_select_stats(e.dl(), an.dl(), &sh, nullptr, stats_out.dl(), nullptr);
  });
  invalid("hold different columns", [&] {
    return lr_shard_target_candidates(e.dl(), an.dl(), &sh, stats.dl(), nullptr, nullptr, cands_out.dl(), nullptr);
  });
  lr_select_params p = lr_select_params_default();
  p.shared_vocab = 9;
  invalid("params->shared_vocab", [&] { return select_stats(&sh, &p); });
}

TEST_F(ArgumentFaultShard, RecordOutputs) {
  Records f32(false, {n, LR_SHARD_SELECT_STATS}), narrow(true, {n, 5}), rows(true, {n + 1, LR_SHARD_SELECT_STATS});
  invalid("stats_out: dtype", [&] { return lr_shard_select_stats(e.dl(), a.dl(), &sh, nullptr, f32.dl(), nullptr); });
  invalid("stats_out: expected shape", [&] {
    return lr_shard_select_stats(e.dl(), a.dl(), &sh, nullptr, narrow.dl(), nullptr);
  });
  invalid("stats_out: expected shape", [&] {
    return lr_shard_select_stats(e.dl(), a.dl(), &sh, nullptr, rows.dl(), nullptr);
  });
  Records strided(true, {n, LR_SHARD_SELECT_STATS});
  int64_t* st = strided.dl()->strides;
  st[1] = 2;
  st[0] = 2 * LR_SHARD_SELECT_STATS;
  invalid("stats_out: the stride along the record", [&] {
    return lr_shard_select_stats(e.dl(), a.dl(), &sh, nullptr, strided.dl(), nullptr);
  });
  // Records written over the logits: a [1, 6] float64 view of a [1, 12] float32 row.
  HostTensor buf(Dtype::F32, {1, 12}), a1(Dtype::F32, {1, 12});
  DLTensor over = *buf.dl();
  over.dtype = DLDataType{kDLFloat, 64, 1};
  int64_t over_shape[2] = {1, LR_SHARD_SELECT_STATS};
  over.shape = over_shape;
  over.strides = nullptr;
  lr_vocab_shard s1{sizeof(lr_vocab_shard), 0, 12, 12};
  invalid("stats_out shares memory with the input expert_shard", [&] {
    return lr_shard_select_stats(buf.dl(), a1.dl(), &s1, nullptr, &over, nullptr);
  });
  Records cw(false, {n, 5});  // not 1 + 3K
  invalid("candidates_out: the record width is 5", [&] { return candidates(&sh, stats.dl(), nullptr, nullptr, cw.dl()); });
  Records c1(false, {n, 1});  // K = 0
  invalid("candidates_out: the record width is 1", [&] { return candidates(&sh, stats.dl(), nullptr, nullptr, c1.dl()); });
  Records lw(true, {n, 3});
  invalid("stats_out: expected shape", [&] {
    return lr_shard_loss_stats(z.dl(), &sh, tid.dl(), tw.dl(), nullptr, lw.dl(), nullptr);
  });
}

TEST_F(ArgumentFaultShard, GatheredRecords) {
  Records two_d(true, {n, LR_SHARD_SELECT_STATS}), none(true, {0, n, LR_SHARD_SELECT_STATS}),
      narrow(true, {2, n, 5}), rows(true, {2, n + 1, LR_SHARD_SELECT_STATS});
  invalid("stats: expected 3 dimension", [&] {
    return lr_shard_select_finish(two_d.dl(), nullptr, kl.dl(), nullptr, nullptr);
  });
  invalid("stats: W", [&] { return lr_shard_select_finish(none.dl(), nullptr, kl.dl(), nullptr, nullptr); });
  invalid("stats: expected shape", [&] { return lr_shard_select_finish(narrow.dl(), nullptr, kl.dl(), nullptr, nullptr); });
  invalid("kl_out: expected shape", [&] { return lr_shard_select_finish(rows.dl(), nullptr, kl.dl(), nullptr, nullptr); });
  invalid("stats: expected shape", [&] { return candidates(&sh, rows.dl()); });
  Records strided(true, {2, n, LR_SHARD_SELECT_STATS});
  strided.dl()->strides[2] = 0;
  invalid("stats: the stride along the record", [&] {
    return lr_shard_select_finish(strided.dl(), nullptr, kl.dl(), nullptr, nullptr);
  });
  lr_select_params p = lr_select_params_default();
  p.kl_threshold = std::numeric_limits<float>::quiet_NaN();
  invalid("params->kl_threshold", [&] { return lr_shard_select_finish(stats.dl(), &p, kl.dl(), nullptr, nullptr); });
  DLTensor keep_over_kl = *keep.dl();  // uint8 [n] over kl's bytes
  keep_over_kl.data = kl.dl()->data;
  invalid("kl_out and keep_out share memory", [&] {
    return lr_shard_select_finish(stats.dl(), nullptr, kl.dl(), &keep_over_kl, nullptr);
  });
  Records cw(false, {2, n, 6});
  invalid("candidates: the record width is 6", [&] {
    return lr_shard_targets_finish(cw.dl(), nullptr, ids.dl(), w.dl(), sup.dl(), nullptr);
  });
  Records ls(true, {2, n, 5});
  invalid("stats: expected shape", [&] { return backward(&sh, ls.dl(), grad.dl()); });
}

TEST_F(ArgumentFaultShard, CandidatesRowsBetaAndWidth) {
  HostTensor rows(Dtype::I64, {2});
  rows.set_at(0, 1);
  rows.set_at(1, n);
  invalid("rows[1] = 3 is outside [0, 3)", [&] { return candidates(&sh, stats.dl(), rows.dl()); });
  lr_target_params p = lr_target_params_default();
  p.beta = 0.0f;
  invalid("params->beta", [&] { return candidates(&sh, stats.dl(), nullptr, &p); });
  // Ids travel as float32: shared_vocab above 2^24 is unsupported (no big tensor needed).
  lr_vocab_shard huge{sizeof(lr_vocab_shard), v0, (int64_t{1} << 24) + 8, (int64_t{1} << 24) + 8};
  expect_fault(LR_ERR_UNSUPPORTED, "2^24", [&] { return candidates(&huge, stats.dl()); });
  // K of the candidates must be K of target_ids.
  HostTensor ids3(Dtype::I32, {n, 3}), w3(Dtype::F32, {n, 3});
  invalid("target_ids: K = 3 but the candidates records hold K = 2", [&] {
    return lr_shard_targets_finish(cands.dl(), nullptr, ids3.dl(), w3.dl(), sup.dl(), nullptr);
  });
  HostTensor sup2(Dtype::I32, {n + 1});
  invalid("support_size: expected shape", [&] {
    return lr_shard_targets_finish(cands.dl(), nullptr, ids.dl(), w.dl(), sup2.dl(), nullptr);
  });
}

TEST_F(ArgumentFaultShard, LossTargetsAndOutputs) {
  tid.set(0, 1, v);  // global ids: V itself is outside
  invalid("target_ids[0, 1] = 8 is outside [-1, V = 8)", [&] { return loss_stats_call(&sh); });
  invalid("target_ids[0, 1] = 8", [&] { return backward(&sh, loss_stats.dl(), grad.dl()); });
  tid.set(0, 1, 1);  // twice
  invalid("has the id 1 twice", [&] { return loss_stats_call(&sh); });
  tid.set(0, 1, 6);
  tw.set(1, 0, -0.5);
  invalid("target_weights[1, 0]", [&] { return backward(&sh, loss_stats.dl(), grad.dl()); });
  tw.set(1, 0, 0.5);
  HostTensor g2(Dtype::F32, {n, v});
  invalid("grad_logits: expected shape", [&] { return backward(&sh, loss_stats.dl(), g2.dl()); });
  HostTensor gb(Dtype::BF16, {n, v - v0});
  invalid("grad_logits must have the dtype of logits_shard", [&] { return backward(&sh, loss_stats.dl(), gb.dl()); });
  DLTensor shifted = *z.dl();  // the logits one element on: a partial overlap
  shifted.byte_offset = 4;
  int64_t shape[2] = {n - 1, v - v0};
  shifted.shape = shape;
  lr_loss_params p = lr_loss_params_default();
  p.reduction = LR_REDUCTION_SUM;
  HostTensor l1(Dtype::F32, {1});
  Records ls2(true, {2, n - 1, LR_SHARD_LOSS_STATS});
  invalid("grad_logits partly overlaps logits_shard", [&] {
    DLTensor zz = *z.dl(), ti = *tid.dl(), tv = *tw.dl();
    int64_t tshape[2] = {n - 1, k};
    zz.shape = shape;
    ti.shape = tshape;
    tv.shape = tshape;
    return lr_shard_loss_backward(&zz, &sh, &ti, &tv, ls2.dl(), &p, l1.dl(), &shifted, nullptr);
  });
  HostTensor wrong(Dtype::F32, {n + 1});
  invalid("loss_out: expected shape", [&] {
    lr_loss_params q = lr_loss_params_default();
    q.reduction = LR_REDUCTION_NONE;
    return lr_shard_loss_backward(z.dl(), &sh, tid.dl(), tw.dl(), loss_stats.dl(), &q, wrong.dl(), nullptr, nullptr);
  });
  lr_loss_params bad = lr_loss_params_default();
  std::memset(&bad.reduction, 0x7F, sizeof bad.reduction);
  invalid("params->reduction", [&] {
    return lr_shard_loss_backward(z.dl(), &sh, tid.dl(), tw.dl(), loss_stats.dl(), &bad, loss.dl(), nullptr, nullptr);
  });
  invalid("stats_out shares memory with the input target_weights", [&] {
    DLTensor over = *tw.dl();
    over.dtype = DLDataType{kDLFloat, 64, 1};
    int64_t s2[2] = {1, LR_SHARD_LOSS_STATS};
    over.shape = s2;
    over.strides = nullptr;
    HostTensor tw1(Dtype::F32, {1, 8}), id1(Dtype::I32, {1, 8});
    for (int64_t j = 0; j < 8; ++j) id1.set(0, j, -1);
    over.data = tw1.dl()->data;
    HostTensor z1(Dtype::F32, {1, v - v0});
    return lr_shard_loss_stats(z1.dl(), &sh, id1.dl(), tw1.dl(), nullptr, &over, nullptr);
  });
}

}  // namespace
