// Which experimental kernel form runs, each read once from the environment.
// Compiled only with the CMake option LR_CUDA_EXPERIMENTAL; without it the
// library reads no environment variable and runs the default kernels.
// bench/gpu_check.sh runs each form beside the default.
#pragma once

#include <cstdlib>
#include <string>

namespace lr::core::cuda {

inline bool env_flag_set(const char* name) {
  const char* env = std::getenv(name);
  return env && std::string(env) == "1";
}

// LR_CUDA_SELECT_TARGETS_LEAN=1: the lean streaming pass
// (select_targets_lean.cuh), not yet run on a GPU.
inline bool select_targets_lean() {
  static const bool value = env_flag_set("LR_CUDA_SELECT_TARGETS_LEAN");
  return value;
}

// LR_CUDA_SELECT_TARGETS_ASYNC=1: aligned row pairs streamed through shared
// memory with cp.async (pair_stream.cuh), measured slower on an H200.
inline bool select_targets_async() {
  static const bool value = env_flag_set("LR_CUDA_SELECT_TARGETS_ASYNC");
  return value;
}

// LR_CUDA_LOSS_CLUSTER=1: the single-read loss on a thread-block cluster
// (distill_loss_cluster.cuh), not yet run on a GPU.
inline bool loss_cluster_enabled() {
  static const bool value = env_flag_set("LR_CUDA_LOSS_CLUSTER");
  return value;
}

// LR_CUDA_LOSS_ROWS_PER_SM = R > 0 caps the loss kernel's grid at R blocks
// per SM striding over the rows (fewer rows in flight, so more of a row is
// still in L2 when pass 2 reads it again): a tuning knob, measured slower
// than one block per row on an H200 (R = 1: 40 % of peak, R = 2: 45 %,
// against 48 %; bench/results/2026-11-26-gpu-h200-3a20b02/bench_cuda.txt).
inline int loss_rows_per_sm() {
  static const int value = [] {
    const char* env = std::getenv("LR_CUDA_LOSS_ROWS_PER_SM");
    return env ? std::atoi(env) : 0;
  }();
  return value;
}

}  // namespace lr::core::cuda
