// The autograd Function shared by distill_loss and sharded_distill_loss: they
// differ only in the library calls that write the loss and the gradient.
#pragma once

#include <lightreasoner/lightreasoner.h>
#include <lightreasoner/torch.h>

#include <functional>

namespace lr::torch_adapter::detail {

// What a loss computation gets: the logits (as a tensor, for allocating on its
// device, and as a view), the targets, the parameters (grad_scale 1), the
// outputs (grad NULL when no gradient is wanted) and the stream.
struct LossCallArgs {
  const at::Tensor& logits;
  const DLTensor* logits_view;
  const DLTensor* target_ids;
  const DLTensor* target_weights;
  const lr_loss_params* params;
  DLTensor* loss;
  DLTensor* grad;
  void* stream;
};

// Writes args.loss and, if args.grad, args.grad; throws c10::Error on failure.
using LossCall = std::function<void(const LossCallArgs& args)>;

// Checks the targets, runs `call` once in the forward pass (the gradient
// saved, or written over the logits with options.inplace, or not computed
// without grad mode or a logits requiring grad) and returns the loss as a
// differentiable function of logits.
at::Tensor apply_loss_function(const at::Tensor& logits, const at::Tensor& target_ids,
                               const at::Tensor& target_weights, const LossOptions& options, const LossCall& call);

}  // namespace lr::torch_adapter::detail
