// Host entry points of the CUDA kernels, one per family: select/targets (KL,
// keep flags, targets, in one pass over each row pair; select_targets.cu)
// and the distillation loss with its gradient (distill_loss.cu). Arguments are already validated by the C ABI layer; these
// functions only enqueue work on `stream` (no synchronisation, no
// cudaMalloc) and throw DeviceError when the runtime reports a failure.
// The CPU references of the same math are in core/cpu/.
#pragma once

#include <cstdint>

#include "logits_view.h"

namespace lr::core::cuda {

// Most target slots per row the CUDA kernels serve: a row's candidates and
// its kept support live in shared memory.
constexpr int64_t kMaxTargetSlots = 4096;

struct SelectTargetsJob {
  LogitsView expert, amateur;
  int64_t shared_vocab = 0;
  float temperature = 1.0f;
  // Selection (kl == nullptr: no KL wanted).
  float kl_threshold = 0.0f;  // kappa: the caller sets it from lr_select_params whenever kl is wanted
  Strided1D<float> kl{nullptr, 1};
  Strided1D<uint8_t> keep{nullptr, 1};
  // Targets (k == 0: none wanted). rows.data == nullptr: output row j reads
  // logits row j; otherwise rows[j] (an index outside [0, N) is reported as
  // a data fault of that output row: the device cannot raise an argument
  // error without a synchronisation).
  double log_beta = 0.0;
  int64_t k = 0;
  int64_t out_rows = 0;
  Strided1D<const int64_t> rows{nullptr, 1};
  Strided2D<int32_t> ids{nullptr, 0, 1};
  Strided2D<float> weights{nullptr, 0, 1};
  Strided1D<int32_t> support_size{nullptr, 1};
  bool targets_only_if_kept = false;  // the fused call: rows not kept get padding and support 0
};

void launch_select_targets(const SelectTargetsJob& job, void* stream);

enum class LossReduction { None, Sum, Mean };

struct LossJob {
  LogitsView logits;
  int64_t k = 0;
  Strided2D<const int32_t> ids{nullptr, 0, 1};
  Strided2D<const float> weights{nullptr, 0, 1};
  LossReduction reduction = LossReduction::Mean;
  float grad_scale = 1.0f;
  float temperature = 1.0f;
  Strided1D<float> loss_rows{nullptr, 1};  // NONE
  float* loss_scalar = nullptr;            // SUM / MEAN
  MutLogitsView grad;                      // data == nullptr: no gradient
};

void launch_distill_loss(const LossJob& job, void* stream);

// Which device a pointer lives on: a CUDA device's memory (device_id >= 0),
// or -1 for host memory (pageable or pinned). Throws DeviceError when the
// runtime cannot answer (no driver, no device).
int pointer_device(const void* p);

// Makes `device` current for the scope, restoring the previous one after.
class DeviceScope {
 public:
  explicit DeviceScope(int device);
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = -1;
};

}  // namespace lr::core::cuda
