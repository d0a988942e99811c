// lr_build_targets: argument checks, then the CPU or CUDA kernel.
#include <cmath>

#include "select_targets.h"
#include "tensor_checks.h"

#ifdef LR_WITH_CUDA
#include "cuda_dispatch.h"
#endif

using namespace lr::capi;

extern "C" LR_API lr_status lr_build_targets(const DLTensor* expert_logits, const DLTensor* amateur_logits,
                                             const DLTensor* rows, const lr_target_params* params,
                                             DLTensor* target_ids, DLTensor* target_weights,
                                             DLTensor* support_size, void* stream) {
  return guarded("lr_build_targets", [&] {
    require_not_null(expert_logits, "expert_logits");
    require_not_null(amateur_logits, "amateur_logits");
    require_not_null(target_ids, "target_ids");
    require_not_null(target_weights, "target_weights");
    require_not_null(support_size, "support_size");
    DeviceAgreement devices;
    devices.add("expert_logits", expert_logits);
    devices.add("amateur_logits", amateur_logits);
    if (rows) devices.add("rows", rows);
    devices.add("target_ids", target_ids);
    devices.add("target_weights", target_weights);
    devices.add("support_size", support_size);
    const Placement where = devices.require_supported();

    const lr_target_params p = read_params(params, lr_target_params_default(), "params");
    check_temperature(p.temperature, "params");
    check_beta(p.beta, "params");
    const LogitsPairInputs in = check_logits_pair(expert_logits, amateur_logits, p.shared_vocab, "params");
    const int64_t n = in.expert.rows;

    lr::core::Strided1D<const int64_t> row_index{};
    int64_t m = n;
    if (rows) row_index = check_row_indices(rows, n, where.cuda, &m);
    const lr::core::cpu::TargetOutputs out = check_target_outputs(target_ids, target_weights, support_size, m);
    std::vector<ByteRange> inputs{in.expert_range, in.amateur_range};
    if (rows) inputs.push_back(byte_range(rows, "rows"));
    check_no_aliasing({byte_range(target_ids, "target_ids"), byte_range(target_weights, "target_weights"),
                       byte_range(support_size, "support_size")},
                      inputs);

#ifdef LR_WITH_CUDA
    if (where.cuda) {
      lr::core::cuda::SelectTargetsJob job = select_targets_job(in, p.temperature, m);
      set_targets(job, out, p.beta);
      job.rows = row_index;
      launch_on(where, job, stream);
      return;
    }
#endif
    (void)stream;
    if (m > 0)
      lr::core::cpu::build_targets(in.expert, in.amateur, row_index, m, in.shared_vocab, p.temperature, p.beta, out);
  });
}
