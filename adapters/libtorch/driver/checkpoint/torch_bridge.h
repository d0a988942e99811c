// safetensors views <-> LibTorch tensors.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>

#include "safetensors.h"

namespace lr::driver {

// A CPU tensor over the mapped bytes (zero copy; keeps the mapping alive; the
// mapping is private, so writing into it never reaches the file, but two
// tensors made from one view share memory; misaligned data is copied),
// or a copy converted to `want` when the dtypes differ. Float types only
// convert among F32/BF16/F16; asking to convert an integer tensor throws.
torch::Tensor to_tensor(const TensorView& view);
torch::Tensor to_tensor(const TensorView& view, torch::ScalarType want);

StDtype st_dtype_of(torch::ScalarType t);  // throws CheckpointError for unsupported types

// Writes CPU-contiguous copies of the tensors (any device/dtype supported).
// Adds the metadata "format": "pt" unless given (transformers requires it).
void save_tensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                  const std::map<std::string, std::string>& metadata = {});

}  // namespace lr::driver
