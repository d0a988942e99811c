// Stage 2 on a vocabulary shard: the shared loss Function (loss_function.h)
// with lr_shard_loss_stats -> all-gather -> lr_shard_loss_backward as its
// computation.
#include "adapter_common.h"
#include "loss_function.h"
#include "shard_gather.h"

#include <ATen/ATen.h>

namespace lr::torch_adapter {

at::Tensor sharded_distill_loss(const at::Tensor& logits_shard, const at::Tensor& target_ids,
                                const at::Tensor& target_weights, c10d::ProcessGroup& group, int64_t column_offset,
                                int64_t vocab, const LossOptions& options) {
  lr_vocab_shard sh{};
  sh.struct_size = sizeof sh;
  sh.column_offset = column_offset;
  sh.expert_vocab = vocab;
  sh.amateur_vocab = vocab;  // ignored by the loss calls
  return detail::apply_loss_function(
      logits_shard, target_ids, target_weights, options, [&group, &sh](const detail::LossCallArgs& a) {
        at::Tensor mine = at::empty({a.logits.size(0), LR_SHARD_LOSS_STATS}, detail::on(a.logits, at::kDouble));
        DLTensorView mine_v(mine, "loss_stats");
        detail::check_status(lr_shard_loss_stats(a.logits_view, &sh, a.target_ids, a.target_weights, a.params,
                                                 mine_v.get(), a.stream),
                             "lr_shard_loss_stats");
        const at::Tensor all = detail::all_gather_records(group, mine);
        DLTensorView all_v(all, "gathered loss_stats");
        detail::check_status(lr_shard_loss_backward(a.logits_view, &sh, a.target_ids, a.target_weights, all_v.get(),
                                                    a.params, a.loss, a.grad, a.stream),
                             "lr_shard_loss_backward");
      });
}

}  // namespace lr::torch_adapter
