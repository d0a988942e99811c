// Stage 2 over at::Tensor: the distillation loss as a torch::autograd::Function.
//
// forward  one loss computation (LossCall: lr_distill_loss_backward, or the
//          sharded calls, grad_scale 1) writes the loss and the gradient
//          d loss / d logits into a fresh buffer of the logits' shape and dtype
//          (skipped when no gradient is wanted); the buffer is saved for
//          backward (and freed after it unless retain_graph). In place, the
//          buffer is the logits themselves: marked dirty and returned as a
//          second output (autograd's rule for a modified input), so autograd
//          refuses what still needs their old values.
// backward the saved gradient times grad_output: a 0-d scalar for Sum/Mean,
//          one factor per row ([N] -> [N, 1]) for None. grad_output is cast to
//          the logits' dtype first, so no [N, V] float32 temporary is made for
//          bfloat16/float16 logits (exact for float32 and for grad_output 1).
//          ids and weights get no gradient. In place, the product is
//          written where the gradient lies.
#include "adapter_common.h"
#include "loss_function.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/custom_function.h>

namespace lr::torch_adapter {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

lr_reduction to_lr(Reduction r) {
  switch (r) {
    case Reduction::None: return LR_REDUCTION_NONE;
    case Reduction::Sum: return LR_REDUCTION_SUM;
    case Reduction::Mean: return LR_REDUCTION_MEAN;
  }
  TORCH_CHECK(false, "lightreasoner: unknown LossOptions::reduction ", static_cast<int>(r));
}

class DistillLoss : public torch::autograd::Function<DistillLoss> {
 public:
  // reduction is an lr_reduction value; want_grad says whether to compute the
  // gradient, inplace whether over the logits. Returns {loss}, or {loss,
  // logits} in place.
  static variable_list forward(AutogradContext* ctx, const at::Tensor& logits, const at::Tensor& target_ids,
                               const at::Tensor& target_weights, int64_t reduction, double temperature,
                               bool want_grad, bool inplace, const detail::LossCall* call) {
    const int64_t n = logits.size(0);
    const auto loss_options = at::TensorOptions().dtype(at::kFloat).device(logits.device());
    at::Tensor loss = reduction == LR_REDUCTION_NONE ? at::empty({n}, loss_options) : at::empty({}, loss_options);
    inplace = inplace && want_grad;
    at::Tensor grad = inplace ? logits : want_grad ? at::empty(logits.sizes(), logits.options()) : at::Tensor();

    detail::DeviceScope scope(logits.device());
    DLTensorView z(logits, "logits"), ids(target_ids, "target_ids"), w(target_weights, "target_weights");
    DLTensorView out(loss, "loss");
    std::optional<DLTensorView> g;
    if (grad.defined()) g.emplace(grad, "grad_logits");
    lr_loss_params p = lr_loss_params_default();
    p.reduction = static_cast<lr_reduction>(reduction);
    p.grad_scale = 1.0f;
    p.temperature = static_cast<float>(temperature);
    (*call)(detail::LossCallArgs{logits, z.get(), ids.get(), w.get(), &p, out.get(), g ? g->get() : nullptr,
                                 scope.stream()});

    ctx->saved_data["reduction"] = reduction;
    ctx->saved_data["inplace"] = inplace;
    ctx->save_for_backward({grad});
    if (!inplace) return {loss};
    ctx->mark_dirty({logits});
    return {loss, logits};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor& grad = saved.at(0);
    const at::Tensor& go = grad_outputs.at(0);
    at::Tensor grad_logits;
    if (grad.defined() && go.defined()) {
      at::Tensor scale = go.to(grad.scalar_type());
      if (ctx->saved_data["reduction"].toInt() == LR_REDUCTION_NONE) scale = scale.unsqueeze(1);
      grad_logits = ctx->saved_data["inplace"].toBool() ? at::Tensor(grad).mul_(scale) : grad * scale;
    }
    // One entry per forward input: logits, ids, weights, reduction, temperature, want_grad, inplace, call.
    return {grad_logits, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor()};
  }
};

}  // namespace

namespace detail {

at::Tensor apply_loss_function(const at::Tensor& logits, const at::Tensor& target_ids,
                               const at::Tensor& target_weights, const LossOptions& options, const LossCall& call) {
  check_logits(logits, "logits");
  check_same_device(target_ids, "target_ids", logits.device());
  check_same_device(target_weights, "target_weights", logits.device());
  TORCH_CHECK(target_ids.dim() == 2 && target_ids.scalar_type() == at::kInt,
              "lightreasoner: target_ids must be int32 [N, K]; got ", target_ids.scalar_type(), " ",
              target_ids.sizes());
  TORCH_CHECK(target_weights.dim() == 2 && target_weights.scalar_type() == at::kFloat,
              "lightreasoner: target_weights must be float32 [N, K]; got ", target_weights.scalar_type(), " ",
              target_weights.sizes());
  const bool want_grad = at::GradMode::is_enabled() && logits.requires_grad();
  // Targets are data, not parameters: detach them so that autograd never asks for their gradient.
  return DistillLoss::apply(logits, target_ids, target_weights.detach(), static_cast<int64_t>(to_lr(options.reduction)),
                            static_cast<double>(options.temperature), want_grad, options.inplace, &call)
      .at(0);
}

}  // namespace detail

at::Tensor distill_loss(const at::Tensor& logits, const at::Tensor& target_ids, const at::Tensor& target_weights,
                        const LossOptions& options) {
  return detail::apply_loss_function(logits, target_ids, target_weights, options, [](const detail::LossCallArgs& a) {
    detail::check_status(lr_distill_loss_backward(a.logits_view, a.target_ids, a.target_weights, a.params, a.loss,
                                                  a.grad, a.stream),
                         "lr_distill_loss_backward");
  });
}

}  // namespace lr::torch_adapter
