// A training loop through the adapter: a small torch::nn::Linear (in 32 ->
// vocabulary 50) on fixed random inputs, trained with Adam for 50 steps to
// match fixed sparse targets (K = 4) that build_targets made from random
// expert/amateur logits. The loss must fall (final < 0.2 x initial, and every
// 10-step window lower on average than the one before), the gradient of the
// first step must equal autograd of the LibTorch composite loss, and the
// final loss must equal the composite loss of the trained layer.
//
// With 32 samples and 32 inputs the inputs are invertible, so a linear layer
// can reach any logits: the loss can go towards 0 (its infimum), and Adam at
// lr 0.1 takes it well below 0.2 x its initial value within 50 steps.
#include <gtest/gtest.h>
#include <lightreasoner/torch.h>
#include <torch/torch.h>

#include <iostream>
#include <vector>

#include "composite.h"

namespace {

namespace lt = lr::torch_adapter;
using lrtorch_test::composite_loss;
using lrtorch_test::Red;

TEST(TorchAdapterTraining, LinearLayerLearnsSparseTargets) {
  const int64_t n = 32, in = 32, v = 50;
  torch::manual_seed(2024);
  const at::Tensor x = torch::randn({n, in});
  const at::Tensor expert = torch::randn({n, v}) * 2;
  const at::Tensor amateur = torch::randn({n, v}) * 2;
  lt::TargetOptions topt;
  topt.k = 4;
  const lt::TargetResult t = lt::build_targets(expert, amateur, std::nullopt, topt);
  ASSERT_TRUE((t.support_size >= 1).all().item<bool>());

  torch::nn::Linear layer(torch::nn::LinearOptions(in, v));
  torch::optim::Adam opt(layer->parameters(), torch::optim::AdamOptions(0.1));

  std::vector<double> losses;
  for (int step = 0; step < 50; ++step) {
    opt.zero_grad();
    const at::Tensor logits = layer->forward(x);
    at::Tensor loss = lt::distill_loss(logits, t.ids, t.weights);  // mean over rows
    loss.backward();
    if (step == 0) {
      // the first gradient equals autograd of the composite loss, parameter by parameter
      const std::vector<at::Tensor> ours = {layer->weight.grad().clone(), layer->bias.grad().clone()};
      layer->zero_grad();
      at::Tensor ref = composite_loss(layer->forward(x), t.ids, t.weights, Red::Mean, 1.0);
      ref.backward();
      const double dw = (ours[0] - layer->weight.grad()).abs().max().item<double>();
      const double db = (ours[1] - layer->bias.grad()).abs().max().item<double>();
      std::cout << "[ train ] step 0: loss " << loss.item<double>() << " composite " << ref.item<double>()
                << ", max |dW - composite dW| = " << dw << ", max |db - composite db| = " << db << "\n";
      EXPECT_NEAR(loss.item<double>(), ref.item<double>(), 1e-5 * n);
      EXPECT_LT(dw, 1e-5);
      EXPECT_LT(db, 1e-5);
    }
    losses.push_back(loss.item<double>());
    opt.step();
  }

  const at::Tensor final_logits = layer->forward(x).detach();
  const double final_loss = lt::distill_loss(final_logits, t.ids, t.weights).item<double>();
  const double final_ref = composite_loss(final_logits, t.ids, t.weights, Red::Mean, 1.0).item<double>();
  std::cout << "[ train ] loss: step 0 " << losses.front() << ", step 10 " << losses[10] << ", step 25 "
            << losses[25] << ", step 49 " << losses.back() << ", after training " << final_loss
            << " (composite " << final_ref << ")\n";
  EXPECT_LT(final_loss, 0.2 * losses.front());
  for (size_t w = 1; w < 5; ++w) {
    double before = 0, now = 0;
    for (size_t i = 0; i < 10; ++i) {
      before += losses[10 * (w - 1) + i];
      now += losses[10 * w + i];
    }
    EXPECT_LT(now, before) << "10-step window " << w << " did not lower the mean loss";
  }
  EXPECT_NEAR(final_loss, final_ref, 1e-5 + 1e-4 * final_ref);
}

}  // namespace
