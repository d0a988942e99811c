// lr_shard_loss_stats: argument checks (every target id and weight on the
// host; on CUDA the kernel checks them), then the CPU or CUDA kernel.
#include "cpu/shard_kernels.h"
#include "tensor_checks.h"

#ifdef LR_WITH_CUDA
#include "cuda/shard_kernels.h"
#endif

using namespace lr::capi;

extern "C" LR_API lr_status lr_shard_loss_stats(const DLTensor* logits_shard, const lr_vocab_shard* shard,
                                                const DLTensor* target_ids, const DLTensor* target_weights,
                                                const lr_loss_params* params, DLTensor* stats_out, void* stream) {
  return guarded("lr_shard_loss_stats", [&] {
    require_not_null(logits_shard, "logits_shard");
    require_not_null(target_ids, "target_ids");
    require_not_null(target_weights, "target_weights");
    require_not_null(stats_out, "stats_out");
    DeviceAgreement devices;
    devices.add("logits_shard", logits_shard);
    devices.add("target_ids", target_ids);
    devices.add("target_weights", target_weights);
    devices.add("stats_out", stats_out);
    const Placement where = devices.require_supported();

    const lr_loss_params p = read_params(params, lr_loss_params_default(), "params");
    check_loss_params(p);
    const LossShardInputs in = check_loss_shard(logits_shard, shard);
    const int64_t n = in.z.rows;
    const lr::core::cpu::SparseTargets targets = check_sparse_targets(target_ids, target_weights, n);
    const lr::core::RecordRows<double> stats =
        check_record_output<double>(stats_out, "stats_out", dl_float64(), n, lr::core::LossStatsField::width);
    check_no_aliasing({byte_range(stats_out, "stats_out")},
                      {byte_range(logits_shard, "logits_shard"), byte_range(target_ids, "target_ids"),
                       byte_range(target_weights, "target_weights")});

#ifdef LR_WITH_CUDA
    if (where.cuda) {
      check_cuda_target_slots(targets.k, "target_ids");
      lr::core::cuda::ShardLossStatsJob job;
      job.logits = in.z;
      job.cols = in.cols;
      job.k = targets.k;
      job.ids = targets.ids;
      job.weights = targets.weights;
      job.temperature = p.temperature;
      job.stats = stats;
      lr::core::cuda::DeviceScope scope(where.device);
      lr::core::cuda::launch_shard_loss_stats(job, stream);
      return;
    }
#endif
    (void)stream;
    (void)where;
    check_target_entries(targets, n, in.full_vocab);
    if (n > 0) lr::core::cpu::shard_loss_stats(in.z, in.cols, targets, p.temperature, stats);
  });
}
