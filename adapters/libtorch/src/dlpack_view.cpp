// at::Tensor -> DLTensor, a view of the same storage (no copy), and the
// adapter's argument checks.
#include "adapter_common.h"

#include <c10/core/ScalarType.h>

namespace lr::torch_adapter {

namespace {

DLDataType dl_dtype(at::ScalarType s, const char* name) {
  switch (s) {
    case at::kFloat: return DLDataType{kDLFloat, 32, 1};
    case at::kDouble: return DLDataType{kDLFloat, 64, 1};  // the sharded calls' records
    case at::kBFloat16: return DLDataType{kDLBfloat, 16, 1};
    case at::kHalf: return DLDataType{kDLFloat, 16, 1};
    case at::kInt: return DLDataType{kDLInt, 32, 1};
    case at::kLong: return DLDataType{kDLInt, 64, 1};
    case at::kByte: return DLDataType{kDLUInt, 8, 1};
    case at::kBool: return DLDataType{kDLUInt, 8, 1};  // one byte holding 0 or 1
    default: break;
  }
  TORCH_CHECK(false, "lightreasoner: ", name, " has dtype ", s,
              "; expected float32, float64, bfloat16, float16, int32, int64, uint8 or bool");
}

DLDevice dl_device(const c10::Device& d, const char* name) {
  if (d.is_cpu()) return DLDevice{kDLCPU, 0};
  if (d.is_cuda()) return DLDevice{kDLCUDA, d.has_index() ? static_cast<int32_t>(d.index()) : 0};
  TORCH_CHECK(false, "lightreasoner: ", name, " is on device ", d, "; expected CPU or CUDA");
}

}  // namespace

DLTensorView::DLTensorView(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.defined(), "lightreasoner: ", name, " is an undefined tensor");
  TORCH_CHECK(t.dim() <= static_cast<int64_t>(shape_.size()), "lightreasoner: ", name, " has ", t.dim(),
              " dimensions; at most ", shape_.size(), " are supported");
  for (int64_t d = 0; d < t.dim(); ++d) {
    shape_[static_cast<size_t>(d)] = t.size(d);
    strides_[static_cast<size_t>(d)] = t.stride(d);
  }
  tensor_.data = t.numel() > 0 ? t.data_ptr() : nullptr;  // data_ptr includes the storage offset
  tensor_.device = dl_device(t.device(), name);
  tensor_.ndim = static_cast<int32_t>(t.dim());
  tensor_.dtype = dl_dtype(t.scalar_type(), name);
  tensor_.shape = shape_.data();
  tensor_.strides = strides_.data();
  tensor_.byte_offset = 0;
}

namespace detail {

void check_logits(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.defined(), "lightreasoner: ", name, " is an undefined tensor");
  TORCH_CHECK(t.dim() == 2, "lightreasoner: ", name, " must be 2-D [rows, vocab]; got ", t.sizes());
  const auto s = t.scalar_type();
  TORCH_CHECK(s == at::kFloat || s == at::kBFloat16 || s == at::kHalf, "lightreasoner: ", name,
              " has dtype ", s, "; expected float32, bfloat16 or float16");
  TORCH_CHECK(t.size(1) <= 1 || t.stride(1) == 1, "lightreasoner: ", name, " has stride ", t.stride(1),
              " along the vocabulary; it must be 1 (rows may have any stride). Call .contiguous() "
              "on it first (that copies the [rows, vocab] tensor, which lr_torch never does silently)");
}

void check_same_device(const at::Tensor& t, const char* name, const c10::Device& device) {
  TORCH_CHECK(t.defined(), "lightreasoner: ", name, " is an undefined tensor");
  TORCH_CHECK(t.device() == device, "lightreasoner: ", name, " is on ", t.device(), " but the logits are on ",
              device);
}

}  // namespace detail

}  // namespace lr::torch_adapter
