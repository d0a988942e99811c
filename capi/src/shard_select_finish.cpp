// lr_shard_select_finish: argument checks, then the CPU or CUDA kernel.
#include <cmath>

#include "cpu/shard_kernels.h"
#include "tensor_checks.h"

#ifdef LR_WITH_CUDA
#include "cuda/shard_kernels.h"
#endif

using namespace lr::capi;

extern "C" LR_API lr_status lr_shard_select_finish(const DLTensor* stats, const lr_select_params* params,
                                                   DLTensor* kl_out, DLTensor* keep_out, void* stream) {
  return guarded("lr_shard_select_finish", [&] {
    require_not_null(stats, "stats");
    require_not_null(kl_out, "kl_out");
    DeviceAgreement devices;
    devices.add("stats", stats);
    devices.add("kl_out", kl_out);
    if (keep_out) devices.add("keep_out", keep_out);
    const Placement where = devices.require_supported();

    const lr_select_params p = read_params(params, lr_select_params_default(), "params");
    check_temperature(p.temperature, "params");
    if (std::isnan(p.kl_threshold)) invalid("params->kl_threshold is NaN");
    const lr::core::GatheredRecords<double> in =
        check_gathered<double>(stats, "stats", dl_float64(), -1, lr::core::SelectStatsField::width);
    const int64_t n = in.rows;
    lr::core::cpu::SelectOutputs out;
    out.kl = check_vector<float>(kl_out, "kl_out", dl_float32(), n, true);
    if (keep_out) out.keep = check_vector<uint8_t>(keep_out, "keep_out", dl_uint8(), n, true);
    std::vector<ByteRange> outputs{byte_range(kl_out, "kl_out")};
    if (keep_out) outputs.push_back(byte_range(keep_out, "keep_out"));
    check_no_aliasing(outputs, {byte_range(stats, "stats")});

#ifdef LR_WITH_CUDA
    if (where.cuda) {
      lr::core::cuda::ShardSelectFinishJob job;
      job.stats = in;
      job.kl_threshold = p.kl_threshold;
      job.kl = out.kl;
      job.keep = out.keep;
      lr::core::cuda::DeviceScope scope(where.device);
      lr::core::cuda::launch_shard_select_finish(job, stream);
      return;
    }
#endif
    (void)stream;
    (void)where;
    if (n > 0) lr::core::cpu::shard_select_finish(in, p.kl_threshold, out);
  });
}
