// lr_shard_targets_finish: argument checks, then the CPU or CUDA kernel.
#include "cpu/shard_kernels.h"
#include "tensor_checks.h"

#ifdef LR_WITH_CUDA
#include "cuda/shard_kernels.h"
#endif

using namespace lr::capi;

extern "C" LR_API lr_status lr_shard_targets_finish(const DLTensor* candidates, const lr_target_params* params,
                                                    DLTensor* target_ids, DLTensor* target_weights,
                                                    DLTensor* support_size, void* stream) {
  return guarded("lr_shard_targets_finish", [&] {
    require_not_null(candidates, "candidates");
    require_not_null(target_ids, "target_ids");
    require_not_null(target_weights, "target_weights");
    require_not_null(support_size, "support_size");
    DeviceAgreement devices;
    devices.add("candidates", candidates);
    devices.add("target_ids", target_ids);
    devices.add("target_weights", target_weights);
    devices.add("support_size", support_size);
    const Placement where = devices.require_supported();

    const lr_target_params p = read_params(params, lr_target_params_default(), "params");
    check_temperature(p.temperature, "params");
    check_beta(p.beta, "params");
    const int64_t k = candidates_k_of(candidates, "candidates", 2);
    const lr::core::GatheredRecords<float> in =
        check_gathered<float>(candidates, "candidates", dl_float32(), -1, lr::core::candidates_width(k));
    const lr::core::cpu::TargetOutputs out = check_target_outputs(target_ids, target_weights, support_size, in.rows);
    if (out.k != k)
      invalid("target_ids: K = " + std::to_string(out.k) + " but the candidates records hold K = " +
              std::to_string(k) + " (LR_SHARD_CANDIDATES(K) = " + std::to_string(in.width) + ")");
    check_no_aliasing({byte_range(target_ids, "target_ids"), byte_range(target_weights, "target_weights"),
                       byte_range(support_size, "support_size")},
                      {byte_range(candidates, "candidates")});

#ifdef LR_WITH_CUDA
    if (where.cuda) {
      check_cuda_target_slots(k, "target_ids");
      lr::core::cuda::ShardTargetsFinishJob job;
      job.candidates = in;
      job.temperature = p.temperature;
      job.k = k;
      job.ids = out.ids;
      job.weights = out.weights;
      job.support_size = out.support_size;
      lr::core::cuda::DeviceScope scope(where.device);
      lr::core::cuda::launch_shard_targets_finish(job, stream);
      return;
    }
#endif
    (void)stream;
    (void)where;
    if (in.rows > 0) lr::core::cpu::shard_targets_finish(in, p.temperature, out);
  });
}
