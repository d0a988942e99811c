// lightreasoner/torch.h: the LibTorch adapter over liblightreasoner (lr_torch).
//
// at::Tensor in, at::Tensor out; the C library does the work on the tensors'
// own storage (no copy of any [N, V] tensor is ever made).
//
//   select_steps      KL(p_E || p_A) per row and the kappa-filter
//   build_targets     the contrastive sparse targets (ids, weights, support size)
//   select_and_build  both in one pass over the logits
//   distill_loss      KL(v || softmax(z)) as an autograd op: loss.backward()
//                     gives d loss / d logits; no gradient for the targets
//
// Conventions (see capi/include/lightreasoner/lightreasoner.h for the math):
// - Logits are 2-D [rows, vocab], float32 / bfloat16 / float16, on the CPU or
//   a CUDA device, contiguous or a row-strided view (x.narrow(1, 0, V) of a
//   wider tensor works). The stride along the vocabulary must be 1: a view with
//   another vocabulary stride is rejected with a c10::Error that says to call
//   .contiguous() (the adapter never copies logits behind your back).
// - Outputs are allocated on the inputs' device. On CUDA the calls run on the
//   current CUDA stream of that device (c10::cuda::getCurrentCUDAStream) under
//   a device guard, asynchronously, like any ATen op.
// - Every failure is a c10::Error (TORCH_CHECK) whose message carries the
//   library's status name and lr_last_error(), e.g. a beta outside (0, 1].
// - Faults in the data (NaN, +Inf, all -Inf rows) are reported per row as the
//   C library does (kl NaN, keep false, support_size -1, loss NaN).
#pragma once

#include <ATen/core/Tensor.h>
#include <dlpack/dlpack.h>
#include <lightreasoner/lightreasoner.h>

#include <array>
#include <cstdint>
#include <optional>

namespace lr::torch_adapter {

// ------------------------------------------------------------ options
//
// Every default but TargetOptions::k is the library's, read from it whenever
// an options object is made (lr_*_params_default(); the header documents
// kappa 0.4, beta 0.2, temperature 1, shared_vocab 0, MEAN): none is restated.

struct SelectOptions {
  float kl_threshold = lr_select_params_default().kl_threshold;    // kappa: keep a row iff KL > kappa
  float temperature = lr_select_params_default().temperature;      // logits are divided by it before the softmax
  int64_t shared_vocab = lr_select_params_default().shared_vocab;  // ids the two models share; 0 = min(Ve, Va)
};

struct TargetOptions {
  // Target slots per row (K >= 1); truncation is reported by support_size.
  // The adapter's own default: K sizes the outputs, so the library has none.
  int64_t k = 8;
  float beta = lr_target_params_default().beta;  // support {a : p_E(a) >= beta * max p_E}; in (0, 1]
  float temperature = lr_target_params_default().temperature;
  int64_t shared_vocab = lr_target_params_default().shared_vocab;
};

// The values are lr_reduction's, so the library's default converts directly.
enum class Reduction { None = LR_REDUCTION_NONE, Sum = LR_REDUCTION_SUM, Mean = LR_REDUCTION_MEAN };

struct LossOptions {
  // None: loss [N]; Sum/Mean: 0-d (Mean over counted rows).
  Reduction reduction = static_cast<Reduction>(lr_loss_params_default().reduction);
  float temperature = lr_loss_params_default().temperature;  // the model's logits are divided by it
};

// ------------------------------------------------------------ results

struct SelectResult {
  at::Tensor kl;    // float32 [N]
  at::Tensor keep;  // bool [N]: kl > kappa
};

struct TargetResult {
  at::Tensor ids;           // int32 [M, K], -1 = padding
  at::Tensor weights;       // float32 [M, K], 0 = padding, descending
  at::Tensor support_size;  // int32 [M]: |support| before truncation to K; -1 = data fault
};

struct FusedResult {
  at::Tensor kl;            // float32 [N]
  at::Tensor keep;          // bool [N]
  at::Tensor ids;           // int32 [N, K]; rows not kept are padding
  at::Tensor weights;       // float32 [N, K]
  at::Tensor support_size;  // int32 [N]; 0 for rows not kept
};

// ------------------------------------------------------------ stage 1

// expert [N, Ve], amateur [N, Va], same device.
SelectResult select_steps(const at::Tensor& expert, const at::Tensor& amateur,
                          const SelectOptions& options = {});

// rows: optional [M] row indices (int64, or int32 which is widened), on the
// logits' device; std::nullopt means all N rows.
TargetResult build_targets(const at::Tensor& expert, const at::Tensor& amateur,
                           const std::optional<at::Tensor>& rows = std::nullopt,
                           const TargetOptions& options = {});

// One pass: KL, keep flags, and targets for the kept rows (all N rows returned).
// select.temperature/target.temperature and the two shared_vocab must agree.
FusedResult select_and_build(const at::Tensor& expert, const at::Tensor& amateur,
                             const SelectOptions& select = {}, const TargetOptions& target = {});

// ------------------------------------------------------------ stage 2

// The distillation loss KL(v || softmax(logits / T)) as a differentiable op.
//   logits          [N, V] float32/bfloat16/float16, any device; may require grad
//   target_ids      [N, K] int32 (-1 = padding), same device
//   target_weights  [N, K] float32, same device
// Returns float32: [N] for Reduction::None, 0-d otherwise. The forward pass
// computes loss and gradient in one call (lr_distill_loss_backward) and keeps
// the gradient ([N, V], the logits' dtype, freed after backward unless
// retain_graph); backward returns it times grad_output (per row for None),
// with grad_output rounded to the logits' dtype first (exact for float32 and
// for grad_output 1; for bf16/f16 it avoids a float32 [N, V] temporary).
// ids and weights get no gradient. Without grad mode or a logits that requires
// grad, only the loss is computed.
at::Tensor distill_loss(const at::Tensor& logits, const at::Tensor& target_ids,
                        const at::Tensor& target_weights, const LossOptions& options = {});

// ------------------------------------------------------------ DLPack view

// A DLTensor describing a tensor's storage, without copying: data_ptr, sizes,
// strides, dtype (float32, bfloat16, float16, int32, int64, uint8; bool is
// described as uint8) and device (CPU, or CUDA with its index). At most two
// dimensions. The tensor must outlive the view; `name` is used in messages.
class DLTensorView {
 public:
  DLTensorView(const at::Tensor& t, const char* name);
  DLTensorView(const DLTensorView&) = delete;  // tensor_ points into this object
  DLTensorView& operator=(const DLTensorView&) = delete;
  DLTensor* get() { return &tensor_; }
  const DLTensor* get() const { return &tensor_; }

 private:
  DLTensor tensor_{};
  std::array<int64_t, 2> shape_{};
  std::array<int64_t, 2> strides_{};
};

}  // namespace lr::torch_adapter
