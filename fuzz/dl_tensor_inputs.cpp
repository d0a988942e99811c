#include "dl_tensor_inputs.h"

#include <algorithm>
#include <stdexcept>

namespace lr::fuzz {
namespace {

// A descriptor whose bytes span more than this is skipped (the fuzzer cannot
// back terabytes); one whose span overflows int64 is passed with no memory
// behind it, and the library must refuse it without reading.
constexpr __int128 kMaxTensorBytes = 256 << 10;
constexpr __int128 kUnrepresentable = __int128(1) << 63;

DLDataType dtype_from(ByteReader& in) {
  static const DLDataType common[] = {{kDLFloat, 32, 1}, {kDLBfloat, 16, 1}, {kDLFloat, 16, 1},
                                      {kDLInt, 32, 1},   {kDLInt, 64, 1},    {kDLUInt, 8, 1}};
  const uint8_t c = in.take<uint8_t>() % 8;
  if (c < 6) return common[c];
  return {in.take<uint8_t>(), in.take<uint8_t>(), in.take<uint16_t>()};
}

DLDevice device_from(ByteReader& in) {
  const uint8_t d = in.take<uint8_t>() % 8;
  if (d < 6) return {kDLCPU, 0};
  if (d == 6) return {kDLCUDAHost, 0};
  return {static_cast<DLDeviceType>(in.take<int32_t>()), in.take<int32_t>()};
}

// [lowest, highest) byte offsets from data that the descriptor declares, or
// nothing for no elements. False when the span is not representable.
bool declared_span(const DLTensor& t, __int128& lo, __int128& hi, bool& empty) {
  const __int128 elem = std::max(1, (t.dtype.bits * t.dtype.lanes + 7) / 8);
  lo = hi = t.byte_offset;
  empty = false;
  for (int d = 0; d < t.ndim; ++d) {
    if (t.shape[d] <= 0) {
      empty = true;  // no element (or a negative size the library must refuse)
      continue;
    }
    __int128 stride = t.strides ? t.strides[d] : 1;
    for (int e = d + 1; !t.strides && e < t.ndim; ++e) {
      stride *= std::max<int64_t>(t.shape[e], 0);
      if (stride >= kUnrepresentable) return false;
    }
    const __int128 reach = __int128(t.shape[d] - 1) * stride;  // |each factor| <= 2^63
    if (reach >= kUnrepresentable || reach <= -kUnrepresentable) return false;
    (reach < 0 ? lo : hi) += reach * elem;
    if (hi - lo >= kUnrepresentable) return false;
  }
  hi += elem;
  return hi - lo < kUnrepresentable;
}

[[noreturn]] void violated(const std::string& what) { throw std::logic_error("capi fuzz property violated: " + what); }

}  // namespace

int64_t small_or_raw(ByteReader& in) {
  const uint8_t m = in.take<uint8_t>();
  if (m < 240) return m % 24;
  if (m < 248) return -int64_t(m % 8);
  return in.take<int64_t>();
}

// False: the descriptor is honest but too large to back; skip the input.
bool decode_tensor(ByteReader& in, Tensor& x) {
  x.present = in.take<uint8_t>() % 16 != 0;
  if (!x.present) return true;
  DLTensor& t = x.t;
  t.ndim = int(in.take<uint8_t>() % 6) - 1;  // -1 .. 4
  const int n = std::max(t.ndim, 0);
  x.shape.reset(new int64_t[n]);
  for (int d = 0; d < n; ++d) x.shape[d] = small_or_raw(in);
  t.shape = x.shape.get();
  if (in.take<uint8_t>() % 4 == 0) {
    x.strides.reset(new int64_t[n]);
    for (int d = 0; d < n; ++d) x.strides[d] = small_or_raw(in);
    t.strides = x.strides.get();
  }
  t.dtype = dtype_from(in);
  t.device = device_from(in);
  const uint8_t o = in.take<uint8_t>();
  t.byte_offset = o < 224 ? 0 : o < 255 ? o % 32 : in.take<uint64_t>();
  __int128 lo = 0, hi = 0;
  bool empty = false;
  const bool representable = declared_span(t, lo, hi, empty);
  // As a caller's: data is the buffer's start, byte_offset inside it. Bytes
  // before data (negative strides, which the library refuses) have no memory.
  if (representable && !empty && hi > kMaxTensorBytes) return false;
  x.bytes = representable && !empty && hi > 0 ? size_t(hi) : 0;
  x.memory.reset(new char[x.bytes]);
  t.data = x.memory.get();
  if (in.take<uint8_t>() % 32 == 0) t.data = nullptr;
  return true;
}

void fill(std::vector<Tensor*> tensors, const std::string& payload) {
  size_t at = 0;
  for (Tensor* x : tensors)
    for (size_t i = 0; i < x->bytes; ++i) x->memory[i] = payload.empty() ? 0 : payload[at++ % payload.size()];
}


std::vector<std::string> snapshot(const std::vector<Tensor*>& outputs) {
  std::vector<std::string> before;
  for (Tensor* x : outputs) before.emplace_back(x->memory.get(), x->bytes);
  return before;
}

// A failed call leaves its outputs as they were and says why on one line.
void check_outcome(lr_status s, const std::vector<Tensor*>& outputs, const std::vector<std::string>& before) {
  if (s < LR_OK || s > LR_ERR_INTERNAL) violated("status " + std::to_string(int(s)) + " is not an lr_status");
  if (s == LR_ERR_OUT_OF_MEMORY || s == LR_ERR_INTERNAL) violated(std::string("status ") + lr_status_string(s) + ": " + lr_last_error());
  if (s == LR_OK) return;
  const std::string message = lr_last_error();
  if (message.empty() || message.find('\n') != std::string::npos) violated("error message not one line: '" + message + "'");
  for (size_t i = 0; i < outputs.size(); ++i)
    if (std::string(outputs[i]->memory.get(), outputs[i]->bytes) != before[i])
      violated("output " + std::to_string(i) + " written by a failed call (" + message + ")");
}

}  // namespace lr::fuzz
