// The CUDA side of the select/targets entry points: the job every call starts from
// (the validated logits pair) and its launch on the tensors' device.
// Included only in builds with CUDA.
#pragma once

#include <cmath>

#include "cuda_kernels.h"
#include "tensor_checks.h"

namespace lr::capi {

inline core::cuda::SelectTargetsJob select_targets_job(const LogitsPairInputs& in, float temperature, int64_t out_rows) {
  core::cuda::SelectTargetsJob job;
  job.expert = in.expert;
  job.amateur = in.amateur;
  job.shared_vocab = in.shared_vocab;
  job.temperature = temperature;
  job.out_rows = out_rows;
  return job;
}

inline void set_targets(core::cuda::SelectTargetsJob& job, const core::cpu::TargetOutputs& out, float beta) {
  check_cuda_target_slots(out.k, "target_ids");
  job.log_beta = std::log(double(beta));
  job.k = out.k;
  job.ids = out.ids;
  job.weights = out.weights;
  job.support_size = out.support_size;
}

inline void launch_on(const Placement& where, const core::cuda::SelectTargetsJob& job, void* stream) {
  core::cuda::DeviceScope scope(where.device);
  core::cuda::launch_select_targets(job, stream);
}

// The loss job of lr_distill_loss_backward (and of the sharded finish, whose
// logits are the shard).
inline core::cuda::LossJob loss_job(const core::LogitsView& z, const core::cpu::SparseTargets& targets,
                                    const lr_loss_params& p, int reduction, const LossOutput& loss,
                                    const core::MutLogitsView& grad) {
  core::cuda::LossJob job;
  job.logits = z;
  job.k = targets.k;
  job.ids = targets.ids;
  job.weights = targets.weights;
  job.reduction = reduction == LR_REDUCTION_NONE  ? core::cuda::LossReduction::None
                  : reduction == LR_REDUCTION_SUM ? core::cuda::LossReduction::Sum
                                                  : core::cuda::LossReduction::Mean;
  job.grad_scale = p.grad_scale;
  job.temperature = p.temperature;
  job.loss_rows = loss.rows;
  job.loss_scalar = loss.scalar;
  job.grad = grad;
  return job;
}

}  // namespace lr::capi
