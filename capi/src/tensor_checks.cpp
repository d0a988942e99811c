#include "tensor_checks.h"

#ifdef LR_WITH_CUDA
#include "cuda_kernels.h"
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace lr::capi {
namespace {

std::string dims_of(const DLTensor* t) {
  std::string s = "[";
  for (int d = 0; d < t->ndim; ++d) s += (d ? ", " : "") + std::to_string(t->shape[d]);
  return s + "]";
}

std::string dtype_name(DLDataType d) {
  std::string base = d.code == kDLFloat ? "float" : d.code == kDLBfloat ? "bfloat" : d.code == kDLInt ? "int"
                   : d.code == kDLUInt ? "uint" : "code" + std::to_string(d.code) + "_";
  base += std::to_string(d.bits);
  if (d.lanes != 1) base += "x" + std::to_string(d.lanes);
  return base;
}

bool same_dtype(DLDataType a, DLDataType b) { return a.code == b.code && a.bits == b.bits && a.lanes == b.lanes; }

// Read as an int: a caller may put any value there, and loading one outside
// DLDeviceType's enumerators as the enum type is undefined behaviour.
int device_type(const DLDevice& d) {
  static_assert(sizeof(DLDeviceType) == sizeof(int), "DLDeviceType is an int-sized enum");
  int v = 0;
  std::memcpy(&v, &d.device_type, sizeof v);
  return v;
}

std::string device_name(DLDevice d) {
  switch (device_type(d)) {
    case kDLCPU: return "cpu";
    case kDLCUDAHost: return "cuda_host";
    case kDLCUDA: return "cuda:" + std::to_string(d.device_id);
    case kDLCUDAManaged: return "cuda_managed:" + std::to_string(d.device_id);
    default: return "device_type " + std::to_string(device_type(d));
  }
}

bool is_host(DLDevice d) { return device_type(d) == kDLCPU || device_type(d) == kDLCUDAHost; }

int64_t stride_of(const DLTensor* t, int d);

// The bytes the view spans, byte_offset included, fit in int64 (so that
// byte_range and the kernels' offsets cannot overflow).
void check_span(const DLTensor* t, const char* name, int bytes) {
  int64_t last = 0, span = 0;
  bool overflow = false;
  for (int d = 0; d < t->ndim && !overflow; ++d) {
    int64_t step = 0;
    overflow = __builtin_mul_overflow(t->shape[d] - 1, stride_of(t, d), &step) ||
               __builtin_add_overflow(last, step, &last);
  }
  overflow = overflow || __builtin_add_overflow(last, int64_t{1}, &span) ||
             __builtin_mul_overflow(span, int64_t{bytes}, &span) ||
             t->byte_offset > uint64_t(std::numeric_limits<int64_t>::max() - span);
  if (overflow)
    invalid(std::string(name) + ": shape " + dims_of(t) + " with its strides and byte_offset spans more than " +
            "2^63 bytes");
}

// Basic structure: not null, ndim, non-negative shape, no overflowing span,
// data present, alignment.
void check_structure(const DLTensor* t, const char* name, int ndim_expected) {
  require_not_null(t, name);
  if (t->ndim != ndim_expected)
    invalid(std::string(name) + ": expected " + std::to_string(ndim_expected) + " dimension(s), got " +
            std::to_string(t->ndim));
  if (t->ndim > 0 && !t->shape) invalid(std::string(name) + "->shape is NULL");
  // The product of the positive sizes bounds every size product computed
  // later (element counts, compact strides): checked once here.
  int64_t numel = 1, positive = 1;
  for (int d = 0; d < t->ndim; ++d) {
    if (t->shape[d] < 0) invalid(std::string(name) + ": negative size in shape " + dims_of(t));
    if (t->shape[d] > 0 && __builtin_mul_overflow(positive, t->shape[d], &positive))
      invalid(std::string(name) + ": shape " + dims_of(t) + " has more elements than int64 counts");
    if (t->shape[d] == 0) numel = 0;
  }
  if (numel) numel = positive;
  if (t->strides)
    for (int d = 0; d < t->ndim; ++d)
      if (t->strides[d] < 0)
        invalid(std::string(name) + ": negative strides are not supported (shape " + dims_of(t) + ")");
  if (numel > 0 && !t->data) invalid(std::string(name) + "->data is NULL");
  // data + byte_offset must be an address, empty tensors' too (found by fuzzing: a wrap is undefined).
  if (t->data && t->byte_offset > std::numeric_limits<uintptr_t>::max() - reinterpret_cast<uintptr_t>(t->data))
    invalid(std::string(name) + ": data + byte_offset (" + std::to_string(t->byte_offset) +
            ") wraps around the address space");
  const int bytes = (t->dtype.bits * t->dtype.lanes + 7) / 8;
  if (numel > 0) check_span(t, name, bytes);
  if (bytes > 0 && (reinterpret_cast<uintptr_t>(t->data) + t->byte_offset) % uintptr_t(bytes) != 0)
    invalid(std::string(name) + ": data + byte_offset is not aligned to its " + std::to_string(bytes) +
            "-byte elements");
}

int64_t stride_of(const DLTensor* t, int d) {
  if (t->strides) return t->strides[d];
  int64_t s = 1;
  for (int e = t->ndim - 1; e > d; --e) s *= t->shape[e];
  return s;
}

void require_dtype(const DLTensor* t, const char* name, DLDataType want) {
  if (!same_dtype(t->dtype, want))
    invalid(std::string(name) + ": dtype must be " + dtype_name(want) + ", got " + dtype_name(t->dtype));
}

template <class T>
T* element_base(const DLTensor* t) {
  if (!t->data) return nullptr;  // an empty tensor: its byte_offset points nowhere
  return reinterpret_cast<T*>(static_cast<char*>(t->data) + t->byte_offset);
}

}  // namespace

void require_not_null(const void* p, const char* name) {
  if (!p) invalid(std::string(name) + " is NULL");
}

void DeviceAgreement::add(const char* name, const DLTensor* t) {
  tensors_.emplace_back(name, t);
  if (!first_name_) {
    first_name_ = name;
    first_ = t->device;
    return;
  }
  const bool same = is_host(first_) ? is_host(t->device)
                                    : device_type(t->device) == device_type(first_) &&
                                          t->device.device_id == first_.device_id;
  if (!same)
    invalid(std::string(name) + " is on " + device_name(t->device) + " but " + first_name_ + " is on " +
            device_name(first_));
}

Placement DeviceAgreement::require_supported() const {
  if (!first_name_ || is_host(first_)) return {};
  if (device_type(first_) != kDLCUDA && device_type(first_) != kDLCUDAManaged)
    invalid(std::string(first_name_) + " is on " + device_name(first_) + ", which is not supported (cpu or cuda)");
#ifdef LR_WITH_CUDA
  for (const auto& [name, t] : tensors_) {
    if (!t->data) continue;  // empty tensors; a NULL with elements is reported by the shape checks
    const int where = core::cuda::pointer_device(static_cast<const char*>(t->data) + t->byte_offset);
    if (where != first_.device_id)
      invalid(std::string(name) + " is labelled " + device_name(t->device) + " but its memory is " +
              (where < 0 ? std::string("host memory") : "on cuda:" + std::to_string(where)));
  }
  return {true, first_.device_id};
#else
  fail(LR_ERR_UNSUPPORTED, std::string(first_name_) + " is on " + device_name(first_) +
                               ", but this build of liblightreasoner has no CUDA support (see lr_build_info())");
#endif
}

void check_cuda_target_slots(int64_t k, const char* name) {
#ifdef LR_WITH_CUDA
  if (k > core::cuda::kMaxTargetSlots)
    fail(LR_ERR_UNSUPPORTED, std::string(name) + ": K = " + std::to_string(k) + " target slots per row; the CUDA " +
                                 "kernels serve K <= " + std::to_string(core::cuda::kMaxTargetSlots) +
                                 " (CPU tensors have no such limit)");
#else
  (void)k;
  (void)name;
#endif
}

ByteRange byte_range(const DLTensor* t, const char* name) {
  ByteRange r{name};
  int64_t numel = 1, last = 0;
  for (int d = 0; d < t->ndim; ++d) {
    numel *= t->shape[d];
    if (t->shape[d] > 0) last += (t->shape[d] - 1) * stride_of(t, d);
  }
  if (numel == 0) return r;
  const int bytes = (t->dtype.bits * t->dtype.lanes + 7) / 8;
  r.begin = reinterpret_cast<uintptr_t>(t->data) + t->byte_offset;
  r.end = r.begin + uintptr_t(last + 1) * uintptr_t(bytes);
  return r;
}

bool same_view(const DLTensor* a, const DLTensor* b) {
  if (reinterpret_cast<uintptr_t>(a->data) + a->byte_offset != reinterpret_cast<uintptr_t>(b->data) + b->byte_offset)
    return false;
  if (!same_dtype(a->dtype, b->dtype) || a->ndim != b->ndim) return false;
  for (int d = 0; d < a->ndim; ++d)
    if (a->shape[d] != b->shape[d] || (a->shape[d] > 1 && stride_of(a, d) != stride_of(b, d))) return false;
  return true;
}

bool ranges_overlap(const ByteRange& a, const ByteRange& b) {
  return a.begin < a.end && b.begin < b.end && a.begin < b.end && b.begin < a.end;
}

void check_no_aliasing(const std::vector<ByteRange>& outputs, const std::vector<ByteRange>& inputs) {
  const auto overlap = ranges_overlap;
  for (size_t i = 0; i < outputs.size(); ++i) {
    for (size_t j = i + 1; j < outputs.size(); ++j)
      if (overlap(outputs[i], outputs[j]))
        invalid(std::string(outputs[i].name) + " and " + outputs[j].name + " share memory");
    for (const ByteRange& in : inputs)
      if (overlap(outputs[i], in))
        invalid(std::string(outputs[i].name) + " shares memory with the input " + in.name);
  }
}

core::LogitsView check_logits(const DLTensor* t, const char* name, bool writable) {
  check_structure(t, name, 2);
  core::LogitsView v;
  const DLDataType d = t->dtype;
  if (d.lanes == 1 && d.code == kDLFloat && d.bits == 32) v.type = core::ElemType::F32;
  else if (d.lanes == 1 && d.code == kDLBfloat && d.bits == 16) v.type = core::ElemType::BF16;
  else if (d.lanes == 1 && d.code == kDLFloat && d.bits == 16) v.type = core::ElemType::F16;
  else invalid(std::string(name) + ": dtype must be float32, bfloat16 or float16, got " + dtype_name(d));
  v.rows = t->shape[0];
  v.cols = t->shape[1];
  if (v.cols > std::numeric_limits<int32_t>::max())
    invalid(std::string(name) + ": " + std::to_string(v.cols) + " columns exceed the int32 token ids");
  if (v.cols > 1 && stride_of(t, 1) != 1)
    invalid(std::string(name) + ": the stride along the vocabulary must be 1, got " + std::to_string(stride_of(t, 1)));
  v.row_stride = stride_of(t, 0);
  if (writable && v.rows > 1 && v.row_stride < v.cols)
    invalid(std::string(name) + ": row stride " + std::to_string(v.row_stride) + " makes rows overlap");
  v.data = element_base<const char>(t);
  return v;
}

template <class T>
core::Strided1D<T> check_vector(const DLTensor* t, const char* name, DLDataType dtype, int64_t length,
                                bool writable) {
  check_structure(t, name, 1);
  require_dtype(t, name, dtype);
  if (t->shape[0] != length)
    invalid(std::string(name) + ": expected shape [" + std::to_string(length) + "], got " + dims_of(t));
  const int64_t stride = stride_of(t, 0);
  if (writable && length > 1 && stride == 0) invalid(std::string(name) + ": stride 0 makes elements overlap");
  return {element_base<T>(t), stride};
}

template <class T>
core::Strided2D<T> check_matrix(const DLTensor* t, const char* name, DLDataType dtype, int64_t rows,
                                int64_t cols, bool writable) {
  check_structure(t, name, 2);
  require_dtype(t, name, dtype);
  if (t->shape[0] != rows || t->shape[1] != cols)
    invalid(std::string(name) + ": expected shape [" + std::to_string(rows) + ", " + std::to_string(cols) +
            "], got " + dims_of(t));
  const int64_t rs = stride_of(t, 0), cs = stride_of(t, 1);
  if (writable && rows > 0 && cols > 0) {
    // Distinct elements: the larger stride must step over the other dimension.
    const bool row_major = rs >= cs;
    const int64_t inner_stride = row_major ? cs : rs, inner_len = row_major ? cols : rows;
    const int64_t outer_stride = row_major ? rs : cs, outer_len = row_major ? rows : cols;
    if ((inner_len > 1 && inner_stride == 0) || (outer_len > 1 && outer_stride < inner_stride * inner_len))
      invalid(std::string(name) + ": its strides make elements overlap");
  }
  return {element_base<T>(t), rs, cs};
}

int64_t matrix_cols(const DLTensor* t, const char* name) {
  check_structure(t, name, 2);
  return t->shape[1];
}

float* check_scalar_output(const DLTensor* t, const char* name) {
  require_not_null(t, name);
  if (!(t->ndim == 0 || (t->ndim == 1 && t->shape && t->shape[0] == 1)))
    invalid(std::string(name) + ": a reduced loss needs a 0-d or [1] tensor, got " +
            std::to_string(t->ndim) + " dimension(s)" + (t->ndim > 0 && t->shape ? " " + dims_of(t) : ""));
  check_structure(t, name, t->ndim);
  require_dtype(t, name, dl_float32());
  return element_base<float>(t);
}

int64_t resolve_shared_vocab(int64_t requested, int64_t ve, int64_t va, const char* params_name) {
  const int64_t limit = std::min(ve, va);
  if (requested < 0 || requested > limit)
    invalid(std::string(params_name) + "->shared_vocab is " + std::to_string(requested) +
            ", must be in [0, min(Ve, Va)] = [0, " + std::to_string(limit) + "] (0 means min(Ve, Va))");
  return requested == 0 ? limit : requested;
}

void check_temperature(float t, const char* params_name) {
  if (!(t > 0.0f) || !std::isfinite(t))
    invalid(std::string(params_name) + "->temperature is " + std::to_string(t) + ", must be finite and > 0");
}

DLDataType dl_float32() { return DLDataType{kDLFloat, 32, 1}; }
DLDataType dl_int32() { return DLDataType{kDLInt, 32, 1}; }
DLDataType dl_int64() { return DLDataType{kDLInt, 64, 1}; }
DLDataType dl_uint8() { return DLDataType{kDLUInt, 8, 1}; }

template core::Strided1D<float> check_vector<float>(const DLTensor*, const char*, DLDataType, int64_t, bool);
template core::Strided1D<uint8_t> check_vector<uint8_t>(const DLTensor*, const char*, DLDataType, int64_t, bool);
template core::Strided1D<int32_t> check_vector<int32_t>(const DLTensor*, const char*, DLDataType, int64_t, bool);
template core::Strided1D<const int64_t> check_vector<const int64_t>(const DLTensor*, const char*, DLDataType,
                                                                    int64_t, bool);
template core::Strided2D<int32_t> check_matrix<int32_t>(const DLTensor*, const char*, DLDataType, int64_t,
                                                        int64_t, bool);
template core::Strided2D<float> check_matrix<float>(const DLTensor*, const char*, DLDataType, int64_t, int64_t,
                                                    bool);
template core::Strided2D<const int32_t> check_matrix<const int32_t>(const DLTensor*, const char*, DLDataType,
                                                                    int64_t, int64_t, bool);
template core::Strided2D<const float> check_matrix<const float>(const DLTensor*, const char*, DLDataType,
                                                                int64_t, int64_t, bool);

}  // namespace lr::capi

namespace lr::capi {

LogitsPairInputs check_logits_pair(const DLTensor* expert, const DLTensor* amateur, int64_t shared_vocab,
                                     const char* params_name) {
  LogitsPairInputs in;
  in.expert = check_logits(expert, "expert_logits");
  in.amateur = check_logits(amateur, "amateur_logits");
  if (in.expert.rows != in.amateur.rows)
    invalid("expert_logits has " + std::to_string(in.expert.rows) + " rows but amateur_logits has " +
            std::to_string(in.amateur.rows));
  if (in.expert.rows > 0 && in.expert.cols == 0) invalid("expert_logits has a vocabulary of size 0");
  if (in.amateur.rows > 0 && in.amateur.cols == 0) invalid("amateur_logits has a vocabulary of size 0");
  in.shared_vocab = resolve_shared_vocab(shared_vocab, in.expert.cols, in.amateur.cols, params_name);
  in.expert_range = byte_range(expert, "expert_logits");
  in.amateur_range = byte_range(amateur, "amateur_logits");
  return in;
}

}  // namespace lr::capi

namespace lr::capi {

void check_beta(float beta, const char* params_name) {
  if (!(beta > 0.0f && beta <= 1.0f))
    invalid(std::string(params_name) + "->beta is " + std::to_string(beta) + ", must be in (0, 1]");
}

// target_ids [M, K], target_weights [M, K], support_size [M]: validated together.
core::cpu::TargetOutputs check_target_outputs(DLTensor* target_ids, DLTensor* target_weights,
                                              DLTensor* support_size, int64_t m) {
  core::cpu::TargetOutputs out;
  out.k = matrix_cols(target_ids, "target_ids");
  if (out.k < 1) invalid("target_ids: K (its second dimension) must be >= 1, got " + std::to_string(out.k));
  out.ids = check_matrix<int32_t>(target_ids, "target_ids", dl_int32(), m, out.k, true);
  out.weights = check_matrix<float>(target_weights, "target_weights", dl_float32(), m, out.k, true);
  out.support_size = check_vector<int32_t>(support_size, "support_size", dl_int32(), m, true);
  return out;
}

}  // namespace lr::capi

namespace lr::capi {

DLDataType dl_float64() { return DLDataType{kDLFloat, 64, 1}; }

lr_vocab_shard read_shard(const lr_vocab_shard* shard) {
  require_not_null(shard, "shard");
  if (shard->struct_size < sizeof(lr_vocab_shard))
    invalid("shard->struct_size is " + std::to_string(shard->struct_size) + ", smaller than the " +
            std::to_string(sizeof(lr_vocab_shard)) + " bytes of ABI 1.1 (set it to sizeof(lr_vocab_shard))");
  const lr_vocab_shard sh = *shard;
  if (sh.column_offset < 0)
    invalid("shard->column_offset is " + std::to_string(sh.column_offset) + ", must be >= 0");
  if (sh.expert_vocab < 0) invalid("shard->expert_vocab is " + std::to_string(sh.expert_vocab) + ", must be >= 0");
  if (sh.amateur_vocab < 0)
    invalid("shard->amateur_vocab is " + std::to_string(sh.amateur_vocab) + ", must be >= 0");
  return sh;
}

void check_shard_fits(const lr_vocab_shard& sh, int64_t cols, int64_t full, const char* tensor,
                      const char* width_field, int64_t empty_start_limit) {
  // A side without columns reads nothing: it may start past its own model's
  // width up to empty_start_limit (a narrower amateur has nothing at the
  // wider expert's last offsets).
  const int64_t start_limit = cols == 0 ? std::max(full, empty_start_limit) : full;
  if (sh.column_offset > start_limit || cols > full - std::min(sh.column_offset, full))  // v0 + cols > full
    invalid(std::string(tensor) + ": columns [" + std::to_string(sh.column_offset) + ", " +
            std::to_string(sh.column_offset) + " + " + std::to_string(cols) + ") pass shard->" + width_field +
            " = " + std::to_string(full));
}

ShardPairInputs check_shard_pair(const DLTensor* expert, const DLTensor* amateur, const lr_vocab_shard* shard,
                                 int64_t shared_vocab, const char* params_name) {
  ShardPairInputs in;
  const lr_vocab_shard sh = read_shard(shard);
  in.expert = check_logits(expert, "expert_shard");
  in.amateur = check_logits(amateur, "amateur_shard");
  if (in.expert.rows != in.amateur.rows)
    invalid("expert_shard has " + std::to_string(in.expert.rows) + " rows but amateur_shard has " +
            std::to_string(in.amateur.rows));
  if (sh.expert_vocab < 1) invalid("shard->expert_vocab is 0: the expert's full width must be >= 1");
  if (sh.amateur_vocab < 1) invalid("shard->amateur_vocab is 0: the amateur's full width must be >= 1");
  const int64_t wider = std::max(sh.expert_vocab, sh.amateur_vocab);
  check_shard_fits(sh, in.expert.cols, sh.expert_vocab, "expert_shard", "expert_vocab", wider);
  check_shard_fits(sh, in.amateur.cols, sh.amateur_vocab, "amateur_shard", "amateur_vocab", wider);
  in.shared_vocab = resolve_shared_vocab(shared_vocab, sh.expert_vocab, sh.amateur_vocab, params_name);
  const int64_t v0 = sh.column_offset, S = in.shared_vocab;
  const int64_t e_end = std::min(v0 + in.expert.cols, S), a_end = std::min(v0 + in.amateur.cols, S);
  if (e_end != a_end)
    invalid("expert_shard and amateur_shard hold different columns of the shared vocabulary: [" +
            std::to_string(v0) + ", " + std::to_string(std::max(e_end, v0)) + ") and [" + std::to_string(v0) +
            ", " + std::to_string(std::max(a_end, v0)) + ") below shared_vocab = " + std::to_string(S));
  in.cols = {v0, std::max<int64_t>(e_end - v0, 0)};
  in.expert_range = byte_range(expert, "expert_shard");
  in.amateur_range = byte_range(amateur, "amateur_shard");
  return in;
}

template <class T>
core::RecordRows<T> check_record_output(DLTensor* t, const char* name, DLDataType dtype, int64_t rows,
                                        int64_t width) {
  const core::Strided2D<T> m = check_matrix<T>(t, name, dtype, rows, width, true);
  if (width > 1 && m.col_stride != 1)
    invalid(std::string(name) + ": the stride along the record must be 1, got " + std::to_string(m.col_stride));
  if (rows > 1 && m.row_stride < width)
    invalid(std::string(name) + ": row stride " + std::to_string(m.row_stride) + " makes records overlap");
  return {m.data, rows, width, m.row_stride};
}

template <class T>
core::GatheredRecords<T> check_gathered(const DLTensor* t, const char* name, DLDataType dtype, int64_t rows,
                                        int64_t width) {
  check_structure(t, name, 3);
  require_dtype(t, name, dtype);
  const int64_t w = t->shape[0];
  if (w < 1) invalid(std::string(name) + ": W (its first dimension, the number of shards) must be >= 1, got 0");
  if ((rows >= 0 && t->shape[1] != rows) || t->shape[2] != width)
    invalid(std::string(name) + ": expected shape [W, " + (rows >= 0 ? std::to_string(rows) : std::string("N")) +
            ", " + std::to_string(width) + "], got " + dims_of(t));
  if (width > 1 && stride_of(t, 2) != 1)
    invalid(std::string(name) + ": the stride along the record must be 1, got " + std::to_string(stride_of(t, 2)));
  return {element_base<const T>(t), w, t->shape[1], width, stride_of(t, 0), stride_of(t, 1)};
}

int64_t candidates_k_of(const DLTensor* t, const char* name, int dim) {
  require_not_null(t, name);
  if (t->ndim <= dim || !t->shape) return 1;  // the shape check names the fault
  const int64_t width = t->shape[dim];
  if (width < 4 || (width - 1) % 3 != 0)
    invalid(std::string(name) + ": the record width is " + std::to_string(width) +
            ", must be LR_SHARD_CANDIDATES(K) = 1 + 3K with K >= 1");
  return core::candidates_k(width);
}

core::Strided1D<const int64_t> check_row_indices(const DLTensor* rows, int64_t n, bool on_device, int64_t* m) {
  *m = rows->ndim == 1 && rows->shape ? rows->shape[0] : -1;  // else check_vector names the fault
  const core::Strided1D<const int64_t> index = check_vector<const int64_t>(rows, "rows", dl_int64(), *m, false);
  // Device-resident indices are checked by the kernel (a bad one makes a
  // fault row): reading them here would need a synchronisation.
  for (int64_t j = 0; j < *m && !on_device; ++j)
    if (index[j] < 0 || index[j] >= n)
      invalid("rows[" + std::to_string(j) + "] = " + std::to_string(index[j]) + " is outside [0, " +
              std::to_string(n) + ")");
  return index;
}

template core::RecordRows<double> check_record_output<double>(DLTensor*, const char*, DLDataType, int64_t, int64_t);
template core::RecordRows<float> check_record_output<float>(DLTensor*, const char*, DLDataType, int64_t, int64_t);
template core::GatheredRecords<double> check_gathered<double>(const DLTensor*, const char*, DLDataType, int64_t,
                                                              int64_t);
template core::GatheredRecords<float> check_gathered<float>(const DLTensor*, const char*, DLDataType, int64_t,
                                                            int64_t);
template core::Strided2D<double> check_matrix<double>(const DLTensor*, const char*, DLDataType, int64_t, int64_t,
                                                      bool);

}  // namespace lr::capi

namespace lr::capi {

int check_loss_params(const lr_loss_params& p) {
  check_temperature(p.temperature, "params");
  // Read as an int: a caller's out-of-range enum value must not be loaded as the enum type.
  static_assert(sizeof(lr_reduction) == sizeof(int), "lr_reduction is an int-sized enum");
  int reduction = 0;
  std::memcpy(&reduction, &p.reduction, sizeof reduction);
  if (reduction != LR_REDUCTION_NONE && reduction != LR_REDUCTION_SUM && reduction != LR_REDUCTION_MEAN)
    invalid("params->reduction is " + std::to_string(reduction) + ", not an lr_reduction");
  if (!std::isfinite(p.grad_scale)) invalid("params->grad_scale must be finite");
  return reduction;
}

core::cpu::SparseTargets check_sparse_targets(const DLTensor* target_ids, const DLTensor* target_weights,
                                              int64_t n) {
  core::cpu::SparseTargets targets;
  targets.k = matrix_cols(target_ids, "target_ids");
  if (targets.k < 1) invalid("target_ids: K (its second dimension) must be >= 1, got " + std::to_string(targets.k));
  targets.ids = check_matrix<const int32_t>(target_ids, "target_ids", dl_int32(), n, targets.k, false);
  targets.weights = check_matrix<const float>(target_weights, "target_weights", dl_float32(), n, targets.k, false);
  return targets;
}

int64_t check_target_entries(const core::cpu::SparseTargets& t, int64_t n, int64_t v) {
  std::vector<int32_t> row_ids;
  row_ids.reserve(static_cast<size_t>(t.k));
  int64_t counted = 0;
  for (int64_t i = 0; i < n; ++i) {
    row_ids.clear();
    for (int64_t j = 0; j < t.k; ++j) {
      const int32_t id = t.ids(i, j);
      const float w = t.weights(i, j);
      const std::string at = "[" + std::to_string(i) + ", " + std::to_string(j) + "]";
      if (id < -1 || id >= v)
        invalid("target_ids" + at + " = " + std::to_string(id) + " is outside [-1, V = " + std::to_string(v) + ")");
      if (!std::isfinite(w) || w < 0.0f)
        invalid("target_weights" + at + " = " + std::to_string(w) + " must be finite and >= 0");
      if (id == -1 && w != 0.0f)
        invalid("target_weights" + at + " = " + std::to_string(w) + " but target_ids" + at +
                " is -1 (padding needs weight 0)");
      if (id >= 0) row_ids.push_back(id);
    }
    std::sort(row_ids.begin(), row_ids.end());
    const auto dup = std::adjacent_find(row_ids.begin(), row_ids.end());
    if (dup != row_ids.end())
      invalid("target_ids row " + std::to_string(i) + " has the id " + std::to_string(*dup) + " twice");
    counted += row_ids.empty() ? 0 : 1;
  }
  return counted;
}

LossOutput check_loss_output(DLTensor* loss_out, int reduction, int64_t n) {
  LossOutput out;
  if (reduction == LR_REDUCTION_NONE) out.rows = check_vector<float>(loss_out, "loss_out", dl_float32(), n, true);
  else out.scalar = check_scalar_output(loss_out, "loss_out");
  return out;
}

GradOutput check_grad_output(DLTensor* grad_logits, const DLTensor* logits, const core::LogitsView& z,
                             const char* logits_name) {
  GradOutput out;
  if (!grad_logits) return out;
  out.in_place = same_view(grad_logits, logits);
  const core::LogitsView g = check_logits(grad_logits, "grad_logits", true);
  if (g.type != z.type) invalid(std::string("grad_logits must have the dtype of ") + logits_name);
  if (g.rows != z.rows || g.cols != z.cols)
    invalid("grad_logits: expected shape [" + std::to_string(z.rows) + ", " + std::to_string(z.cols) + "], got [" +
            std::to_string(g.rows) + ", " + std::to_string(g.cols) + "]");
  if (!out.in_place && ranges_overlap(byte_range(grad_logits, "grad_logits"), byte_range(logits, logits_name)))
    invalid(std::string("grad_logits partly overlaps ") + logits_name + " (pass " + logits_name +
            " itself for an in-place gradient)");
  out.grad = {const_cast<void*>(g.data), g.type, g.rows, g.cols, g.row_stride};
  return out;
}

double loss_grad_coef(const lr_loss_params& p, int reduction, int64_t counted) {
  const double divisor = reduction == LR_REDUCTION_MEAN && counted > 0 ? double(counted) : 1.0;
  return double(p.grad_scale) / divisor;
}

void write_loss(const LossOutput& out, int reduction, const std::vector<double>& row_loss, int64_t counted) {
  if (reduction == LR_REDUCTION_NONE) {
    for (size_t i = 0; i < row_loss.size(); ++i) out.rows[static_cast<int64_t>(i)] = static_cast<float>(row_loss[i]);
    return;
  }
  double total = 0.0;  // in row order: the same result for any thread count
  for (double l : row_loss) total += l;
  *out.scalar = static_cast<float>(reduction == LR_REDUCTION_MEAN ? (counted > 0 ? total / double(counted) : 0.0)
                                                                  : total);
}

}  // namespace lr::capi

namespace lr::capi {

LossShardInputs check_loss_shard(const DLTensor* logits_shard, const lr_vocab_shard* shard) {
  const lr_vocab_shard sh = read_shard(shard);
  LossShardInputs in;
  in.z = check_logits(logits_shard, "logits_shard");
  in.full_vocab = sh.expert_vocab;
  if (in.full_vocab < 1) invalid("shard->expert_vocab is 0: the trained model's full width V must be >= 1");
  check_shard_fits(sh, in.z.cols, in.full_vocab, "logits_shard", "expert_vocab", in.full_vocab);
  in.cols = {sh.column_offset, in.z.cols};
  return in;
}

}  // namespace lr::capi
