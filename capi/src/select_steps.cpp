// lr_select_steps: argument checks, then the CPU or CUDA kernel.
#include <cmath>

#include "select_targets.h"
#include "tensor_checks.h"

#ifdef LR_WITH_CUDA
#include "cuda_dispatch.h"
#endif

using namespace lr::capi;

extern "C" LR_API lr_status lr_select_steps(const DLTensor* expert_logits, const DLTensor* amateur_logits,
                                            const lr_select_params* params, DLTensor* kl_out,
                                            DLTensor* keep_out, void* stream) {
  return guarded("lr_select_steps", [&] {
    require_not_null(expert_logits, "expert_logits");
    require_not_null(amateur_logits, "amateur_logits");
    require_not_null(kl_out, "kl_out");
    DeviceAgreement devices;
    devices.add("expert_logits", expert_logits);
    devices.add("amateur_logits", amateur_logits);
    devices.add("kl_out", kl_out);
    if (keep_out) devices.add("keep_out", keep_out);
    const Placement where = devices.require_supported();

    const lr_select_params p = read_params(params, lr_select_params_default(), "params");
    check_temperature(p.temperature, "params");
    if (std::isnan(p.kl_threshold)) invalid("params->kl_threshold is NaN");
    const LogitsPairInputs in = check_logits_pair(expert_logits, amateur_logits, p.shared_vocab, "params");
    const int64_t n = in.expert.rows;
    lr::core::cpu::SelectOutputs out;
    out.kl = check_vector<float>(kl_out, "kl_out", dl_float32(), n, true);
    if (keep_out) out.keep = check_vector<uint8_t>(keep_out, "keep_out", dl_uint8(), n, true);
    std::vector<ByteRange> outputs{byte_range(kl_out, "kl_out")};
    if (keep_out) outputs.push_back(byte_range(keep_out, "keep_out"));
    check_no_aliasing(outputs, {in.expert_range, in.amateur_range});

#ifdef LR_WITH_CUDA
    if (where.cuda) {
      lr::core::cuda::SelectTargetsJob job = select_targets_job(in, p.temperature, n);
      job.kl_threshold = p.kl_threshold;
      job.kl = out.kl;
      job.keep = out.keep;
      launch_on(where, job, stream);
      return;
    }
#endif
    (void)stream;
    (void)where;
    if (n > 0) lr::core::cpu::select_steps(in.expert, in.amateur, in.shared_vocab, p.temperature, p.kl_threshold, out);
  });
}
