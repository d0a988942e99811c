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
//   sharded_select_and_build, sharded_distill_loss
//                     the same for logits sharded over the vocabulary across
//                     the ranks of a c10d::ProcessGroup (tensor parallel)
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

namespace c10d {
class ProcessGroup;  // torch/csrc/distributed/c10d/ProcessGroup.hpp
}  // namespace c10d

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
  // Write the gradient over the logits instead of a second [N, V] buffer (the
  // adapter's own option; the library allows grad_logits == logits). The
  // logits are marked dirty: autograd refuses a leaf that requires grad, any
  // graph that saved their old values, and a second backward. They hold the
  // gradient afterwards: do not retain_grad() them (1.13's hook throws).
  bool inplace = false;
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
// grad, only the loss is computed. With options.inplace the gradient is
// written over the logits (their values are gone after the call) and
// backward scales it where it lies.
at::Tensor distill_loss(const at::Tensor& logits, const at::Tensor& target_ids,
                        const at::Tensor& target_weights, const LossOptions& options = {});

// ------------------------------------------------------------ logits sharded over the vocabulary
//
// For tensor-parallel trainers (Megatron-style): every rank of `group` holds
// the columns [column_offset, column_offset + width) of each model's logits,
// for the same rows. Each call below runs the library's partial call on the
// rank's shard, ALL-GATHERS the small per-row records over `group`
// (ProcessGroup::allgather into [W, rows, width], in rank order), and runs the
// finish call: every rank gets the result the unsharded call gives on the full
// logits (see "ABI 1.1" in lightreasoner.h for the records and the
// contract). Every rank of the group must make the same calls in the same
// order, as with any collective. Records are float64 / float32 tensors on the
// logits' device: a Gloo group for CPU tensors, NCCL for CUDA ones (c10d orders
// the collective after the current stream's work and the current stream after
// it; nothing waits for the GPU except where stated).

// Where this rank's shard lies in the full vocabulary (lr_vocab_shard).
struct VocabShard {
  int64_t column_offset = 0;  // v0: the global id of the shard's column 0
  int64_t expert_vocab = 0;   // Ve: the expert's full width (all shards together)
  int64_t amateur_vocab = 0;  // Va: the amateur's full width
};

// Which rows sharded_select_and_build builds targets for.
enum class TargetRows {
  Kept,  // the rows whose keep flag is set (one device-to-host copy: their number)
  All    // every row, kept or not (as build_targets without rows)
};

struct ShardedStage1Result {
  SelectResult select;   // kl, keep [N]: as select_steps on the full logits
  at::Tensor rows;       // int64 [M]: the rows `targets` are for, ascending
  TargetResult targets;  // [M, K], global ids: as build_targets(full logits, rows)
};

// Stage 1 on a shard, two all-gathers over `group`:
//   lr_shard_select_stats -> all-gather [W, N, 6] float64 -> lr_shard_select_finish (kl, keep)
//   lr_shard_target_candidates -> all-gather [W, M, 1 + 3K] float32 -> lr_shard_targets_finish
// expert_shard [N, Ve_r], amateur_shard [N, Va_r]: the same columns of the shared
// vocabulary (they may differ only past it), both starting at column_offset
// (so a shard must start within both models' widths). Bytes a rank sends per
// row: 48, then 4 (1 + 3K) per target row. select/target must agree on
// temperature and shared_vocab (a c10::Error otherwise). The second all-gather
// is skipped (on every rank) when M = 0.
ShardedStage1Result sharded_select_and_build(const at::Tensor& expert_shard, const at::Tensor& amateur_shard,
                                             c10d::ProcessGroup& group, const VocabShard& shard,
                                             const SelectOptions& select = {}, const TargetOptions& target = {},
                                             TargetRows rows = TargetRows::Kept);

// The distillation loss on a shard of the trained model's logits, as an
// autograd op like distill_loss:
//   logits_shard    [N, V_r], the columns [column_offset, column_offset + V_r)
//                   of logits [N, vocab]; may require grad
//   target_ids      [N, K] int32 global ids, target_weights [N, K] float32: the
//                   full targets, the same on every rank
// forward: lr_shard_loss_stats -> all-gather [W, N, 4] float64 (32 bytes per
// row and rank) -> lr_shard_loss_backward, which writes the loss (the same on
// every rank: the whole rows' loss, as distill_loss on the full logits) and
// the gradient of the shard's own columns, saved for backward (or written
// over the shard with options.inplace, as for distill_loss). backward scales
// the saved shard gradient by grad_output, with no collective. The loss is
// replicated, not partial: do not sum it over the ranks.
at::Tensor sharded_distill_loss(const at::Tensor& logits_shard, const at::Tensor& target_ids,
                                const at::Tensor& target_weights, c10d::ProcessGroup& group, int64_t column_offset,
                                int64_t vocab, const LossOptions& options = {});

// ------------------------------------------------------------ DLPack view

// A DLTensor describing a tensor's storage, without copying: data_ptr, sizes,
// strides, dtype (float32, float64, bfloat16, float16, int32, int64, uint8;
// bool is described as uint8) and device (CPU, or CUDA with its index). At
// most three dimensions (the sharded calls' gathered records are 3-D). The tensor must outlive the view; `name` is used in messages.
class DLTensorView {
 public:
  DLTensorView(const at::Tensor& t, const char* name);
  DLTensorView(const DLTensorView&) = delete;  // tensor_ points into this object
  DLTensorView& operator=(const DLTensorView&) = delete;
  DLTensor* get() { return &tensor_; }
  const DLTensor* get() const { return &tensor_; }

 private:
  DLTensor tensor_{};
  std::array<int64_t, 3> shape_{};
  std::array<int64_t, 3> strides_{};
};

}  // namespace lr::torch_adapter
