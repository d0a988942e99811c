// Stage 1 on a vocabulary shard: partial call, all-gather, finish, twice
// (select stats -> kl, keep; target candidates -> targets).
#include "adapter_common.h"
#include "shard_gather.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

namespace lr::torch_adapter {

namespace {

using detail::check_status;
using detail::on;

lr_vocab_shard vocab_shard(const VocabShard& s) {
  lr_vocab_shard v{};
  v.struct_size = sizeof v;
  v.column_offset = s.column_offset;
  v.expert_vocab = s.expert_vocab;
  v.amateur_vocab = s.amateur_vocab;
  return v;
}

// The rows to build targets for: the kept ones (their count comes to the host
// here, since it sizes the next collective), or all.
at::Tensor target_rows(const at::Tensor& keep, TargetRows which) {
  if (which == TargetRows::All) return at::arange(keep.size(0), on(keep, at::kLong));
  return keep.nonzero().squeeze(1);  // int64, ascending
}

}  // namespace

ShardedStage1Result sharded_select_and_build(const at::Tensor& expert_shard, const at::Tensor& amateur_shard,
                                             c10d::ProcessGroup& group, const VocabShard& shard,
                                             const SelectOptions& select, const TargetOptions& target,
                                             TargetRows which) {
  detail::check_pair(expert_shard, amateur_shard);
  detail::check_k(target.k);
  // The targets' partial call reads the select stats: both must be of the same softmax.
  TORCH_CHECK(select.temperature == target.temperature && select.shared_vocab == target.shared_vocab,
              "lightreasoner: SelectOptions and TargetOptions must agree on temperature and shared_vocab; got ",
              select.temperature, " / ", target.temperature, " and ", select.shared_vocab, " / ",
              target.shared_vocab);
  at::NoGradGuard no_grad;
  const int64_t n = expert_shard.size(0), k = target.k;
  const lr_vocab_shard sh = vocab_shard(shard);
  const lr_select_params sp = detail::select_params(select);
  const lr_target_params tp = detail::target_params(target);
  detail::DeviceScope scope(expert_shard.device());
  DLTensorView e(expert_shard, "expert_shard"), a(amateur_shard, "amateur_shard");

  at::Tensor my_stats = at::empty({n, LR_SHARD_SELECT_STATS}, on(expert_shard, at::kDouble));
  DLTensorView my_stats_v(my_stats, "select_stats");
  check_status(lr_shard_select_stats(e.get(), a.get(), &sh, &sp, my_stats_v.get(), scope.stream()),
               "lr_shard_select_stats");
  const at::Tensor stats = detail::all_gather_records(group, my_stats);
  DLTensorView stats_v(stats, "gathered select_stats");

  ShardedStage1Result r;
  r.select = {at::empty({n}, on(expert_shard, at::kFloat)), at::empty({n}, on(expert_shard, at::kBool))};
  DLTensorView kl(r.select.kl, "kl"), keep(r.select.keep, "keep");
  check_status(lr_shard_select_finish(stats_v.get(), &sp, kl.get(), keep.get(), scope.stream()),
               "lr_shard_select_finish");

  r.rows = target_rows(r.select.keep, which);
  const int64_t m = r.rows.size(0);
  r.targets = {at::empty({m, k}, on(expert_shard, at::kInt)), at::empty({m, k}, on(expert_shard, at::kFloat)),
               at::empty({m}, on(expert_shard, at::kInt))};
  if (m == 0) return r;  // the same on every rank: keep is identical everywhere

  at::Tensor my_cands = at::empty({m, LR_SHARD_CANDIDATES(k)}, on(expert_shard, at::kFloat));
  DLTensorView rows_v(r.rows, "rows"), my_cands_v(my_cands, "candidates");
  check_status(lr_shard_target_candidates(e.get(), a.get(), &sh, stats_v.get(), rows_v.get(), &tp, my_cands_v.get(),
                                          scope.stream()),
               "lr_shard_target_candidates");
  const at::Tensor cands = detail::all_gather_records(group, my_cands);
  DLTensorView cands_v(cands, "gathered candidates");
  DLTensorView ids(r.targets.ids, "target_ids"), w(r.targets.weights, "target_weights"),
      sup(r.targets.support_size, "support_size");
  check_status(lr_shard_targets_finish(cands_v.get(), &tp, ids.get(), w.get(), sup.get(), scope.stream()),
               "lr_shard_targets_finish");
  return r;
}

}  // namespace lr::torch_adapter
