// The Trainer's checkpoint in LibTorch terms: the file format of
// checkpoint/training_state_file.h written from, and restored into, the
// trainable parameters, their AdamW state and the global generators.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace torch::optim {
class AdamW;
}

namespace lr::driver {

// Writes PATH atomically (a crash leaves the previous file). AdamW state a
// parameter does not have yet (no step taken) is written as step 0 and zero
// moments, which is how AdamW starts it.
void save_training_state(const std::string& path, const std::vector<torch::Tensor>& params,
                         torch::optim::AdamW& optimizer, const std::vector<at::Generator>& generators,
                         int64_t updates_done);

// Restores what save_training_state wrote and returns its updates_done. Every
// check (format, names, dtypes, shapes, generator state sizes) comes before
// anything is changed: on a CheckpointError naming the file the trainer is as
// it was. Generator states past `generators` (a GPU run resumed on the CPU)
// are ignored; generators the file has no state for keep theirs.
int64_t restore_training_state(const std::string& path, const std::vector<torch::Tensor>& params,
                               torch::optim::AdamW& optimizer, const std::vector<at::Generator>& generators);

}  // namespace lr::driver
