// A failure reported by the CUDA runtime (or its stream-ordered allocator)
// inside the library; the C ABI layer turns it into LR_ERR_CUDA (or
// LR_ERR_OUT_OF_MEMORY) with this text. Plain C++: usable from any backend.
#pragma once

#include <stdexcept>
#include <string>

namespace lr::core {

struct DeviceError : std::runtime_error {
  DeviceError(std::string message, bool out_of_memory_)
      : std::runtime_error(std::move(message)), out_of_memory(out_of_memory_) {}
  bool out_of_memory;
};

}  // namespace lr::core
