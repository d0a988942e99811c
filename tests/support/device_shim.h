// The suites call the library through these wrappers. By default they are
// the C entry points themselves; with LR_TEST_DEVICE=cuda (in a build that
// has CUDA) every call runs on the GPU instead: host tensors are copied to
// device memory (overlapping tensors share one device buffer, so aliasing
// and in-place calls mean the same there), the call runs on a non-default
// stream of the shim's own, and everything is copied back after the stream
// synchronises. The same assertions then check the CUDA kernels.
#pragma once

#include <lightreasoner/lightreasoner.h>

namespace lrtest {

// True when the suites are sending their calls to the GPU.
bool on_cuda();

lr_status select_steps(const DLTensor* expert_logits, const DLTensor* amateur_logits, const lr_select_params* params,
                       DLTensor* kl_out, DLTensor* keep_out, void* stream);
lr_status build_targets(const DLTensor* expert_logits, const DLTensor* amateur_logits, const DLTensor* rows,
                        const lr_target_params* params, DLTensor* target_ids, DLTensor* target_weights,
                        DLTensor* support_size, void* stream);
lr_status select_and_build(const DLTensor* expert_logits, const DLTensor* amateur_logits,
                           const lr_select_params* select_params, const lr_target_params* target_params,
                           DLTensor* kl_out, DLTensor* keep_out, DLTensor* target_ids, DLTensor* target_weights,
                           DLTensor* support_size, void* stream);
lr_status distill_loss_backward(const DLTensor* logits, const DLTensor* target_ids, const DLTensor* target_weights,
                                const lr_loss_params* params, DLTensor* loss_out, DLTensor* grad_logits,
                                void* stream);

// ABI 1.1: the vocabulary-sharded calls.
lr_status shard_select_stats(const DLTensor* expert_shard, const DLTensor* amateur_shard, const lr_vocab_shard* shard,
                             const lr_select_params* params, DLTensor* stats_out, void* stream);
lr_status shard_select_finish(const DLTensor* stats, const lr_select_params* params, DLTensor* kl_out,
                              DLTensor* keep_out, void* stream);
lr_status shard_target_candidates(const DLTensor* expert_shard, const DLTensor* amateur_shard,
                                  const lr_vocab_shard* shard, const DLTensor* stats, const DLTensor* rows,
                                  const lr_target_params* params, DLTensor* candidates_out, void* stream);
lr_status shard_targets_finish(const DLTensor* candidates, const lr_target_params* params, DLTensor* target_ids,
                               DLTensor* target_weights, DLTensor* support_size, void* stream);
lr_status shard_loss_stats(const DLTensor* logits_shard, const lr_vocab_shard* shard, const DLTensor* target_ids,
                           const DLTensor* target_weights, const lr_loss_params* params, DLTensor* stats_out,
                           void* stream);
lr_status shard_loss_backward(const DLTensor* logits_shard, const lr_vocab_shard* shard, const DLTensor* target_ids,
                              const DLTensor* target_weights, const DLTensor* stats, const lr_loss_params* params,
                              DLTensor* loss_out, DLTensor* grad_logits, void* stream);

}  // namespace lrtest
