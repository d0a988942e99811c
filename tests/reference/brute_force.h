// The independent reference the numerical suites compare the library with.
//
// Plain, obviously-correct double-precision (long double for sums)
// brute force over std::vector<double> rows. It never calls the library and
// shares no code with it. Rows are fed the logits *as stored* (read back
// through lrtest::HostTensor::get, so bf16/f16 rounding has already
// happened), which makes the comparison tolerances cover only the library's
// float32 accumulation, not input rounding.
//
// Part 1 (namespace lrref) is the reference proper; part 2 (lrref::fx) holds
// small header-only helpers the suites share: row generators and the bridge
// between HostTensor and std::vector<double> rows.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "support/host_tensor.h"

namespace lrref {

using Row = std::vector<double>;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A data fault in z[0, S): any NaN or +Inf, or every entry -Inf.
bool is_data_fault(const Row& z, int64_t S);

// log softmax(z[0, S) / T) in double; -Inf entries give -Inf. Requires a row
// without data fault.
Row log_softmax(const Row& z, int64_t S, double T);

// KL(p_E || p_A) over ids [0, S) with p = softmax(z / T). Terms with
// p_E(a) = 0 (z_E(a) = -Inf) count 0; p_A(a) = 0 (z_A(a) = -Inf) where
// p_E(a) > 0 (z_E(a) finite) gives +Inf. Data fault in either row: NaN.
double kl(const Row& zE, const Row& zA, int64_t S, double T);

// The contrastive target of one row (lr_build_targets semantics).
struct Targets {
  bool fault = false;
  int64_t support_size = 0;       // |M| before truncation; -1 on a data fault
  std::vector<int32_t> support;   // all of M, ascending ids
  std::vector<int32_t> ids;       // the written entries (<= K), in written order
  std::vector<double> weights;    // their weights (sum 1)
  bool infinite_rule = false;     // some kept id has z_A = -Inf
};
// beta and T are the float parameters as the library receives them, widened.
Targets targets(const Row& zE, const Row& zA, int64_t S, double T, double beta, int64_t K);

// The distillation loss of one row, before reduction scaling:
//   loss = sum_k v_k log v_k - sum_k v_k log q(id_k),  q = softmax(z / T) over V
//   grad = (w q - v) / T,  w = sum_k v_k
// ids == -1 are skipped; terms with v_k = 0 count 0. A row of all -1 ids
// has loss 0 and gradient 0 even if its logits are faulty.
struct LossRow {
  bool fault = false;    // data fault: loss NaN, grad 0
  bool counted = false;  // at least one id != -1
  double loss = 0;
  Row grad;              // unscaled gradient (multiply by grad_scale / D)
};
LossRow loss_row(const Row& z, const std::vector<int32_t>& ids, const Row& v, double T);

enum class Reduction { None = 0, Sum = 1, Mean = 2 };

struct LossBatch {
  std::vector<double> row_loss;  // per row
  double reduced = 0;            // Sum: sum of rows; Mean: sum / counted; None: unused
  int64_t counted = 0;
  std::vector<Row> grad;         // grad_scale * (w q - v) / T / D; 0 for faults and padding rows
};
LossBatch distill_loss(const std::vector<Row>& z, const std::vector<std::vector<int32_t>>& ids,
                       const std::vector<Row>& v, Reduction red, double grad_scale, double T);

// |got - ref| <= atol + rtol * |ref|, with NaN matching NaN and infinities
// matching exactly.
inline bool close_enough(double got, double ref, double atol, double rtol) {
  if (std::isnan(ref)) return std::isnan(got);
  if (std::isinf(ref)) return got == ref;
  if (!std::isfinite(got)) return false;
  return std::fabs(got - ref) <= atol + rtol * std::fabs(ref);
}

// Same value bit for bit as far as a double readback can tell (NaN == NaN).
inline bool same_value(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

// ------------------------------------------------------------------ part 2

namespace fx {

using lrtest::Dtype;
using lrtest::HostTensor;

// Kinds of generated logit rows (normal ones and adversarial ones).
enum class RowKind {
  Normal,        // N(0, 3)
  Peaked,        // N(0, 0.5) with one entry at +25 (nearly one-hot)
  OneHot,        // one finite entry, the rest -Inf
  Uniform,       // all entries equal
  Huge,          // uniform in [-1e4, 1e4], with +1e4 and -1e4 present
  NegInfEntries, // N(0, 3) with about a third -Inf (at least one finite)
  TiesAtMax,     // N(0, 1) clamped below 3, with 2 to 4 entries exactly 4
  Perturbed,     // amateur only: expert row + N(0, 0.3) (small KL)
  HugeCluster,   // |z| ~ 1e4: 8 entries at base + N(0, 1.5) with base = +-(5e3..1e4),
                 // the rest in [-1e4, base - 50]: large offsets, several likely tokens
};

inline const char* kind_name(RowKind k) {
  switch (k) {
    case RowKind::Normal: return "Normal";
    case RowKind::Peaked: return "Peaked";
    case RowKind::OneHot: return "OneHot";
    case RowKind::Uniform: return "Uniform";
    case RowKind::Huge: return "Huge";
    case RowKind::NegInfEntries: return "NegInfEntries";
    case RowKind::TiesAtMax: return "TiesAtMax";
    case RowKind::Perturbed: return "Perturbed";
    case RowKind::HugeCluster: return "HugeCluster";
  }
  return "?";
}

inline Row make_row(RowKind k, int64_t V, std::mt19937& g) {
  Row z(static_cast<size_t>(V));
  std::normal_distribution<double> n3(0.0, 3.0), n1(0.0, 1.0), nh(0.0, 0.5);
  std::uniform_int_distribution<int64_t> pick(0, V - 1);
  switch (k) {
    case RowKind::Normal:
    case RowKind::Perturbed:
      for (auto& x : z) x = n3(g);
      break;
    case RowKind::Peaked:
      for (auto& x : z) x = nh(g);
      z[pick(g)] = 25.0;
      break;
    case RowKind::OneHot:
      for (auto& x : z) x = -kInf;
      z[pick(g)] = n1(g);
      break;
    case RowKind::Uniform: {
      double c = std::uniform_real_distribution<double>(-2.0, 2.0)(g);
      for (auto& x : z) x = c;
      break;
    }
    case RowKind::Huge: {
      std::uniform_real_distribution<double> u(-1e4, 1e4);
      for (auto& x : z) x = u(g);
      z[pick(g)] = 1e4;
      if (V > 1) z[pick(g)] = -1e4;
      break;
    }
    case RowKind::NegInfEntries: {
      std::bernoulli_distribution b(1.0 / 3.0);
      for (auto& x : z) x = b(g) ? -kInf : n3(g);
      z[pick(g)] = n3(g);
      break;
    }
    case RowKind::HugeCluster: {
      const double base = (std::bernoulli_distribution(0.5)(g) ? 1.0 : -1.0) *
                          std::uniform_real_distribution<double>(5e3, 1e4)(g);
      std::uniform_real_distribution<double> u(-1e4, base - 50.0);
      for (auto& x : z) x = u(g);
      for (int i = 0; i < 8; ++i) z[static_cast<size_t>(pick(g))] = std::min(base + 1.5 * n1(g), 1e4);
      z[static_cast<size_t>(pick(g))] = base;
      break;
    }
    case RowKind::TiesAtMax: {
      for (auto& x : z) x = std::min(n1(g), 3.0);
      int n = std::uniform_int_distribution<int>(2, 4)(g);
      for (int i = 0; i < n; ++i) z[pick(g)] = 4.0;
      break;
    }
  }
  return z;
}

// An amateur row for an expert row: Perturbed derives it from the expert's
// first min(Ve, Va) entries, any other kind is independent.
inline Row make_amateur(RowKind k, const Row& zE, int64_t Va, std::mt19937& g) {
  if (k != RowKind::Perturbed) return make_row(k, Va, g);
  Row z = make_row(RowKind::Normal, Va, g);
  std::normal_distribution<double> n(0.0, 0.3);
  for (size_t i = 0; i < z.size() && i < zE.size(); ++i) z[i] = zE[i] + n(g);
  return z;
}

// Pairs whose exact KL depends on p_E values that underflow even in float32
// for finite logits (a -Inf amateur entry where the expert is finite but
// exp(z - max) < 1e-4000): the header's "+Inf" is then a limit that float
// accumulation cannot see. The random pools avoid them.
inline bool ambiguous_pair(RowKind e, RowKind a) {
  return e == RowKind::Huge && (a == RowKind::OneHot || a == RowKind::NegInfEntries);
}

// Expert and amateur rows of width V (>= 2048) with stretches of the
// dtype's lowest finite value, what masking with torch.finfo(dtype).min
// writes: in the row's first chunk of 8, at the start of every chunk, over
// the first 2048 columns, and over the first 2048 of both models. Masks are
// logits (p ~ 0), not faults; where they come first, a scan's running
// maximum jumps by ~3.4e38 (f16: 65504) to the real logits.
struct MaskedRows {
  std::vector<Row> ze, za;
};
inline MaskedRows masked_rows(Dtype d, int64_t V, uint32_t seed) {
  const double mask = d == Dtype::F16 ? -65504.0 : d == Dtype::BF16 ? -3.3895313892515355e38 : -3.4028234663852886e38;
  std::mt19937 g(seed);
  std::normal_distribution<double> n(0.0, 2.0);
  MaskedRows m{std::vector<Row>(4, Row(size_t(V))), std::vector<Row>(4, Row(size_t(V)))};
  for (size_t i = 0; i < 4; ++i)
    for (size_t j = 0; j < size_t(V); ++j) {
      m.ze[i][j] = n(g);
      m.za[i][j] = n(g);
    }
  for (size_t j = 0; j < 8; ++j) m.ze[0][j] = mask;
  for (size_t j = 0; j < size_t(V); j += 8) m.ze[1][j] = m.ze[1][j + 1] = mask;
  for (size_t j = 0; j < 2048; ++j) m.ze[2][j] = m.ze[3][j] = m.za[3][j] = mask;
  return m;
}

// Stores rows into a [rows, V] tensor of dtype d; row_stride_extra > 0 makes
// it a view into a wider buffer whose extra columns hold NaN.
inline HostTensor make_logits(Dtype d, const std::vector<Row>& rows, int64_t V,
                              int64_t row_stride_extra = 0, bool null_strides = false) {
  const int64_t N = static_cast<int64_t>(rows.size());
  HostTensor t(d, {N, V}, row_stride_extra > 0 ? V + row_stride_extra : -1);
  if (null_strides) t.use_null_strides();
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < V; ++j) t.set(i, j, rows[static_cast<size_t>(i)][static_cast<size_t>(j)]);
  return t;
}

// The rows as stored (rounded to the dtype), the first `cols` columns.
inline std::vector<Row> read_rows(const HostTensor& t, int64_t cols = -1) {
  if (cols < 0) cols = t.cols();
  std::vector<Row> out(static_cast<size_t>(t.rows()), Row(static_cast<size_t>(cols)));
  for (int64_t i = 0; i < t.rows(); ++i)
    for (int64_t j = 0; j < cols; ++j) out[static_cast<size_t>(i)][static_cast<size_t>(j)] = t.get(i, j);
  return out;
}

// Sets columns [from, end) of every row to NaN: the library must not read them.
inline void poison_columns(std::vector<Row>& rows, int64_t from) {
  for (auto& r : rows)
    for (size_t j = static_cast<size_t>(from); j < r.size(); ++j) r[j] = kNaN;
}

// A one-dimensional tensor with an element stride > 1 (the header allows any
// stride for 1-D tensors); the skipped elements are filled with `fill`.
struct Strided1D {
  std::vector<uint8_t> storage;
  int64_t shape[1];
  int64_t strides[1];
  DLTensor view{};
  Dtype dtype;
  Strided1D(Dtype d, int64_t n, int64_t stride, uint8_t fill = 0xCD) : dtype(d) {
    shape[0] = n;
    strides[0] = stride;
    storage.assign(static_cast<size_t>(std::max<int64_t>(n * stride, 1)) * lrtest::dtype_bytes(d), fill);
    view.data = storage.data();
    view.device = DLDevice{kDLCPU, 0};
    view.ndim = 1;
    view.dtype = lrtest::dl_dtype(d);
    view.shape = shape;
    view.strides = strides;
    view.byte_offset = 0;
  }
  Strided1D(const Strided1D&) = delete;
  Strided1D& operator=(const Strided1D&) = delete;
  DLTensor* dl() { return &view; }
  uint8_t* elem(int64_t i) { return storage.data() + static_cast<size_t>(i * strides[0]) * lrtest::dtype_bytes(dtype); }
  double get(int64_t i) {
    uint8_t* p = elem(i);
    switch (dtype) {
      case Dtype::F32: { float f; std::memcpy(&f, p, 4); return f; }
      case Dtype::I32: { int32_t v; std::memcpy(&v, p, 4); return v; }
      case Dtype::I64: { int64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v); }
      case Dtype::U8: return *p;
      default: return kNaN;
    }
  }
  void set(int64_t i, double v) {
    uint8_t* p = elem(i);
    switch (dtype) {
      case Dtype::F32: { float f = static_cast<float>(v); std::memcpy(p, &f, 4); break; }
      case Dtype::I32: { int32_t x = static_cast<int32_t>(v); std::memcpy(p, &x, 4); break; }
      case Dtype::I64: { int64_t x = static_cast<int64_t>(v); std::memcpy(p, &x, 8); break; }
      case Dtype::U8: *p = static_cast<uint8_t>(v); break;
      default: break;
    }
  }
};

// Checks one row of lr_build_targets output (ids, weights: K entries as
// written; support: the written support_size) against the reference for
// logits rows zE, zA (as stored). Returns "" if it matches, else a
// description. Weight tolerance: |got - ref| <= weight_atol per id.
// Exact: fault padding, support_size, the id set, padding (-1 / 0.0f), the
// order (descending weight, ties lower id; reference weights within 1e-9
// relative of each other count as tied unless their inputs are identical, as
// the library's own double weights may break such near-ties either way).
// Also: weights >= 0, non-increasing, sum 1 within 1e-5, argmax written.
std::string check_targets(const std::vector<int32_t>& ids, const std::vector<double>& weights,
                          int64_t support, const Targets& ref, const Row& zE, const Row& zA,
                          int64_t S, double weight_atol);

// The logits dtypes every suite is parameterised over.
inline std::vector<Dtype> logit_dtypes() { return {Dtype::F32, Dtype::BF16, Dtype::F16}; }

// One unit in the last place of |x| in dtype d (for comparing a gradient
// that the library rounds to bf16/f16 with the rounded reference).
inline double ulp_in(double x, Dtype d) {
  int mant = d == Dtype::BF16 ? 7 : d == Dtype::F16 ? 10 : 23;
  int min_exp = d == Dtype::BF16 ? -126 : d == Dtype::F16 ? -14 : -126;  // smallest normal exponent
  double ax = std::fabs(x);
  int e = ax > 0 ? std::ilogb(ax) : min_exp;
  if (e < min_exp) e = min_exp;
  return std::ldexp(1.0, e - mant);
}

}  // namespace fx
}  // namespace lrref
