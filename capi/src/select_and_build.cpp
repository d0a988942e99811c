// lr_select_and_build: select and targets in one pass; argument checks, then the CPU or CUDA kernel.
#include <cmath>

#include "select_targets.h"
#include "tensor_checks.h"

#ifdef LR_WITH_CUDA
#include "cuda_dispatch.h"
#endif

using namespace lr::capi;

extern "C" LR_API lr_status lr_select_and_build(const DLTensor* expert_logits, const DLTensor* amateur_logits,
                                                const lr_select_params* select_params,
                                                const lr_target_params* target_params, DLTensor* kl_out,
                                                DLTensor* keep_out, DLTensor* target_ids,
                                                DLTensor* target_weights, DLTensor* support_size,
                                                void* stream) {
  return guarded("lr_select_and_build", [&] {
    require_not_null(expert_logits, "expert_logits");
    require_not_null(amateur_logits, "amateur_logits");
    require_not_null(kl_out, "kl_out");
    require_not_null(keep_out, "keep_out");
    require_not_null(target_ids, "target_ids");
    require_not_null(target_weights, "target_weights");
    require_not_null(support_size, "support_size");
    DeviceAgreement devices;
    devices.add("expert_logits", expert_logits);
    devices.add("amateur_logits", amateur_logits);
    devices.add("kl_out", kl_out);
    devices.add("keep_out", keep_out);
    devices.add("target_ids", target_ids);
    devices.add("target_weights", target_weights);
    devices.add("support_size", support_size);
    const Placement where = devices.require_supported();

    const lr_select_params sp = read_params(select_params, lr_select_params_default(), "select_params");
    const lr_target_params tp = read_params(target_params, lr_target_params_default(), "target_params");
    check_temperature(sp.temperature, "select_params");
    check_temperature(tp.temperature, "target_params");
    if (std::isnan(sp.kl_threshold)) invalid("select_params->kl_threshold is NaN");
    check_beta(tp.beta, "target_params");
    if (sp.temperature != tp.temperature)
      invalid("select_params->temperature and target_params->temperature differ (" +
              std::to_string(sp.temperature) + " vs " + std::to_string(tp.temperature) + ")");
    if (sp.shared_vocab != tp.shared_vocab)
      invalid("select_params->shared_vocab and target_params->shared_vocab differ (" +
              std::to_string(sp.shared_vocab) + " vs " + std::to_string(tp.shared_vocab) + ")");
    const LogitsPairInputs in = check_logits_pair(expert_logits, amateur_logits, sp.shared_vocab, "select_params");
    const int64_t n = in.expert.rows;
    lr::core::cpu::SelectOutputs sel;
    sel.kl = check_vector<float>(kl_out, "kl_out", dl_float32(), n, true);
    sel.keep = check_vector<uint8_t>(keep_out, "keep_out", dl_uint8(), n, true);
    const lr::core::cpu::TargetOutputs tgt = check_target_outputs(target_ids, target_weights, support_size, n);
    check_no_aliasing({byte_range(kl_out, "kl_out"), byte_range(keep_out, "keep_out"),
                       byte_range(target_ids, "target_ids"), byte_range(target_weights, "target_weights"),
                       byte_range(support_size, "support_size")},
                      {in.expert_range, in.amateur_range});

#ifdef LR_WITH_CUDA
    if (where.cuda) {
      lr::core::cuda::SelectTargetsJob job = select_targets_job(in, sp.temperature, n);
      job.kl_threshold = sp.kl_threshold;
      job.kl = sel.kl;
      job.keep = sel.keep;
      set_targets(job, tgt, tp.beta);
      job.targets_only_if_kept = true;
      launch_on(where, job, stream);
      return;
    }
#endif
    (void)stream;
    (void)where;
    if (n > 0)
      lr::core::cpu::select_and_build(in.expert, in.amateur, in.shared_vocab, sp.temperature, sp.kl_threshold,
                                      tp.beta, sel, tgt);
  });
}
