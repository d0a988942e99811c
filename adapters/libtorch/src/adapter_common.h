// Internal helpers shared by the adapter's translation units: status checks,
// argument checks, and the device scope (CUDA guard + current stream).
#pragma once

#include <lightreasoner/lightreasoner.h>
#include <lightreasoner/torch.h>

#include <c10/core/Device.h>
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
