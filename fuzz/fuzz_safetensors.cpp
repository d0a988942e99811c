// A .safetensors file: the 8-byte header length, the JSON header (dtypes,
// shapes, data_offsets, __metadata__) and the tensor table. Every view the
// reader accepts is read byte by byte and must lie inside the file.
#include <numeric>
#include <string>

#include "checkpoint/safetensors.h"
#include "fuzz_targets.h"
#include "scratch_files.h"

namespace lr::fuzz {

int safetensors(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const std::string path = write_scratch("model.safetensors", bytes);
  try {
    const auto file = driver::SafetensorsFile::open(path);
    size_t total = 0;
    unsigned sum = 0;
    for (const auto& t : file.tensors()) {
      const int64_t numel = std::accumulate(t.shape.begin(), t.shape.end(), int64_t{1}, std::multiplies<>());
      if (size_t(numel) * driver::st_dtype_size(t.dtype) != t.nbytes || file.find(t.name) != &t)
        throw std::logic_error("safetensors: tensor '" + t.name + "' accepted with an inconsistent view");
      const auto* p = static_cast<const unsigned char*>(t.data);
      for (size_t i = 0; i < t.nbytes; ++i) sum += p[i];
      total += t.nbytes;
    }
    if (total > size) throw std::logic_error("safetensors: views hold more bytes than the file");
    (void)sum;
  } catch (const driver::CheckpointError&) {
  }
  return 0;
}

}  // namespace lr::fuzz
