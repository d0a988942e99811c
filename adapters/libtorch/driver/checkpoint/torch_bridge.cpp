// safetensors views <-> LibTorch tensors (API shared by LibTorch 1.13 and 2.x).
#include "torch_bridge.h"

#include <cstring>
#include <vector>

namespace lr::driver {

namespace {

torch::ScalarType scalar_type_of(StDtype d) {
  switch (d) {
    case StDtype::F64: return torch::kFloat64;
    case StDtype::F32: return torch::kFloat32;
    case StDtype::F16: return torch::kFloat16;
    case StDtype::BF16: return torch::kBFloat16;
    case StDtype::I64: return torch::kInt64;
    case StDtype::I32: return torch::kInt32;
    case StDtype::I16: return torch::kInt16;
    case StDtype::I8: return torch::kInt8;
    case StDtype::U8: return torch::kUInt8;
    case StDtype::BOOL: return torch::kBool;
  }
  throw CheckpointError("safetensors: invalid dtype enum value");
}

std::string where(const TensorView& view) {
  const std::string path = source_path(view);
  return (path.empty() ? std::string() : path + ": ") + "tensor '" + view.name + "'";
}

bool convertible_float(StDtype d) { return d == StDtype::F32 || d == StDtype::BF16 || d == StDtype::F16; }

}  // namespace

torch::Tensor to_tensor(const TensorView& view) {
  const torch::ScalarType type = scalar_type_of(view.dtype);
  const auto options = torch::TensorOptions().dtype(type).device(torch::kCPU);
  const std::vector<int64_t> shape = view.shape;
  if (view.nbytes == 0) return torch::empty(shape, options);
  if (!view.data) throw CheckpointError(where(view) + ": no data");
  // The format does not promise aligned data (the header need not be padded to
  // 8 bytes): a misaligned tensor is copied rather than viewed.
  const size_t elem = st_dtype_size(view.dtype);
  if (reinterpret_cast<uintptr_t>(view.data) % elem != 0) {
    torch::Tensor copy = torch::empty(shape, options);
    std::memcpy(copy.data_ptr(), view.data, view.nbytes);
    return copy;
  }
  // The mapping is MAP_PRIVATE and writable: writing into the tensor copies the
  // page and never reaches the file. The deleter keeps the mapping alive.
  std::shared_ptr<const MappedFile> owner = view.owner;
  return torch::from_blob(
      const_cast<void*>(view.data), shape, [owner](void*) mutable { owner.reset(); }, options);
}

torch::Tensor to_tensor(const TensorView& view, torch::ScalarType want) {
  const torch::ScalarType have = scalar_type_of(view.dtype);
  if (have == want) return to_tensor(view);
  if (!convertible_float(view.dtype) ||
      (want != torch::kFloat32 && want != torch::kBFloat16 && want != torch::kFloat16))
  {
    std::string target = c10::toString(want);
    try {
      target = st_dtype_name(st_dtype_of(want));
    } catch (const CheckpointError&) {
    }
    throw CheckpointError(where(view) + ": cannot convert " + st_dtype_name(view.dtype) + " to " + target +
                          " (only among F32, BF16 and F16)");
  }
  return to_tensor(view).to(want);
}

StDtype st_dtype_of(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat64: return StDtype::F64;
    case torch::kFloat32: return StDtype::F32;
    case torch::kFloat16: return StDtype::F16;
    case torch::kBFloat16: return StDtype::BF16;
    case torch::kInt64: return StDtype::I64;
    case torch::kInt32: return StDtype::I32;
    case torch::kInt16: return StDtype::I16;
    case torch::kInt8: return StDtype::I8;
    case torch::kUInt8: return StDtype::U8;
    case torch::kBool: return StDtype::BOOL;
    default:
      throw CheckpointError(std::string("safetensors: unsupported tensor dtype ") + c10::toString(t));
  }
}

void save_tensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                  const std::map<std::string, std::string>& metadata) {
  std::vector<torch::Tensor> keep;  // CPU contiguous copies, alive until written
  std::vector<TensorToWrite> out;
  keep.reserve(tensors.size());
  out.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    if (!t.defined()) throw CheckpointError(path + ": tensor '" + name + "' is undefined");
    StDtype dt;
    try {
      dt = st_dtype_of(t.scalar_type());
    } catch (const CheckpointError& e) {
      throw CheckpointError(path + ": tensor '" + name + "': " + e.what());
    }
    torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
    const std::vector<int64_t> shape(c.sizes().begin(), c.sizes().end());
    const size_t nbytes = static_cast<size_t>(c.numel()) * c.element_size();
    out.push_back({name, dt, shape, nbytes ? c.data_ptr() : nullptr, nbytes});
    keep.push_back(std::move(c));
  }
  std::map<std::string, std::string> meta = metadata;
  meta.emplace("format", "pt");  // transformers refuses safetensors without it
  write_safetensors(path, out, meta);
}

}  // namespace lr::driver
