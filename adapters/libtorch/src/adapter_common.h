// Internal helpers shared by the adapter's translation units: status checks,
// argument checks, and the device scope (CUDA guard + current stream).
#pragma once

#include <lightreasoner/lightreasoner.h>
#include <lightreasoner/torch.h>

#include <c10/core/Device.h>
#include <c10/core/TensorOptions.h>
#include <c10/util/Exception.h>

#if defined(LR_TORCH_CUDA)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace lr::torch_adapter::detail {

// Turns a failed lr_* call into a c10::Error carrying the status name and the
// library's message (which names the faulty argument).
inline void check_status(lr_status status, const char* call) {
  TORCH_CHECK(status == LR_OK, "lightreasoner: ", call, " failed (", lr_status_string(status), "): ",
              lr_last_error());
}

// The adapter's own checks on a logits argument: defined, 2-D, a supported
// floating dtype, unit stride along the vocabulary.
void check_logits(const at::Tensor& t, const char* name);

// Checks that t lives on `device` (the logits' device).
void check_same_device(const at::Tensor& t, const char* name, const c10::Device& device);

// Expert and amateur logits: each checked as above, one device, the same rows.
inline void check_pair(const at::Tensor& expert, const at::Tensor& amateur) {
  check_logits(expert, "expert_logits");
  check_logits(amateur, "amateur_logits");
  check_same_device(amateur, "amateur_logits", expert.device());
  TORCH_CHECK(expert.size(0) == amateur.size(0), "lightreasoner: expert_logits has ", expert.size(0),
              " rows but amateur_logits has ", amateur.size(0));
}

inline void check_k(int64_t k) { TORCH_CHECK(k >= 1, "lightreasoner: TargetOptions::k must be >= 1; got ", k); }

// The options as the library's parameter structs (its defaults for the rest).
inline lr_select_params select_params(const SelectOptions& o) {
  lr_select_params p = lr_select_params_default();
  p.kl_threshold = o.kl_threshold;
  p.temperature = o.temperature;
  p.shared_vocab = o.shared_vocab;
  return p;
}

inline lr_target_params target_params(const TargetOptions& o) {
  lr_target_params p = lr_target_params_default();
  p.beta = o.beta;
  p.temperature = o.temperature;
  p.shared_vocab = o.shared_vocab;
  return p;
}

// Options for an output of `dtype` on like's device.
inline at::TensorOptions on(const at::Tensor& like, at::ScalarType dtype) {
  return at::TensorOptions().dtype(dtype).device(like.device());
}

// For the duration of a call: the CUDA device guard of the tensors' device and
// its current stream; nothing (stream NULL) for CPU tensors.
class DeviceScope {
 public:
  explicit DeviceScope(const c10::Device& device) {
    if (device.is_cpu()) return;
#if defined(LR_TORCH_CUDA)
    if (device.is_cuda()) {
      guard_.set_device(device);
      stream_ = static_cast<void*>(c10::cuda::getCurrentCUDAStream(device.index()).stream());
      return;
    }
#endif
#if defined(LR_TORCH_CUDA)
    constexpr const char* supported = "CPU and CUDA";
#else
    constexpr const char* supported = "CPU only: LibTorch without CUDA";
#endif
    TORCH_CHECK(false, "lightreasoner: tensors on device ", device,
                " are not supported by this build of lr_torch (", supported, ")");
  }
  void* stream() const { return stream_; }

 private:
#if defined(LR_TORCH_CUDA)
  c10::cuda::OptionalCUDAGuard guard_;
#endif
  void* stream_ = nullptr;
};

}  // namespace lr::torch_adapter::detail
