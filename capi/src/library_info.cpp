// Version, build facts, status names and parameter defaults.
#include <algorithm>
#include <cstring>
#include <string>

#include "error_state.h"
#include "lightreasoner/lightreasoner.h"

namespace {

const char* simd_path() {
// clang knows the x86-64-vN names from version 16 (the fuzz preset's clang 14 does not).
#if defined(__x86_64__) && (!defined(__clang__) || __clang_major__ >= 16)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v4")) return "x86-64-v4 (AVX-512)";
  if (__builtin_cpu_supports("x86-64-v3")) return "x86-64-v3 (AVX2, FMA, F16C)";
  return "x86-64 baseline";
#elif defined(__x86_64__)
  return "x86-64 (the compiler cannot name the clone chosen)";
#else
  return "portable C++";
#endif
}

std::string make_build_info() {
  std::string s = "liblightreasoner " LR_VERSION_STRING " (ABI ";
  s += std::to_string(LR_ABI_VERSION_MAJOR) + "." + std::to_string(LR_ABI_VERSION_MINOR) + ")";
  s += "; compiler: " LR_COMPILER_STRING;
#ifdef LR_WITH_CUDA
  s += "; CUDA: yes, archs " LR_CUDA_ARCHS;
#else
  s += "; CUDA: no (CPU only; CUDA tensors give LR_ERR_UNSUPPORTED)";
#endif
  s += "; CPU: OpenMP threads over rows, SIMD path ";
  s += simd_path();
  return s;
}

// Writes `defaults` into the caller's struct of `struct_size` bytes.
template <class P>
lr_status init_params(const char* function, P* params, uint32_t struct_size, P defaults) {
  return lr::capi::guarded(function, [&] {
    if (!params) lr::capi::invalid("params is NULL");
    if (struct_size < sizeof(P))
      lr::capi::invalid("struct_size is " + std::to_string(struct_size) + ", smaller than the " +
                        std::to_string(sizeof(P)) + " bytes of ABI 1.0");
    defaults.struct_size = struct_size;
    std::memcpy(params, &defaults, std::min<size_t>(struct_size, sizeof(P)));
  });
}

}  // namespace

extern "C" {

LR_API uint32_t lr_abi_version(void) {
  return (uint32_t{LR_ABI_VERSION_MAJOR} << 16) | uint32_t{LR_ABI_VERSION_MINOR};
}

LR_API const char* lr_build_info(void) {
  static const std::string info = make_build_info();  // thread-safe one-time init
  return info.c_str();
}

LR_API const char* lr_status_string(lr_status s) {
  switch (s) {
    case LR_OK: return "LR_OK";
    case LR_ERR_INVALID_ARGUMENT: return "LR_ERR_INVALID_ARGUMENT";
    case LR_ERR_UNSUPPORTED: return "LR_ERR_UNSUPPORTED";
    case LR_ERR_OUT_OF_MEMORY: return "LR_ERR_OUT_OF_MEMORY";
    case LR_ERR_CUDA: return "LR_ERR_CUDA";
    case LR_ERR_INTERNAL: return "LR_ERR_INTERNAL";
  }
  return "LR_ERR_UNKNOWN_STATUS";
}

LR_API lr_select_params lr_select_params_default(void) {
  lr_select_params p{};
  p.struct_size = sizeof(lr_select_params);
  p.kl_threshold = 0.4f;
  p.temperature = 1.0f;
  p.shared_vocab = 0;
  return p;
}

LR_API lr_target_params lr_target_params_default(void) {
  lr_target_params p{};
  p.struct_size = sizeof(lr_target_params);
  p.beta = 0.2f;
  p.temperature = 1.0f;
  p.shared_vocab = 0;
  return p;
}

LR_API lr_loss_params lr_loss_params_default(void) {
  lr_loss_params p{};
  p.struct_size = sizeof(lr_loss_params);
  p.reduction = LR_REDUCTION_MEAN;
  p.grad_scale = 1.0f;
  p.temperature = 1.0f;
  return p;
}

LR_API lr_status lr_select_params_init(lr_select_params* params, uint32_t struct_size) {
  return init_params("lr_select_params_init", params, struct_size, lr_select_params_default());
}

LR_API lr_status lr_target_params_init(lr_target_params* params, uint32_t struct_size) {
  return init_params("lr_target_params_init", params, struct_size, lr_target_params_default());
}

LR_API lr_status lr_loss_params_init(lr_loss_params* params, uint32_t struct_size) {
  return init_params("lr_loss_params_init", params, struct_size, lr_loss_params_default());
}

}  // extern "C"
