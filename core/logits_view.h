// Plain descriptions of the tensors the kernels read and write, already
// validated by the C ABI layer: no DLPack, no framework types in core.
#pragma once

#include <cstdint>

namespace lr::core {

enum class ElemType : uint8_t { F32, BF16, F16 };

inline int elem_bytes(ElemType t) { return t == ElemType::F32 ? 4 : 2; }

// A [rows, cols] matrix of logits with unit stride along cols and any row
// stride, in elements.
struct LogitsView {
  const void* data = nullptr;
  ElemType type = ElemType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t row_stride = 0;

  const void* row(int64_t r) const {
    return static_cast<const char*>(data) + r * row_stride * elem_bytes(type);
  }
};

// The same, writable (the gradient).
struct MutLogitsView {
  void* data = nullptr;
  ElemType type = ElemType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t row_stride = 0;

  void* row(int64_t r) const {
    return static_cast<char*>(data) + r * row_stride * elem_bytes(type);
  }
};

// A strided vector or matrix of a plain C type (element strides).
template <class T>
struct Strided1D {
  T* data = nullptr;
  int64_t stride = 1;
  T& operator[](int64_t i) const { return data[i * stride]; }
};

template <class T>
struct Strided2D {
  T* data = nullptr;
  int64_t row_stride = 0;
  int64_t col_stride = 1;
  T& operator()(int64_t r, int64_t c) const { return data[r * row_stride + c * col_stride]; }
};

}  // namespace lr::core
