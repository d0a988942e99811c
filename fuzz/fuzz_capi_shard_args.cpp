// The argument checks of the ABI 1.1 calls for logits sharded over the
// vocabulary (lr_shard_*): arbitrary DLTensor descriptors, lr_vocab_shard
// placements (offsets and widths of any size, a NULL or short struct) and
// params, with the properties of fuzz_capi_args.cpp: the sanitizers, no
// exception across the boundary, a failed call names its fault on one line
// and leaves every output untouched.
#include <memory>
#include <string>
#include <vector>

#include "dl_tensor_inputs.h"
#include "fuzz_targets.h"

namespace lr::fuzz {
namespace {

// NULL, a small placement, or every field from the input.
std::unique_ptr<lr_vocab_shard> shard_from(ByteReader& in) {
  const uint8_t m = in.take<uint8_t>() % 4;
  if (m == 0) return nullptr;
  auto s = std::make_unique<lr_vocab_shard>();
  if (m == 1) {
    *s = {sizeof(lr_vocab_shard), small_or_raw(in), small_or_raw(in), small_or_raw(in)};
    return s;
  }
  *s = in.take<lr_vocab_shard>();
  if (m == 2) s->struct_size = sizeof(lr_vocab_shard);
  return s;
}

}  // namespace

int capi_shard_args(const uint8_t* data, size_t size) {
  ByteReader in(data, size);
  const int op = in.below(6);
  Tensor t[6];
  for (Tensor& x : t)
    if (!decode_tensor(in, x)) return -1;
  const auto shard = shard_from(in);
  const auto select = params_from(in, lr_select_params_default());
  const auto target = params_from(in, lr_target_params_default());
  const auto loss = params_from(in, lr_loss_params_default());
  const bool in_place = in.flag();
  fill({&t[0], &t[1], &t[2], &t[3], &t[4], &t[5]}, in.rest());

  auto call = [](std::vector<Tensor*> outputs, auto&& fn) {
    const auto before = snapshot(outputs);
    check_outcome(fn(), outputs, before);
  };
  switch (op) {
    case 0:
      call({&t[2]}, [&] { return lr_shard_select_stats(t[0].get(), t[1].get(), shard.get(), select.get(), t[2].get(), nullptr); });
      break;
    case 1:
      call({&t[1], &t[2]}, [&] { return lr_shard_select_finish(t[0].get(), select.get(), t[1].get(), t[2].get(), nullptr); });
      break;
    case 2:
      call({&t[4]}, [&] {
        return lr_shard_target_candidates(t[0].get(), t[1].get(), shard.get(), t[2].get(), t[3].get(), target.get(),
                                          t[4].get(), nullptr);
      });
      break;
    case 3:
      call({&t[1], &t[2], &t[3]}, [&] {
        return lr_shard_targets_finish(t[0].get(), target.get(), t[1].get(), t[2].get(), t[3].get(), nullptr);
      });
      break;
    case 4:
      call({&t[3]}, [&] {
        return lr_shard_loss_stats(t[0].get(), shard.get(), t[1].get(), t[2].get(), loss.get(), t[3].get(), nullptr);
      });
      break;
    default: {
      Tensor* grad = in_place ? &t[0] : &t[5];
      call({&t[4], grad}, [&] {
        return lr_shard_loss_backward(t[0].get(), shard.get(), t[1].get(), t[2].get(), t[3].get(), loss.get(),
                                      t[4].get(), grad->get(), nullptr);
      });
    }
  }
  return 0;
}

}  // namespace lr::fuzz
