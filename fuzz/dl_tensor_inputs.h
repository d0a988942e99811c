// Arbitrary DLTensor descriptors and params structs decoded from a fuzz
// input, each tensor backed by a buffer exactly as large as it declares (so
// ASan flags any byte the library touches beyond it), and the property every
// failed C ABI call must have. Shared by the capi_args and capi_shard_args
// targets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "byte_reader.h"
#include "lightreasoner/lightreasoner.h"

namespace lr::fuzz {

struct Tensor {
  DLTensor t{};
  std::unique_ptr<int64_t[]> shape, strides;  // exactly ndim entries each
  std::unique_ptr<char[]> memory;
  size_t bytes = 0;
  bool present = false;
  DLTensor* get() { return present ? &t : nullptr; }
};

// A small count (most inputs), a small negative one, or any int64.
int64_t small_or_raw(ByteReader& in);

// False: the descriptor is honest but too large to back; skip the input.
bool decode_tensor(ByteReader& in, Tensor& x);

// The tensors' memory from the payload, repeated (NaNs and Infs included).
void fill(std::vector<Tensor*> tensors, const std::string& payload);

// NULL, the defaults, or every field from the input (struct_size kept
// right, or also from the input).
template <class P>
std::unique_ptr<P> params_from(ByteReader& in, P defaults) {
  const uint8_t m = in.take<uint8_t>() % 4;
  if (m == 0) return nullptr;
  auto p = std::make_unique<P>(defaults);
  if (m == 1) return p;
  const P raw = in.take<P>();
  *p = raw;
  if (m == 2) p->struct_size = sizeof(P);
  return p;
}

// The outputs' bytes before a call, to compare after it.
std::vector<std::string> snapshot(const std::vector<Tensor*>& outputs);

// A failed call leaves its outputs as they were and says why on one line;
// OUT_OF_MEMORY and INTERNAL are findings. Throws std::logic_error otherwise.
void check_outcome(lr_status s, const std::vector<Tensor*>& outputs, const std::vector<std::string>& before);

}  // namespace lr::fuzz
