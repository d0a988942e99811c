// The LibTorch adapter (lr_torch) against LibTorch composites of the same math
// (composite.h, computed in double from the stored logit values): values of
// select_steps / build_targets / select_and_build / distill_loss, and the
// autograd gradient of distill_loss against autograd of the composite loss.
// Every case runs for float32, bfloat16 and float16 logits, compact and as a
// row-strided view (x.narrow(1, 0, V) of a wider tensor).
//
// Tolerances (got vs the double reference of the same stored values):
// - KL and row losses: |got - ref| <= 1e-5 + 1e-4 |ref| for every dtype (the
//   library accumulates in float32 whatever the logits' dtype, so bf16/f16
//   inputs are no less accurate; the outputs are float32). A reduced loss:
//   N times that atol.
// - target weights (float32 outputs, computed in double): 1e-6 absolute;
//   support sizes and the kept ids exactly (no ties in the test data).
// - gradient, float32 logits: |got - ref| <= 2e-6 + 1e-4 |ref|.
// - gradient, bfloat16/float16 logits (the gradient has the logits' dtype):
//   |got - ref| <= 1e-6 + rtol |ref| with rtol = 1/64 (bf16), 1/512 (f16):
//   the library rounds q - v to the dtype, backward rounds grad_output to the
//   dtype and rounds the product: three roundings of at most u each (unit
//   roundoff u = 2^-8 for bf16, 2^-11 for f16), 3u < rtol.
#include <gtest/gtest.h>
#include <lightreasoner/lightreasoner.h>
#include <lightreasoner/torch.h>
#include <torch/torch.h>

#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "composite.h"

#if defined(LR_TORCH_CUDA)
#include <ATen/cuda/Sleep.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace {

namespace lt = lr::torch_adapter;
using lrtorch_test::close;
using lrtorch_test::composite_kl;
using lrtorch_test::composite_loss;
using lrtorch_test::composite_targets;
using lrtorch_test::densify;
using lrtorch_test::max_abs_diff;
using lrtorch_test::Red;

const std::vector<at::ScalarType> kDtypes = {torch::kFloat, torch::kBFloat16, torch::kHalf};

std::string name_of(at::ScalarType s, bool strided) {
  return std::string(c10::toString(s)) + (strided ? " row-strided view" : " contiguous");
}

// [N, V] logits, scale * randn, in dtype; with strided, a narrow() view of a
// wider tensor (row stride V + 13, unit stride along V).
at::Tensor make_logits(int64_t n, int64_t v, at::ScalarType dtype, double scale, bool strided, uint64_t seed) {
  torch::manual_seed(seed);
  const int64_t width = strided ? v + 13 : v;
  at::Tensor wide = (torch::randn({n, width}) * scale).to(dtype);
  at::Tensor x = wide.narrow(1, 0, v);
  if (strided) {
    EXPECT_FALSE(x.is_contiguous());
    EXPECT_EQ(x.stride(1), 1);
  }
  return x;
}

// Amateur logits close to the expert's: e[:, :va] plus noise whose scale grows
// from 0 (first row) to 2 (last row), so KL spans small to large values.
at::Tensor near(const at::Tensor& e, int64_t va, bool strided, uint64_t seed) {
  const int64_t n = e.size(0);
  const at::Tensor noise = make_logits(n, va, torch::kFloat, 1.0, false, seed) * torch::linspace(0, 2, n).unsqueeze(1);
  const at::Tensor a = (e.narrow(1, 0, va).to(torch::kFloat) + noise).to(e.scalar_type());
  if (!strided) return a;
  at::Tensor wide = torch::zeros({n, va + 13}, a.options());
  wide.narrow(1, 0, va).copy_(a);
  return wide.narrow(1, 0, va);
}

double tolerance_gradient_rtol(at::ScalarType s) {
  if (s == torch::kFloat) return 1e-4;
  return s == torch::kBFloat16 ? 1.0 / 64 : 1.0 / 512;
}
double tolerance_gradient_atol(at::ScalarType s) { return s == torch::kFloat ? 2e-6 : 1e-6; }

// ------------------------------------------------------------ select_steps

TEST(TorchAdapterSelect, MatchesCompositeKL) {
  const int64_t n = 37, va = 96, ve = 101;  // different widths: shared vocabulary = 96
  for (at::ScalarType dtype : kDtypes) {
    for (bool strided : {false, true}) {
      SCOPED_TRACE(name_of(dtype, strided));
      const at::Tensor e = make_logits(n, ve, dtype, 3.0, strided, 11);
      const at::Tensor a = near(e, va, strided, 12);
      const at::Tensor ref = composite_kl(e, a, va, 1.3);
      lt::SelectOptions opt;
      opt.temperature = 1.3f;
      opt.kl_threshold = static_cast<float>(ref.median().item<double>()) + 1e-3f;  // about half the rows kept
      const lt::SelectResult r = lt::select_steps(e, a, opt);
      ASSERT_EQ(r.kl.scalar_type(), torch::kFloat);
      ASSERT_EQ(r.keep.scalar_type(), torch::kBool);
      ASSERT_EQ(r.kl.sizes(), at::IntArrayRef({n}));
      ASSERT_EQ(r.keep.device(), e.device());
      EXPECT_TRUE(close(r.kl, ref, 1e-5, 1e-4)) << "max diff " << max_abs_diff(r.kl, ref);
      const double kappa = opt.kl_threshold;
      const at::Tensor unambiguous = (ref - kappa).abs() > 1e-4;
      EXPECT_TRUE(r.keep.masked_select(unambiguous).equal((ref > kappa).masked_select(unambiguous)));
      EXPECT_GT(r.keep.sum().item<int64_t>(), 0);
      EXPECT_LT(r.keep.sum().item<int64_t>(), n);
      std::cout << "[ select ] " << name_of(dtype, strided) << ": max |kl - composite| = "
                << max_abs_diff(r.kl, ref) << "\n";
    }
  }
}

// ------------------------------------------------------------ build_targets

void expect_targets_match(const lt::TargetResult& r, const at::Tensor& e, const at::Tensor& a, const at::Tensor& rows,
                          int64_t S, int64_t K, double beta, double T, const std::string& label) {
  const int64_t m = rows.size(0);
  ASSERT_EQ(r.ids.scalar_type(), torch::kInt);
  ASSERT_EQ(r.weights.scalar_type(), torch::kFloat);
  ASSERT_EQ(r.support_size.scalar_type(), torch::kInt);
  ASSERT_EQ(r.ids.sizes(), at::IntArrayRef({m, K}));
  ASSERT_EQ(r.support_size.sizes(), at::IntArrayRef({m}));
  const lrtorch_test::DenseTargets ref = composite_targets(e, a, rows, S, K, beta, T);
  EXPECT_TRUE(r.support_size.to(torch::kLong).equal(ref.support)) << r.support_size << ref.support;
  const at::Tensor dense = densify(r.ids, r.weights, S);
  const double d = max_abs_diff(dense, ref.weights);
  EXPECT_LE(d, 1e-6);
  // the kept ids are exactly the composite's support (truncated to K)
  EXPECT_TRUE((dense > 0).equal(ref.weights > 0));
  // padding: id -1 <=> weight 0; weights descending
  EXPECT_TRUE((r.ids < 0).equal(r.weights == 0));
  if (K > 1) {
    EXPECT_TRUE((r.weights.narrow(1, 0, K - 1) >= r.weights.narrow(1, 1, K - 1)).all().item<bool>());
  }
  std::cout << "[ targets ] " << label << ": max |weights - composite| = " << d
            << ", support sizes " << r.support_size.min().item<int>() << ".." << r.support_size.max().item<int>()
            << "\n";
}

TEST(TorchAdapterTargets, MatchesCompositeBetaMask) {
  const int64_t n = 29, v = 80;
  for (at::ScalarType dtype : kDtypes) {
    for (bool strided : {false, true}) {
      SCOPED_TRACE(name_of(dtype, strided));
      const at::Tensor e = make_logits(n, v, dtype, 2.0, strided, 21);
      const at::Tensor a = make_logits(n, v, dtype, 2.0, strided, 22);
      lt::TargetOptions opt;
      opt.k = 24;  // >= every support here, so bf16 ties at a truncation boundary cannot arise
      const lt::TargetResult all = lt::build_targets(e, a, std::nullopt, opt);
      expect_targets_match(all, e, a, torch::arange(n, torch::kLong), v, 24, 0.2, 1.0, name_of(dtype, strided));
      EXPECT_LE(all.support_size.max().item<int>(), 24);

      const at::Tensor rows = torch::tensor(std::vector<int64_t>{5, 0, 5, 28, 3}, torch::kLong);
      opt.temperature = 0.8f;
      opt.beta = 0.1f;
      const lt::TargetResult some = lt::build_targets(e, a, rows, opt);
      expect_targets_match(some, e, a, rows, v, 24, 0.1, 0.8, name_of(dtype, strided) + " rows, T 0.8, beta 0.1");
      // int32 row indices are accepted too
      const lt::TargetResult some32 = lt::build_targets(e, a, rows.to(torch::kInt), opt);
      EXPECT_TRUE(some32.ids.equal(some.ids));
    }
  }
}

TEST(TorchAdapterTargets, TruncationToKIsReported) {
  const int64_t n = 16, v = 40;
  const at::Tensor e = make_logits(n, v, torch::kFloat, 0.5, false, 31);  // flat rows: large supports
  const at::Tensor a = make_logits(n, v, torch::kFloat, 0.5, false, 32);
  lt::TargetOptions opt;
  opt.k = 3;
  const lt::TargetResult r = lt::build_targets(e, a, std::nullopt, opt);
  EXPECT_GT(r.support_size.min().item<int>(), 3);  // every row truncated, and it says so
  expect_targets_match(r, e, a, torch::arange(n, torch::kLong), v, 3, 0.2, 1.0, "float32 truncated to K = 3");
  EXPECT_TRUE((r.ids >= 0).all().item<bool>());
}

// ------------------------------------------------------------ select_and_build

TEST(TorchAdapterFused, EqualsSelectThenBuildOnKeptRows) {
  const int64_t n = 33, v = 64;
  for (at::ScalarType dtype : kDtypes) {
    for (bool strided : {false, true}) {
      SCOPED_TRACE(name_of(dtype, strided));
      const at::Tensor e = make_logits(n, v, dtype, 3.0, strided, 41);
      const at::Tensor a = near(e, v, strided, 42);
      lt::SelectOptions so;
      so.kl_threshold = static_cast<float>(composite_kl(e, a, v, 1.0).median().item<double>()) + 1e-3f;
      lt::TargetOptions to;
      to.k = 16;
      const lt::FusedResult f = lt::select_and_build(e, a, so, to);
      const lt::SelectResult s = lt::select_steps(e, a, so);
      EXPECT_TRUE(f.kl.equal(s.kl));
      EXPECT_TRUE(f.keep.equal(s.keep));
      ASSERT_EQ(f.keep.scalar_type(), torch::kBool);
      const at::Tensor kept = f.keep.nonzero().squeeze(1);
      ASSERT_GT(kept.numel(), 0);
      ASSERT_LT(kept.numel(), n);
      const lt::TargetResult t = lt::build_targets(e, a, kept, to);
      EXPECT_TRUE(f.ids.index_select(0, kept).equal(t.ids));
      EXPECT_TRUE(f.weights.index_select(0, kept).equal(t.weights));
      EXPECT_TRUE(f.support_size.index_select(0, kept).equal(t.support_size));
      const at::Tensor dropped = (~f.keep).nonzero().squeeze(1);
      EXPECT_TRUE((f.ids.index_select(0, dropped) == -1).all().item<bool>());
      EXPECT_TRUE((f.weights.index_select(0, dropped) == 0).all().item<bool>());
      EXPECT_TRUE((f.support_size.index_select(0, dropped) == 0).all().item<bool>());
      expect_targets_match(t, e, a, kept, v, 16, 0.2, 1.0, name_of(dtype, strided) + " fused, kept rows");
    }
  }
}

// ------------------------------------------------------------ distill_loss

struct LossCase {
  lt::Reduction reduction;
  Red red;
  const char* name;
};
const std::vector<LossCase> kReductions = {
    {lt::Reduction::None, Red::None, "none"}, {lt::Reduction::Sum, Red::Sum, "sum"}, {lt::Reduction::Mean, Red::Mean, "mean"}};

// Sparse targets for n rows of a vocabulary v from random expert/amateur
// logits (K = 8), with row 2 made all padding (not counted by Mean).
std::pair<at::Tensor, at::Tensor> make_targets(int64_t n, int64_t v, uint64_t seed) {
  const at::Tensor e = make_logits(n, v, torch::kFloat, 2.0, false, seed);
  const at::Tensor a = make_logits(n, v, torch::kFloat, 2.0, false, seed + 1);
  lt::TargetOptions opt;
  opt.k = 8;
  lt::TargetResult t = lt::build_targets(e, a, std::nullopt, opt);
  t.ids[2].fill_(-1);
  t.weights[2].fill_(0);
  return {t.ids, t.weights};
}

TEST(TorchAdapterLoss, ValuesAndGradientsMatchAutogradOfComposite) {
  const int64_t n = 24, v = 70;
  const auto [ids, weights] = make_targets(n, v, 51);
  torch::manual_seed(52);
  const at::Tensor go_rows = torch::rand({n}) * 2 - 0.5;  // non-uniform grad_output for None (some negative)
  for (at::ScalarType dtype : kDtypes) {
    for (bool strided : {false, true}) {
      for (const LossCase& rc : kReductions) {
        for (double T : {1.0, 2.0}) {
          const std::string label = name_of(dtype, strided) + ", " + rc.name + ", T " + std::to_string(T);
          SCOPED_TRACE(label);
          // The leaf is the wide tensor, so the gradient flows back through narrow().
          torch::manual_seed(53);
          const int64_t width = strided ? v + 13 : v;
          at::Tensor leaf = (torch::randn({n, width}) * 3).to(dtype).requires_grad_();
          at::Tensor z = leaf.narrow(1, 0, v);

          lt::LossOptions opt;
          opt.reduction = rc.reduction;
          opt.temperature = static_cast<float>(T);
          at::Tensor loss = lt::distill_loss(z, ids, weights, opt);
          ASSERT_EQ(loss.scalar_type(), torch::kFloat);
          ASSERT_TRUE(loss.requires_grad());
          if (rc.red == Red::None) {
            ASSERT_EQ(loss.sizes(), at::IntArrayRef({n}));
          } else {
            ASSERT_EQ(loss.dim(), 0);
          }

          at::Tensor zd = z.detach().to(torch::kDouble).requires_grad_();
          at::Tensor ref = composite_loss(zd, ids, weights, rc.red, T);
          const double atol = rc.red == Red::None ? 1e-5 : 1e-5 * n;
          EXPECT_TRUE(close(loss.detach(), ref.detach(), atol, 1e-4))
              << "loss max diff " << max_abs_diff(loss.detach(), ref.detach());

          // None: a non-uniform grad_output; Sum/Mean: loss.backward() and a scalar 0.75.
          const double scalar_go = rc.red == Red::Mean ? 1.0 : 0.75;
          if (rc.red == Red::None) {
            loss.backward(go_rows);
            ref.backward(go_rows.to(torch::kDouble));
          } else if (rc.red == Red::Mean) {
            loss.backward();
            ref.backward();
          } else {
            loss.backward(torch::full({}, scalar_go));
            ref.backward(torch::full({}, scalar_go, torch::kDouble));
          }
          ASSERT_TRUE(leaf.grad().defined());
          ASSERT_EQ(leaf.grad().scalar_type(), dtype);
          const at::Tensor g = leaf.grad().narrow(1, 0, v);
          const at::Tensor gref = zd.grad();
          const double d = max_abs_diff(g, gref);
          EXPECT_TRUE(close(g, gref, tolerance_gradient_atol(dtype), tolerance_gradient_rtol(dtype)))
              << "gradient max diff " << d;
          // the padding row has zero gradient; columns outside the view get none
          EXPECT_EQ(g[2].abs().max().item<double>(), 0.0);
          if (strided) {
            EXPECT_EQ(leaf.grad().narrow(1, v, 13).abs().max().item<double>(), 0.0);
          }
          if (T == 1.0) {
            std::cout << "[ loss ] " << label << ": max |loss - composite| = "
                      << max_abs_diff(loss.detach(), ref.detach()) << ", max |grad - autograd composite| = " << d
                      << " (max |grad| " << gref.abs().max().item<double>() << ")\n";
          }
        }
      }
    }
  }
}

TEST(TorchAdapterLoss, RetainGraphBackwardTwiceAccumulates) {
  const int64_t n = 6, v = 30;
  const auto [ids, weights] = make_targets(n, v, 61);
  at::Tensor z = make_logits(n, v, torch::kFloat, 2.0, false, 62).requires_grad_();
  at::Tensor loss = lt::distill_loss(z, ids, weights);
  loss.backward({}, /*retain_graph=*/true);
  const at::Tensor once = z.grad().clone();
  loss.backward();
  EXPECT_TRUE(torch::allclose(z.grad(), 2 * once));
}

TEST(TorchAdapterLoss, NoGradientWhenNotRequired) {
  const int64_t n = 5, v = 30;
  const auto [ids, weights] = make_targets(n, v, 71);
  const at::Tensor z = make_logits(n, v, torch::kFloat, 2.0, false, 72);
  const at::Tensor loss = lt::distill_loss(z, ids, weights);
  EXPECT_FALSE(loss.requires_grad());
  const at::Tensor ref = composite_loss(z, ids, weights, Red::Mean, 1.0);
  EXPECT_NEAR(loss.item<double>(), ref.item<double>(), 1e-5 * n);
  at::Tensor zg = z.clone().requires_grad_();
  {
    torch::NoGradGuard no_grad;
    const at::Tensor l2 = lt::distill_loss(zg, ids, weights);
    EXPECT_FALSE(l2.requires_grad());
    EXPECT_FLOAT_EQ(l2.item<float>(), loss.item<float>());
  }
}

// In place: a linear layer's weight gets the same gradient, the logits hold
// d loss / d logits (scaled by grad_output), and autograd refuses a leaf.
TEST(TorchAdapterLoss, InplaceGivesTheSameGradientAndOverwritesTheLogits) {
  const int64_t n = 6, v = 30;
  const auto [ids, weights] = make_targets(n, v, 81);
  const at::Tensor x = make_logits(n, 8, torch::kFloat, 1.0, false, 82);
  for (const lt::Reduction red : {lt::Reduction::Mean, lt::Reduction::None}) {
    lt::LossOptions o;
    o.reduction = red;
    const at::Tensor go = red == lt::Reduction::None ? torch::rand({n}) + 0.5 : torch::full({}, 0.75);
    std::vector<at::Tensor> weight_grads, logit_grads;
    for (const bool inplace : {false, true}) {
      torch::manual_seed(83);
      const at::Tensor w = torch::randn({8, v}).requires_grad_();
      at::Tensor z = x.matmul(w);  // not a leaf; matmul saves x and w, not z
      if (!inplace) z.retain_grad();  // in place, z holds it (and 1.13's retain_grad hook throws on z)
      o.inplace = inplace;
      lt::distill_loss(z, ids, weights, o).backward(go);
      ASSERT_TRUE(w.grad().defined()) << "inplace " << inplace;
      weight_grads.push_back(w.grad());
      logit_grads.push_back(inplace ? z.detach().clone() : z.grad());
      ASSERT_TRUE(logit_grads.back().defined()) << "inplace " << inplace;
    }
    EXPECT_TRUE(torch::allclose(weight_grads[1], weight_grads[0], 1e-6, 1e-6));
    EXPECT_TRUE(torch::allclose(logit_grads[1], logit_grads[0], 1e-6, 1e-6));
  }
  lt::LossOptions o;
  o.inplace = true;
  const at::Tensor leaf = make_logits(n, v, torch::kFloat, 2.0, false, 84).requires_grad_();
  EXPECT_THROW(lt::distill_loss(leaf, ids, weights, o), c10::Error);
}

// ------------------------------------------------------------ errors

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const c10::Error& e) {
    return e.what();
  }
  return "<no c10::Error thrown>";
}

TEST(TorchAdapterErrors, LibraryFailuresBecomeC10ErrorsWithTheMessage) {
  const at::Tensor e = make_logits(4, 20, torch::kFloat, 1.0, false, 81);
  const at::Tensor a = make_logits(4, 20, torch::kFloat, 1.0, false, 82);
  lt::TargetOptions bad;
  bad.beta = 0.0f;
  const std::string msg = error_of([&] { lt::build_targets(e, a, std::nullopt, bad); });
  EXPECT_NE(msg.find("beta"), std::string::npos) << msg;
  EXPECT_NE(msg.find("LR_ERR_INVALID_ARGUMENT"), std::string::npos) << msg;
  EXPECT_NE(msg.find("lr_build_targets"), std::string::npos) << msg;

  lt::SelectOptions cold;
  cold.temperature = -1.0f;
  EXPECT_NE(error_of([&] { lt::select_steps(e, a, cold); }).find("temperature"), std::string::npos);

  lt::TargetOptions t2;
  t2.temperature = 2.0f;  // disagrees with the select temperature
  EXPECT_NE(error_of([&] { lt::select_and_build(e, a, {}, t2); }).find("temperature"), std::string::npos);

  const at::Tensor out_of_range = torch::tensor(std::vector<int64_t>{0, 4}, torch::kLong);
  EXPECT_NE(error_of([&] { lt::build_targets(e, a, out_of_range); }).find("rows"), std::string::npos);

  const at::Tensor ids = torch::full({4, 2}, 25, torch::kInt);  // id >= V
  const at::Tensor w = torch::full({4, 2}, 0.5f);
  EXPECT_NE(error_of([&] { lt::distill_loss(e, ids, w); }).find("target_ids"), std::string::npos);
}

TEST(TorchAdapterErrors, AdapterChecksNameTheArgument) {
  const at::Tensor e = make_logits(4, 20, torch::kFloat, 1.0, false, 91);
  // a vocabulary stride other than 1: rejected, never copied silently
  const at::Tensor transposed = make_logits(20, 4, torch::kFloat, 1.0, false, 92).t();
  const std::string msg = error_of([&] { lt::select_steps(transposed, e); });
  EXPECT_NE(msg.find("expert_logits"), std::string::npos) << msg;
  EXPECT_NE(msg.find(".contiguous()"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { lt::select_steps(e, e.to(torch::kDouble)); }).find("amateur_logits has dtype"),
            std::string::npos);
  EXPECT_NE(error_of([&] { lt::select_steps(e, e.narrow(0, 0, 3)); }).find("rows"), std::string::npos);
  EXPECT_NE(error_of([&] { lt::select_steps(e.unsqueeze(0), e); }).find("2-D"), std::string::npos);
  lt::TargetOptions k0;
  k0.k = 0;
  EXPECT_NE(error_of([&] { lt::build_targets(e, e, std::nullopt, k0); }).find("k must be >= 1"), std::string::npos);
  const at::Tensor w = torch::full({4, 2}, 0.5f);
  EXPECT_NE(error_of([&] { lt::distill_loss(e, torch::zeros({4, 2}, torch::kLong), w); }).find("int32"),
            std::string::npos);
}

TEST(TorchAdapter, DLTensorViewIsAZeroCopyView) {
  const at::Tensor x = make_logits(3, 10, torch::kBFloat16, 1.0, true, 101);
  lt::DLTensorView view(x, "x");
  const DLTensor* t = view.get();
  EXPECT_EQ(t->data, x.data_ptr());
  EXPECT_EQ(t->ndim, 2);
  EXPECT_EQ(t->shape[0], 3);
  EXPECT_EQ(t->shape[1], 10);
  EXPECT_EQ(t->strides[0], 23);
  EXPECT_EQ(t->strides[1], 1);
  EXPECT_EQ(t->dtype.code, kDLBfloat);
  EXPECT_EQ(t->dtype.bits, 16);
  EXPECT_EQ(t->device.device_type, kDLCPU);
}

TEST(TorchAdapter, EmptyBatch) {
  const at::Tensor e = torch::zeros({0, 10});
  const lt::FusedResult f = lt::select_and_build(e, e);
  EXPECT_EQ(f.kl.numel(), 0);
  EXPECT_EQ(f.ids.sizes(), at::IntArrayRef({0, 8}));
}

// ------------------------------------------------------------ CUDA

TEST(TorchAdapterCuda, MatchesCpuOnCudaTensors) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device (or a CPU-only LibTorch)";
  const std::string info = lr_build_info();
  if (info.find("CUDA: yes") == std::string::npos) GTEST_SKIP() << "liblightreasoner built without CUDA: " << info;
  const int64_t n = 16, v = 50;
  const at::Tensor e = make_logits(n, v, torch::kBFloat16, 3.0, true, 111);
  const at::Tensor a = make_logits(n, v, torch::kBFloat16, 3.0, true, 112);
  const at::Tensor ec = e.to(torch::kCUDA), ac = a.to(torch::kCUDA);
  const lt::FusedResult cpu = lt::select_and_build(e, a);
  const lt::FusedResult gpu = lt::select_and_build(ec, ac);
  ASSERT_TRUE(gpu.kl.is_cuda());
  EXPECT_TRUE(close(gpu.kl.cpu(), cpu.kl, 1e-5, 1e-4));
  EXPECT_TRUE(gpu.keep.cpu().equal(cpu.keep));
  EXPECT_TRUE(gpu.support_size.cpu().equal(cpu.support_size));
  const auto [ids, weights] = make_targets(n, v, 113);
  at::Tensor z = e.detach().clone().requires_grad_();
  at::Tensor zc = ec.detach().clone().requires_grad_();
  lt::distill_loss(z, ids, weights).backward();
  lt::distill_loss(zc, ids.to(torch::kCUDA), weights.to(torch::kCUDA)).backward();
  EXPECT_TRUE(close(zc.grad().cpu(), z.grad(), 1e-6, 1.0 / 128));
}

#if defined(LR_TORCH_CUDA)
// The adapter must enqueue on the tensors' current stream: here a side stream
// whose inputs are written only after a long GPU sleep. A call on any other
// stream would read the zeros that were there before.
TEST(TorchAdapterCuda, RunsOnTheCurrentStream) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (std::string(lr_build_info()).find("CUDA: yes") == std::string::npos) GTEST_SKIP() << "library without CUDA";
  const int64_t n = 32, v = 4096;
  const at::Tensor e_src = make_logits(n, v, torch::kFloat, 3.0, false, 121).to(torch::kCUDA);
  const at::Tensor a_src = make_logits(n, v, torch::kFloat, 3.0, false, 122).to(torch::kCUDA);
  const auto [ids_cpu, weights_cpu] = make_targets(n, v, 123);
  const at::Tensor ids = ids_cpu.to(torch::kCUDA), weights = weights_cpu.to(torch::kCUDA);
  const lt::FusedResult ref = lt::select_and_build(e_src, a_src);
  at::Tensor z_ref = e_src.clone().requires_grad_();
  lt::distill_loss(z_ref, ids, weights).backward();
  torch::cuda::synchronize();

  c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
  c10::cuda::CUDAStreamGuard guard(side);
  at::Tensor e = torch::zeros_like(e_src), a = torch::zeros_like(a_src);
  at::Tensor z = torch::zeros_like(e_src);
  at::cuda::sleep(400000000);  // a few hundred ms of GPU time on `side`
  e.copy_(e_src);
  a.copy_(a_src);
  z.copy_(e_src);
  z.requires_grad_();
  const lt::FusedResult got = lt::select_and_build(e, a);
  lt::distill_loss(z, ids, weights).backward();
  side.synchronize();
  EXPECT_TRUE(got.kl.equal(ref.kl));
  EXPECT_TRUE(got.ids.equal(ref.ids));
  EXPECT_TRUE(got.weights.equal(ref.weights));
  EXPECT_TRUE(z.grad().equal(z_ref.grad()));
}
#endif

}  // namespace
