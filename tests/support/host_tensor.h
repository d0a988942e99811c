// Owning CPU tensors for the tests: storage, shape and strides kept alive
// next to the DLTensor view the C ABI reads. Conversions to bfloat16 and
// float16 are written here independently of the library's own (round to
// nearest even), so the tests do not trust the code they check.
#pragma once

#include <dlpack/dlpack.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace lrtest {

enum class Dtype { F32, BF16, F16, I32, I64, U8 };

inline DLDataType dl_dtype(Dtype d) {
  switch (d) {
    case Dtype::F32: return DLDataType{kDLFloat, 32, 1};
    case Dtype::BF16: return DLDataType{kDLBfloat, 16, 1};
    case Dtype::F16: return DLDataType{kDLFloat, 16, 1};
    case Dtype::I32: return DLDataType{kDLInt, 32, 1};
    case Dtype::I64: return DLDataType{kDLInt, 64, 1};
    case Dtype::U8: return DLDataType{kDLUInt, 8, 1};
  }
  throw std::logic_error("dtype");
}

inline size_t dtype_bytes(Dtype d) {
  switch (d) {
    case Dtype::F32: case Dtype::I32: return 4;
    case Dtype::BF16: case Dtype::F16: return 2;
    case Dtype::I64: return 8;
    case Dtype::U8: return 1;
  }
  throw std::logic_error("dtype");
}

inline const char* dtype_name(Dtype d) {
  switch (d) {
    case Dtype::F32: return "f32";
    case Dtype::BF16: return "bf16";
    case Dtype::F16: return "f16";
    case Dtype::I32: return "i32";
    case Dtype::I64: return "i64";
    case Dtype::U8: return "u8";
  }
  return "?";
}

// float -> bfloat16 bits, round to nearest even; NaN stays a quiet NaN.
inline uint16_t float_to_bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if (std::isnan(f)) return static_cast<uint16_t>((u >> 16) | 0x40);
  uint32_t rounding = 0x7FFF + ((u >> 16) & 1);
  return static_cast<uint16_t>((u + rounding) >> 16);
}
inline float bf16_bits_to_float(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// float16 through the compiler's IEEE binary16 type (GCC/Clang on x86-64).
inline uint16_t float_to_f16_bits(float f) {
  _Float16 h = static_cast<_Float16>(f);
  uint16_t b;
  std::memcpy(&b, &h, 2);
  return b;
}
inline float f16_bits_to_float(uint16_t b) {
  _Float16 h;
  std::memcpy(&h, &b, 2);
  return static_cast<float>(h);
}

// The value a float becomes once stored in dtype d (what the library sees).
inline float round_to_dtype(float f, Dtype d) {
  switch (d) {
    case Dtype::BF16: return bf16_bits_to_float(float_to_bf16_bits(f));
    case Dtype::F16: return f16_bits_to_float(float_to_f16_bits(f));
    default: return f;
  }
}

// A CPU tensor of up to 2 dims. For 2-D tensors, row_stride (in elements)
// may exceed the number of columns: the tensor is then a view into a larger
// buffer whose extra columns are filled with `pad_value` (so a kernel that
// reads past the view's columns would see poison).
class HostTensor {
 public:
  HostTensor() = default;
  HostTensor(Dtype dtype, std::vector<int64_t> shape, int64_t row_stride = -1,
             float pad_value = std::numeric_limits<float>::quiet_NaN())
      : dtype_(dtype), shape_(std::move(shape)) {
    if (shape_.size() > 2) throw std::invalid_argument("HostTensor: at most 2 dims");
    int64_t rows = shape_.size() == 2 ? shape_[0] : 1;
    int64_t cols = shape_.empty() ? 1 : shape_.back();
    row_stride_ = row_stride < 0 ? cols : row_stride;
    if (shape_.size() == 2) strides_ = {row_stride_, 1};
    else if (shape_.size() == 1) strides_ = {1};
    int64_t n_elems = shape_.size() == 2 ? (rows > 0 ? (rows - 1) * row_stride_ + cols : 0) : cols;
    storage_.assign(static_cast<size_t>(std::max<int64_t>(n_elems, 1)) * dtype_bytes(dtype_), 0);
    if (is_float() && shape_.size() == 2)
      for (int64_t i = 0; i < n_elems; ++i) set_flat(i, pad_value);
    sync_view();
  }
  HostTensor(const HostTensor& o) : dtype_(o.dtype_), shape_(o.shape_), strides_(o.strides_),
      row_stride_(o.row_stride_), storage_(o.storage_), compact_strides_(o.compact_strides_) { sync_view(); }
  HostTensor& operator=(const HostTensor& o) {
    dtype_ = o.dtype_; shape_ = o.shape_; strides_ = o.strides_; row_stride_ = o.row_stride_;
    storage_ = o.storage_; compact_strides_ = o.compact_strides_;
    sync_view();
    return *this;
  }

  // The DLTensor view handed to the library (pointers into this object).
  DLTensor* dl() { return &view_; }
  const DLTensor* dl() const { return &view_; }

  Dtype dtype() const { return dtype_; }
  int64_t rows() const { return shape_.size() == 2 ? shape_[0] : 1; }
  int64_t cols() const { return shape_.empty() ? 1 : shape_.back(); }
  int64_t numel() const { int64_t n = 1; for (auto s : shape_) n *= s; return n; }
  bool is_float() const { return dtype_ == Dtype::F32 || dtype_ == Dtype::BF16 || dtype_ == Dtype::F16; }

  // Pass strides == NULL (compact row-major) instead of explicit strides.
  void use_null_strides() { compact_strides_ = true; sync_view(); }

  // Element access by (row, col) for 2-D or (0, i) / (i) for 1-D; floats
  // are converted to/from the storage dtype.
  double get(int64_t r, int64_t c) const { return get_flat(offset(r, c)); }
  void set(int64_t r, int64_t c, double v) { set_flat(offset(r, c), v); }
  double at(int64_t i) const { return get_flat(i * (strides_.empty() ? 1 : strides_[0])); }
  void set_at(int64_t i, double v) { set_flat(i * (strides_.empty() ? 1 : strides_[0]), v); }

  const std::vector<uint8_t>& bytes() const { return storage_; }
  void fill_bytes(uint8_t b) { std::memset(storage_.data(), b, storage_.size()); }

 private:
  int64_t offset(int64_t r, int64_t c) const {
    return shape_.size() == 2 ? r * row_stride_ + c : c + r;
  }
  double get_flat(int64_t i) const {
    const uint8_t* p = storage_.data() + static_cast<size_t>(i) * dtype_bytes(dtype_);
    switch (dtype_) {
      case Dtype::F32: { float f; std::memcpy(&f, p, 4); return f; }
      case Dtype::BF16: { uint16_t b; std::memcpy(&b, p, 2); return bf16_bits_to_float(b); }
      case Dtype::F16: { uint16_t b; std::memcpy(&b, p, 2); return f16_bits_to_float(b); }
      case Dtype::I32: { int32_t v; std::memcpy(&v, p, 4); return v; }
      case Dtype::I64: { int64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v); }
      case Dtype::U8: return *p;
    }
    return 0;
  }
  void set_flat(int64_t i, double v) {
    uint8_t* p = storage_.data() + static_cast<size_t>(i) * dtype_bytes(dtype_);
    switch (dtype_) {
      case Dtype::F32: { float f = static_cast<float>(v); std::memcpy(p, &f, 4); break; }
      case Dtype::BF16: { uint16_t b = float_to_bf16_bits(static_cast<float>(v)); std::memcpy(p, &b, 2); break; }
      case Dtype::F16: { uint16_t b = float_to_f16_bits(static_cast<float>(v)); std::memcpy(p, &b, 2); break; }
      case Dtype::I32: { int32_t x = static_cast<int32_t>(v); std::memcpy(p, &x, 4); break; }
      case Dtype::I64: { int64_t x = static_cast<int64_t>(v); std::memcpy(p, &x, 8); break; }
      case Dtype::U8: *p = static_cast<uint8_t>(v); break;
    }
  }
  void sync_view() {
    view_ = DLTensor{};
    view_.data = storage_.data();
    view_.device = DLDevice{kDLCPU, 0};
    view_.ndim = static_cast<int32_t>(shape_.size());
    view_.dtype = dl_dtype(dtype_);
    view_.shape = shape_.data();
    view_.strides = compact_strides_ ? nullptr : strides_.data();
    view_.byte_offset = 0;
  }

  Dtype dtype_ = Dtype::F32;
  std::vector<int64_t> shape_;
  std::vector<int64_t> strides_;
  int64_t row_stride_ = 0;
  std::vector<uint8_t> storage_;
  bool compact_strides_ = false;
  DLTensor view_{};
};

}  // namespace lrtest
