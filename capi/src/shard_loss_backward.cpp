// lr_shard_loss_backward: argument checks (as lr_distill_loss_backward's,
// over the shard), then the CPU or CUDA kernel, then the reduction.
#include <vector>

#include "cpu/shard_kernels.h"
#include "tensor_checks.h"

#ifdef LR_WITH_CUDA
#include "cuda/shard_kernels.h"
#include "cuda_dispatch.h"
#endif

using namespace lr::capi;

extern "C" LR_API lr_status lr_shard_loss_backward(const DLTensor* logits_shard, const lr_vocab_shard* shard,
                                                   const DLTensor* target_ids, const DLTensor* target_weights,
                                                   const DLTensor* stats, const lr_loss_params* params,
                                                   DLTensor* loss_out, DLTensor* grad_logits, void* stream) {
  return guarded("lr_shard_loss_backward", [&] {
    require_not_null(logits_shard, "logits_shard");
    require_not_null(target_ids, "target_ids");
    require_not_null(target_weights, "target_weights");
    require_not_null(stats, "stats");
    require_not_null(loss_out, "loss_out");
    DeviceAgreement devices;
    devices.add("logits_shard", logits_shard);
    devices.add("target_ids", target_ids);
    devices.add("target_weights", target_weights);
    devices.add("stats", stats);
    devices.add("loss_out", loss_out);
    if (grad_logits) devices.add("grad_logits", grad_logits);
    const Placement where = devices.require_supported();

    const lr_loss_params p = read_params(params, lr_loss_params_default(), "params");
    const int reduction = check_loss_params(p);
    const LossShardInputs in = check_loss_shard(logits_shard, shard);
    const int64_t n = in.z.rows;
    const lr::core::cpu::SparseTargets targets = check_sparse_targets(target_ids, target_weights, n);
    const lr::core::GatheredRecords<double> gathered =
        check_gathered<double>(stats, "stats", dl_float64(), n, lr::core::LossStatsField::width);
    const LossOutput loss = check_loss_output(loss_out, reduction, n);
    const GradOutput grad = check_grad_output(grad_logits, logits_shard, in.z, "logits_shard");
    std::vector<ByteRange> outputs{byte_range(loss_out, "loss_out")};
    std::vector<ByteRange> inputs{byte_range(target_ids, "target_ids"), byte_range(target_weights, "target_weights"),
                                  byte_range(stats, "stats")};
    if (!grad.in_place) inputs.push_back(byte_range(logits_shard, "logits_shard"));
    if (grad_logits) outputs.push_back(byte_range(grad_logits, "grad_logits"));
    check_no_aliasing(outputs, inputs);

#ifdef LR_WITH_CUDA
    if (where.cuda) {
      check_cuda_target_slots(targets.k, "target_ids");
      lr::core::cuda::ShardLossBackwardJob job;
      job.loss = loss_job(in.z, targets, p, reduction, loss, grad.grad);
      job.cols = in.cols;
      job.stats = gathered;
      lr::core::cuda::DeviceScope scope(where.device);
      lr::core::cuda::launch_shard_loss_backward(job, stream);
      return;
    }
#endif
    (void)stream;
    (void)where;
    const int64_t counted = check_target_entries(targets, n, in.full_vocab);
    lr::core::cpu::LossSettings settings;
    settings.temperature = p.temperature;
    settings.grad_coef = loss_grad_coef(p, reduction, counted);
    std::vector<double> row_loss(static_cast<size_t>(n));
    if (n > 0) lr::core::cpu::shard_loss_backward(in.z, in.cols, targets, gathered, settings, row_loss.data(), grad.grad);
    write_loss(loss, reduction, row_loss, counted);
  });
}
