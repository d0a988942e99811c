// A training loop's checkpoint (train/trainer.h): DIR/checkpoint.safetensors,
// a safetensors file (safetensors.h) holding, for parameter i of n,
//   param.i, adam.exp_avg.i, adam.exp_avg_sq.i   its values and AdamW moments
//                                                (the parameter's dtype and shape)
//   adam.steps      I64 [n]  AdamW's step count per parameter
//   updates_done    I64 []   the loop's updates
//   rng.j           U8 [b]   generator j's state (0: the CPU's, 1: the device's)
// and the metadata {"format": "lightreasoner-training-state", "version": "1"}.
// Our own format rather than LibTorch's archive (a zip of pickles): its reader
// is the safetensors reader (fuzzed, fuzz/), so a foreign or damaged file is a
// one-line CheckpointError naming it, whatever its bytes. No LibTorch here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "safetensors.h"

namespace lr::driver {

inline constexpr const char* kTrainingStateFile = "checkpoint.safetensors";
inline constexpr const char* kTrainingStateFormat = "lightreasoner-training-state";
inline constexpr const char* kTrainingStateVersion = "1";

// The tensor names above.
std::string param_tensor_name(size_t i);
std::string exp_avg_tensor_name(size_t i);
std::string exp_avg_sq_tensor_name(size_t i);
std::string generator_tensor_name(size_t j);
inline constexpr const char* kAdamStepsTensor = "adam.steps";
inline constexpr const char* kUpdatesDoneTensor = "updates_done";

// What the reader checks a file against: each trainable parameter's dtype and shape.
struct ParameterLayout {
  StDtype dtype;
  std::vector<int64_t> shape;
};

struct ParameterState {
  TensorView value, exp_avg, exp_avg_sq;
  int64_t adam_step = 0;
};

// Views into the file's mapping (they keep it alive).
struct TrainingState {
  int64_t updates_done = 0;
  std::vector<ParameterState> params;        // one per ParameterLayout, in order
  std::vector<TensorView> generator_states;  // rng.0, rng.1, ... while present
};

// Reads PATH and checks it holds exactly a training state for `params`: the
// format metadata, every tensor named above with its dtype and shape, no other
// tensor, steps and updates >= 0. Throws CheckpointError
// naming the file and what does not fit.
TrainingState read_training_state(const std::string& path, const std::vector<ParameterLayout>& params);

}  // namespace lr::driver
