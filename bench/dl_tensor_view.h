// A DLPack view of a CPU or CUDA at::Tensor, so that a benchmark can hand
// LibTorch storage to the C ABI without copying. The view owns its shape and strides;
// the tensor must outlive it.
#pragma once

#include <dlpack/dlpack.h>
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <stdexcept>

namespace lrbench {

class DLTensorView {
 public:
  explicit DLTensorView(const at::Tensor& t) {
    if (!t.device().is_cpu() && !t.device().is_cuda())
      throw std::invalid_argument("DLTensorView: CPU or CUDA tensors only");
    if (t.dim() > 3) throw std::invalid_argument("DLTensorView: at most 3 dimensions");
    for (int64_t d = 0; d < t.dim(); ++d) {
      shape_[d] = t.size(d);
      strides_[d] = t.stride(d);
    }
    tensor_.data = t.data_ptr();
    tensor_.device = t.device().is_cuda() ? DLDevice{kDLCUDA, static_cast<int32_t>(t.device().index())}
                                          : DLDevice{kDLCPU, 0};
    tensor_.ndim = static_cast<int32_t>(t.dim());
    tensor_.dtype = dtype_of(t.scalar_type());
    tensor_.shape = shape_.data();
    tensor_.strides = strides_.data();
    tensor_.byte_offset = 0;
  }
  DLTensor* get() { return &tensor_; }
  const DLTensor* get() const { return &tensor_; }

 private:
  static DLDataType dtype_of(at::ScalarType s) {
    switch (s) {
      case at::kFloat: return DLDataType{kDLFloat, 32, 1};
      case at::kHalf: return DLDataType{kDLFloat, 16, 1};
      case at::kBFloat16: return DLDataType{kDLBfloat, 16, 1};
      case at::kInt: return DLDataType{kDLInt, 32, 1};
      case at::kLong: return DLDataType{kDLInt, 64, 1};
      case at::kDouble: return DLDataType{kDLFloat, 64, 1};
      case at::kByte: return DLDataType{kDLUInt, 8, 1};
      default: throw std::invalid_argument("DLTensorView: unsupported dtype");
    }
  }
  DLTensor tensor_{};
  std::array<int64_t, 3> shape_{};
  std::array<int64_t, 3> strides_{};
};

}  // namespace lrbench
