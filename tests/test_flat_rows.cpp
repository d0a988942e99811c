// Flat rows: more near-maximal expert logits than the kernels' candidate
// buffers hold (the CPU keeps O(K) candidates, the GPU a fixed shared-memory
// buffer), so the rare paths run: the support re-read from the row, and,
// when it is larger than the buffer, its top K by radix selection. Every
// result is compared with the double-precision brute force.
#include <gtest/gtest.h>
#include <lightreasoner/lightreasoner.h>

#include <random>

#include "reference/brute_force.h"
#include "support/device_shim.h"
#include "support/host_tensor.h"

namespace {

using lrref::Row;
using lrtest::Dtype;
using lrtest::HostTensor;

void check_rows(Dtype d, const std::vector<Row>& ze_rows, const std::vector<Row>& za_rows, int64_t V, int64_t K,
                float beta) {
  HostTensor e = lrref::fx::make_logits(d, ze_rows, V), a = lrref::fx::make_logits(d, za_rows, V);
  const int64_t N = e.rows();
  HostTensor ids(Dtype::I32, {N, K}), w(Dtype::F32, {N, K}), sup(Dtype::I32, {N});
  lr_target_params p = lr_target_params_default();
  p.beta = beta;
  ASSERT_EQ(lrtest::build_targets(e.dl(), a.dl(), nullptr, &p, ids.dl(), w.dl(), sup.dl(), nullptr), LR_OK)
      << lr_last_error();
  const auto ze = lrref::fx::read_rows(e), za = lrref::fx::read_rows(a);
  for (int64_t i = 0; i < N; ++i) {
    const auto ref = lrref::targets(ze[size_t(i)], za[size_t(i)], V, 1.0, double(beta), K);
    std::vector<int32_t> got_ids;
    std::vector<double> got_w;
    for (int64_t k = 0; k < K; ++k) {
      got_ids.push_back(static_cast<int32_t>(ids.get(i, k)));
      got_w.push_back(w.get(i, k));
    }
    const std::string problem = lrref::fx::check_targets(got_ids, got_w, static_cast<int64_t>(sup.at(i)), ref,
                                                     ze[size_t(i)], za[size_t(i)], V, 1e-6);
    EXPECT_EQ(problem, "") << "row " << i << ", dtype " << lrtest::dtype_name(d) << ", K " << K;
  }
}

Row noisy(int64_t V, double sd, std::mt19937& g) {
  Row r(static_cast<size_t>(V));
  std::normal_distribution<double> n(0.0, sd);
  for (auto& x : r) x = n(g);
  return r;
}

class FlatRows : public ::testing::TestWithParam<Dtype> {};

// Ascending logits: every token is a new running maximum, so nearly every
// token is a candidate while the support is only the last ~160.
TEST_P(FlatRows, AscendingRowSupportSmallerThanBuffer) {
  std::mt19937 g(5);
  const int64_t V = 6000;
  Row ze(static_cast<size_t>(V));
  for (int64_t j = 0; j < V; ++j) ze[size_t(j)] = 0.01 * double(j);
  check_rows(GetParam(), {ze, ze}, {noisy(V, 1.0, g), noisy(V, 0.1, g)}, V, 8, 0.2f);
}

// All logits equal: the support is the whole row (ties: lowest ids kept).
TEST_P(FlatRows, UniformRowSupportLargerThanBuffer) {
  std::mt19937 g(6);
  const int64_t V = 6000;
  const Row flat(static_cast<size_t>(V), 1.5);
  check_rows(GetParam(), {flat, flat}, {noisy(V, 1.0, g), flat}, V, 4, 0.2f);
}

// Two levels inside the support, scattered at random; K large enough that
// the buffer itself grows past its default size.
TEST_P(FlatRows, TwoLevelsLargeK) {
  std::mt19937 g(7);
  const int64_t V = 9000;
  std::vector<Row> ze, za;
  for (int i = 0; i < 3; ++i) {
    Row r(static_cast<size_t>(V));
    std::bernoulli_distribution top(0.3);
    for (auto& x : r) x = top(g) ? 2.0 : 1.5;
    ze.push_back(r);
    za.push_back(noisy(V, 1.0, g));
  }
  check_rows(GetParam(), ze, za, V, 10, 0.5f);
  check_rows(GetParam(), ze, za, V, 2000, 0.5f);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, FlatRows, ::testing::ValuesIn(lrref::fx::logit_dtypes()),
                         [](const auto& info) { return std::string(lrtest::dtype_name(info.param)); });

}  // namespace
