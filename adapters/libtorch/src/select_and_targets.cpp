// Stage 1 over at::Tensor: select_steps, build_targets, select_and_build.
// Outputs are allocated on the logits' device; the library writes them in place.
#include "adapter_common.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

namespace lr::torch_adapter {

using detail::check_k;
using detail::check_pair;
using detail::check_same_device;
using detail::check_status;
using detail::DeviceScope;
using detail::on;
using detail::select_params;
using detail::target_params;

SelectResult select_steps(const at::Tensor& expert, const at::Tensor& amateur, const SelectOptions& options) {
  check_pair(expert, amateur);
  at::NoGradGuard no_grad;
  const int64_t n = expert.size(0);
  SelectResult r{at::empty({n}, on(expert, at::kFloat)), at::empty({n}, on(expert, at::kBool))};
  DeviceScope scope(expert.device());
  DLTensorView e(expert, "expert_logits"), a(amateur, "amateur_logits");
  DLTensorView kl(r.kl, "kl"), keep(r.keep, "keep");
  const lr_select_params p = select_params(options);
  check_status(lr_select_steps(e.get(), a.get(), &p, kl.get(), keep.get(), scope.stream()), "lr_select_steps");
  return r;
}

TargetResult build_targets(const at::Tensor& expert, const at::Tensor& amateur,
                           const std::optional<at::Tensor>& rows, const TargetOptions& options) {
  check_pair(expert, amateur);
  check_k(options.k);
  at::NoGradGuard no_grad;
  at::Tensor row_index;
  int64_t m = expert.size(0);
  if (rows.has_value() && rows->defined()) {
    check_same_device(*rows, "rows", expert.device());
    TORCH_CHECK(rows->dim() == 1, "lightreasoner: rows must be 1-D [M]; got ", rows->sizes());
    TORCH_CHECK(rows->scalar_type() == at::kLong || rows->scalar_type() == at::kInt,
                "lightreasoner: rows has dtype ", rows->scalar_type(), "; expected int64 (or int32)");
    row_index = rows->scalar_type() == at::kLong ? *rows : rows->to(at::kLong);  // [M] only
    m = row_index.size(0);
  }
  TargetResult r{at::empty({m, options.k}, on(expert, at::kInt)), at::empty({m, options.k}, on(expert, at::kFloat)),
                 at::empty({m}, on(expert, at::kInt))};
  DeviceScope scope(expert.device());
  DLTensorView e(expert, "expert_logits"), a(amateur, "amateur_logits");
  DLTensorView ids(r.ids, "target_ids"), w(r.weights, "target_weights"), sup(r.support_size, "support_size");
  const lr_target_params p = target_params(options);
  if (row_index.defined()) {
    DLTensorView rv(row_index, "rows");
    check_status(lr_build_targets(e.get(), a.get(), rv.get(), &p, ids.get(), w.get(), sup.get(), scope.stream()),
                 "lr_build_targets");
  } else {
    check_status(lr_build_targets(e.get(), a.get(), nullptr, &p, ids.get(), w.get(), sup.get(), scope.stream()),
                 "lr_build_targets");
  }
  return r;
}

FusedResult select_and_build(const at::Tensor& expert, const at::Tensor& amateur, const SelectOptions& select,
                             const TargetOptions& target) {
  check_pair(expert, amateur);
  check_k(target.k);
  at::NoGradGuard no_grad;
  const int64_t n = expert.size(0);
  FusedResult r{at::empty({n}, on(expert, at::kFloat)), at::empty({n}, on(expert, at::kBool)),
                at::empty({n, target.k}, on(expert, at::kInt)), at::empty({n, target.k}, on(expert, at::kFloat)),
                at::empty({n}, on(expert, at::kInt))};
  DeviceScope scope(expert.device());
  DLTensorView e(expert, "expert_logits"), a(amateur, "amateur_logits");
  DLTensorView kl(r.kl, "kl"), keep(r.keep, "keep");
  DLTensorView ids(r.ids, "target_ids"), w(r.weights, "target_weights"), sup(r.support_size, "support_size");
  const lr_select_params sp = select_params(select);
  const lr_target_params tp = target_params(target);
  check_status(lr_select_and_build(e.get(), a.get(), &sp, &tp, kl.get(), keep.get(), ids.get(), w.get(), sup.get(),
                                   scope.stream()),
               "lr_select_and_build");
  return r;
}

}  // namespace lr::torch_adapter
