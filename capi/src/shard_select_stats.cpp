// lr_shard_select_stats: argument checks, then the CPU or CUDA kernel.
#include "cpu/shard_kernels.h"
#include "tensor_checks.h"

#ifdef LR_WITH_CUDA
#include "cuda/shard_kernels.h"
#endif

using namespace lr::capi;

extern "C" LR_API lr_status lr_shard_select_stats(const DLTensor* expert_shard, const DLTensor* amateur_shard,
                                                  const lr_vocab_shard* shard, const lr_select_params* params,
                                                  DLTensor* stats_out, void* stream) {
  return guarded("lr_shard_select_stats", [&] {
    require_not_null(expert_shard, "expert_shard");
    require_not_null(amateur_shard, "amateur_shard");
    require_not_null(stats_out, "stats_out");
    DeviceAgreement devices;
    devices.add("expert_shard", expert_shard);
    devices.add("amateur_shard", amateur_shard);
    devices.add("stats_out", stats_out);
    const Placement where = devices.require_supported();

    const lr_select_params p = read_params(params, lr_select_params_default(), "params");
    check_temperature(p.temperature, "params");
    const ShardPairInputs in = check_shard_pair(expert_shard, amateur_shard, shard, p.shared_vocab, "params");
    const int64_t n = in.expert.rows;
    const lr::core::RecordRows<double> stats =
        check_record_output<double>(stats_out, "stats_out", dl_float64(), n, lr::core::SelectStatsField::width);
    check_no_aliasing({byte_range(stats_out, "stats_out")}, {in.expert_range, in.amateur_range});

#ifdef LR_WITH_CUDA
    if (where.cuda) {
      lr::core::cuda::ShardSelectStatsJob job;
      job.expert = in.expert;
      job.amateur = in.amateur;
      job.cols = in.cols;
      job.temperature = p.temperature;
      job.stats = stats;
      lr::core::cuda::DeviceScope scope(where.device);
      lr::core::cuda::launch_shard_select_stats(job, stream);
      return;
    }
#endif
    (void)stream;
    (void)where;
    if (n > 0) lr::core::cpu::shard_select_stats(in.expert, in.amateur, in.cols, p.temperature, stats);
  });
}
