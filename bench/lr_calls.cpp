#include "lr_calls.h"

#include <lightreasoner/lightreasoner.h>

#include <stdexcept>
#include <string>

#include "dl_tensor_view.h"

namespace lrbench {
namespace {

void check(lr_status s, const char* what) {
  if (s != LR_OK)
    throw std::runtime_error(std::string(what) + ": " + lr_status_string(s) + ": " +
                             lr_last_error());
}

}  // namespace

LrTargetsOut alloc_targets(int64_t rows, int64_t k) {
  return LrTargetsOut{at::full({rows, k}, -2, at::kInt), at::zeros({rows, k}, at::kFloat),
                      at::zeros({rows}, at::kInt)};
}

void lr_select(const at::Tensor& expert, const at::Tensor& amateur, float kappa, at::Tensor& kl,
               at::Tensor& keep) {
  lr_select_params p = lr_select_params_default();
  p.kl_threshold = kappa;
  DLTensorView e(expert), a(amateur), k(kl), f(keep);
  check(lr_select_steps(e.get(), a.get(), &p, k.get(), f.get(), nullptr), "lr_select_steps");
}

void lr_targets(const at::Tensor& expert, const at::Tensor& amateur, float beta,
                LrTargetsOut& out) {
  lr_target_params p = lr_target_params_default();
  p.beta = beta;
  DLTensorView e(expert), a(amateur), ids(out.ids), w(out.weights), s(out.support);
  check(lr_build_targets(e.get(), a.get(), nullptr, &p, ids.get(), w.get(), s.get(), nullptr),
        "lr_build_targets");
}

void lr_fused(const at::Tensor& expert, const at::Tensor& amateur, float kappa, float beta,
              at::Tensor& kl, at::Tensor& keep, LrTargetsOut& out) {
  lr_select_params sp = lr_select_params_default();
  sp.kl_threshold = kappa;
  lr_target_params tp = lr_target_params_default();
  tp.beta = beta;
  DLTensorView e(expert), a(amateur), k(kl), f(keep), ids(out.ids), w(out.weights),
      s(out.support);
  check(lr_select_and_build(e.get(), a.get(), &sp, &tp, k.get(), f.get(), ids.get(), w.get(),
                            s.get(), nullptr),
        "lr_select_and_build");
}

void lr_loss(const at::Tensor& logits, const at::Tensor& ids, const at::Tensor& weights,
             at::Tensor& loss, at::Tensor& grad) {
  lr_loss_params p = lr_loss_params_default();
  p.reduction = LR_REDUCTION_MEAN;
  DLTensorView z(logits), i(ids), w(weights), l(loss);
  if (grad.is_same(logits)) {
    // The same DLTensor for both: the documented in-place form.
    check(lr_distill_loss_backward(z.get(), i.get(), w.get(), &p, l.get(), z.get(), nullptr),
          "lr_distill_loss_backward (in place)");
  } else {
    DLTensorView g(grad);
    check(lr_distill_loss_backward(z.get(), i.get(), w.get(), &p, l.get(), g.get(), nullptr),
          "lr_distill_loss_backward");
  }
}

}  // namespace lrbench
