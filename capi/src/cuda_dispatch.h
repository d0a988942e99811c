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

}  // namespace lr::capi
