// lr_distill_loss_backward: argument checks (including every target id and
// weight on the host; on CUDA the kernel checks them), then the CPU or CUDA
// kernel, then the reduction.
#include <vector>

#include "distill_loss.h"
#include "tensor_checks.h"

#ifdef LR_WITH_CUDA
#include "cuda_dispatch.h"
#endif

using namespace lr::capi;

extern "C" LR_API lr_status lr_distill_loss_backward(const DLTensor* logits, const DLTensor* target_ids,
                                                     const DLTensor* target_weights, const lr_loss_params* params,
                                                     DLTensor* loss_out, DLTensor* grad_logits, void* stream) {
  return guarded("lr_distill_loss_backward", [&] {
    require_not_null(logits, "logits");
    require_not_null(target_ids, "target_ids");
    require_not_null(target_weights, "target_weights");
    require_not_null(loss_out, "loss_out");
    DeviceAgreement devices;
    devices.add("logits", logits);
    devices.add("target_ids", target_ids);
    devices.add("target_weights", target_weights);
    devices.add("loss_out", loss_out);
    if (grad_logits) devices.add("grad_logits", grad_logits);
    const Placement where = devices.require_supported();

    const lr_loss_params p = read_params(params, lr_loss_params_default(), "params");
    const int reduction = check_loss_params(p);
    const lr::core::LogitsView z = check_logits(logits, "logits");
    const int64_t n = z.rows, v = z.cols;
    if (n > 0 && v == 0) invalid("logits has a vocabulary of size 0");
    const lr::core::cpu::SparseTargets targets = check_sparse_targets(target_ids, target_weights, n);
    const LossOutput loss = check_loss_output(loss_out, reduction, n);
    const GradOutput grad = check_grad_output(grad_logits, logits, z, "logits");
    std::vector<ByteRange> outputs{byte_range(loss_out, "loss_out")};
    std::vector<ByteRange> inputs{byte_range(target_ids, "target_ids"), byte_range(target_weights, "target_weights")};
    if (!grad.in_place) inputs.push_back(byte_range(logits, "logits"));
    if (grad_logits) outputs.push_back(byte_range(grad_logits, "grad_logits"));
    check_no_aliasing(outputs, inputs);

#ifdef LR_WITH_CUDA
    if (where.cuda) {
      check_cuda_target_slots(targets.k, "target_ids");
      const lr::core::cuda::LossJob job = loss_job(z, targets, p, reduction, loss, grad.grad);
      lr::core::cuda::DeviceScope scope(where.device);
      lr::core::cuda::launch_distill_loss(job, stream);
      return;
    }
#endif
    (void)stream;
    (void)where;
    const int64_t counted = check_target_entries(targets, n, v);
    lr::core::cpu::LossSettings settings;
    settings.temperature = p.temperature;
    settings.grad_coef = loss_grad_coef(p, reduction, counted);
    std::vector<double> row_loss(static_cast<size_t>(n));
    if (n > 0) lr::core::cpu::distill_loss_backward(z, targets, settings, row_loss.data(), grad.grad);
    write_loss(loss, reduction, row_loss, counted);
  });
}
