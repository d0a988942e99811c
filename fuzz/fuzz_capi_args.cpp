// The C ABI's argument checks: arbitrary DLTensor descriptors (ndim, shape,
// strides, dtype, device, byte_offset, NULLs, in-place gradients) and params
// structs for lr_select_steps, lr_build_targets, lr_select_and_build and
// lr_distill_loss_backward. Each tensor is backed by a buffer exactly as large
// as it declares (so ASan flags any byte the library touches beyond it); its
// contents are the input's tail, NaNs and Infs included. Properties checked
// besides the sanitizers: no exception crosses the boundary, a failed call
// names its fault on one line and leaves every output untouched.
#include <string>
#include <vector>

#include "dl_tensor_inputs.h"
#include "fuzz_targets.h"

namespace lr::fuzz {

int capi_args(const uint8_t* data, size_t size) {
  ByteReader in(data, size);
  const int op = in.below(4);
  Tensor t[7];
  for (Tensor& x : t)
    if (!decode_tensor(in, x)) return -1;
  auto select = params_from(in, lr_select_params_default());
  auto target = params_from(in, lr_target_params_default());
  auto loss = params_from(in, lr_loss_params_default());
  const bool in_place = in.flag();
  fill({&t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6]}, in.rest());

  std::vector<Tensor*> outputs;
  lr_status s = LR_OK;
  auto snapshot_of = [&](std::vector<Tensor*> outs) {
    outputs = outs;
    return snapshot(outs);
  };
  if (op == 0) {
    const auto before = snapshot_of({&t[2], &t[3]});
    s = lr_select_steps(t[0].get(), t[1].get(), select.get(), t[2].get(), t[3].get(), nullptr);
    check_outcome(s, outputs, before);
  } else if (op == 1) {
    const auto before = snapshot_of({&t[3], &t[4], &t[5]});
    s = lr_build_targets(t[0].get(), t[1].get(), t[2].get(), target.get(), t[3].get(), t[4].get(), t[5].get(),
                         nullptr);
    check_outcome(s, outputs, before);
  } else if (op == 2) {
    const auto before = snapshot_of({&t[2], &t[3], &t[4], &t[5], &t[6]});
    s = lr_select_and_build(t[0].get(), t[1].get(), select.get(), target.get(), t[2].get(), t[3].get(),
                            t[4].get(), t[5].get(), t[6].get(), nullptr);
    check_outcome(s, outputs, before);
  } else {
    DLTensor* grad = in_place ? t[0].get() : t[4].get();
    const auto before = snapshot_of(in_place ? std::vector<Tensor*>{&t[3], &t[0]} : std::vector<Tensor*>{&t[3], &t[4]});
    s = lr_distill_loss_backward(t[0].get(), t[1].get(), t[2].get(), loss.get(), t[3].get(), grad, nullptr);
    check_outcome(s, outputs, before);
  }
  return 0;
}

}  // namespace lr::fuzz
