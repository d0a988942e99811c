// What the sharded suites (tests/test_shard_*.cpp) share: partitions of a
// vocabulary into contiguous shards, the column slices a rank holds, record
// tensors (float64 / float32, 2-D or 3-D, with padded strides if asked), and
// the host's all-gather, simulated by copying every shard's records into one
// [W, rows, width] tensor.
#pragma once

#include <dlpack/dlpack.h>
#include <lightreasoner/lightreasoner.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/device_shim.h"
#include "support/host_tensor.h"

namespace lrtest {

// Shard r holds columns [cuts[r], cuts[r + 1]) of each model, except the
// last, which runs to the model's own full width (so the expert's and the
// amateur's shards differ only past the shared vocabulary).
struct Partition {
  std::vector<int64_t> cuts;  // cuts[0] = 0, non-decreasing, W + 1 entries (the last is ignored)
  std::string kind;

  int64_t shards() const { return static_cast<int64_t>(cuts.size()) - 1; }
  int64_t begin(int64_t r) const { return cuts[static_cast<size_t>(r)]; }
  int64_t end(int64_t r, int64_t full) const { return r + 1 == shards() ? full : cuts[static_cast<size_t>(r) + 1]; }
  std::string describe() const {
    std::ostringstream s;
    s << kind << " {";
    for (size_t i = 0; i < cuts.size(); ++i) s << (i ? "," : "") << cuts[i];
    s << "}";
    return s.str();
  }
};

// For W = 1..8: even cuts, random uneven cuts, one-column shards at the
// front, zero-column shards (repeated cuts), and cuts past `shared` (shards
// wholly past the shared vocabulary, when shared < limit). Cuts lie in
// [0, limit], limit = the smaller full width.
inline std::vector<Partition> partitions(int64_t shared, int64_t limit, uint32_t seed) {
  std::mt19937 g(seed);
  std::vector<Partition> out;
  for (int64_t w = 1; w <= 8; ++w) {
    Partition even{{0}, "even"};
    for (int64_t r = 1; r <= w; ++r) even.cuts.push_back(limit * r / w);
    out.push_back(even);
    if (w == 1) continue;
    Partition uneven{{}, "uneven"};
    std::uniform_int_distribution<int64_t> pick(0, limit);
    for (int64_t r = 1; r < w; ++r) uneven.cuts.push_back(pick(g));
    std::sort(uneven.cuts.begin(), uneven.cuts.end());
    uneven.cuts.insert(uneven.cuts.begin(), 0);
    uneven.cuts.push_back(limit);
    out.push_back(uneven);
    Partition ones{{0}, "one-column"};
    for (int64_t r = 1; r < w; ++r) ones.cuts.push_back(std::min(r, limit));
    ones.cuts.push_back(limit);
    out.push_back(ones);
    Partition empty{{0, 0}, "zero-column"};  // shard 0 empty, then an empty one in the middle
    for (int64_t r = 2; r < w; ++r) empty.cuts.push_back(r == w / 2 + 1 ? empty.cuts.back() : limit * r / w);
    empty.cuts.push_back(limit);
    out.push_back(empty);
    if (shared < limit) {
      Partition past{{0}, "past-shared"};  // the last shards lie wholly past S
      for (int64_t r = 1; r < w; ++r) past.cuts.push_back(r == 1 ? shared : shared + (limit - shared) * r / w);
      past.cuts.push_back(limit);
      out.push_back(past);
    }
  }
  return out;
}

// Columns [from, to) of every row, in the same dtype (an exact copy).
inline HostTensor column_slice(const HostTensor& t, int64_t from, int64_t to) {
  HostTensor s(t.dtype(), {t.rows(), to - from});
  for (int64_t i = 0; i < t.rows(); ++i)
    for (int64_t j = from; j < to; ++j) s.set(i, j - from, t.get(i, j));
  return s;
}

// The lr_vocab_shard of shard r of a partition.
inline lr_vocab_shard shard_of(const Partition& p, int64_t r, int64_t Ve, int64_t Va) {
  lr_vocab_shard sh{};
  sh.struct_size = sizeof sh;
  sh.column_offset = p.begin(r);
  sh.expert_vocab = Ve;
  sh.amateur_vocab = Va;
  return sh;
}

// A float64 or float32 record tensor: [rows, width] or [W, rows, width],
// unit stride along the record; row_pad > 0 spaces the rows apart.
class Records {
 public:
  Records(bool f64, std::vector<int64_t> shape, int64_t row_pad = 0) : f64_(f64), shape_(std::move(shape)) {
    const int64_t width = shape_.back(), rows = shape_[shape_.size() - 2];
    strides_.assign(shape_.size(), 1);
    strides_[shape_.size() - 2] = width + row_pad;
    if (shape_.size() == 3) strides_[0] = rows * (width + row_pad);
    int64_t span = 1;
    for (size_t d = 0; d < shape_.size(); ++d) span += (shape_[d] - 1) * strides_[d];
    data_.assign(static_cast<size_t>(std::max<int64_t>(span, 1)) * elem(), 0xCD);
    view_.data = data_.data();
    view_.device = DLDevice{kDLCPU, 0};
    view_.ndim = static_cast<int32_t>(shape_.size());
    view_.dtype = f64 ? DLDataType{kDLFloat, 64, 1} : DLDataType{kDLFloat, 32, 1};
    view_.shape = shape_.data();
    view_.strides = strides_.data();
  }
  Records(const Records&) = delete;
  Records& operator=(const Records&) = delete;
  Records(Records&& o) noexcept { *this = std::move(o); }
  Records& operator=(Records&& o) noexcept {
    f64_ = o.f64_;
    shape_ = std::move(o.shape_);
    strides_ = std::move(o.strides_);
    data_ = std::move(o.data_);
    view_ = o.view_;
    view_.data = data_.data();
    view_.shape = shape_.data();
    view_.strides = strides_.data();
    return *this;
  }

  DLTensor* dl() { return &view_; }
  // Element (w, r, c) of a 3-D tensor, or (r, c) of a 2-D one (w = 0).
  double get(int64_t w, int64_t r, int64_t c) const {
    const uint8_t* p = data_.data() + offset(w, r, c) * elem();
    if (f64_) { double d; std::memcpy(&d, p, 8); return d; }
    float f; std::memcpy(&f, p, 4); return f;
  }
  void set(int64_t w, int64_t r, int64_t c, double v) {
    uint8_t* p = data_.data() + offset(w, r, c) * elem();
    if (f64_) { std::memcpy(p, &v, 8); return; }
    const float f = static_cast<float>(v);
    std::memcpy(p, &f, 4);
  }
  const std::vector<uint8_t>& bytes() const { return data_; }

 private:
  size_t elem() const { return f64_ ? 8 : 4; }
  size_t offset(int64_t w, int64_t r, int64_t c) const {
    const size_t nd = shape_.size();
    int64_t o = r * strides_[nd - 2] + c;
    if (nd == 3) o += w * strides_[0];
    return static_cast<size_t>(o);
  }
  bool f64_ = true;
  std::vector<int64_t> shape_, strides_;
  std::vector<uint8_t> data_;
  DLTensor view_{};
};

// The host's all-gather: shard w's [rows, width] records into [W, rows, width]
// (bit for bit, as a collective moves them).
inline Records gather(std::vector<Records>& parts, bool f64, int64_t rows, int64_t width, int64_t row_pad = 0) {
  Records all(f64, {static_cast<int64_t>(parts.size()), rows, width}, row_pad);
  for (size_t w = 0; w < parts.size(); ++w)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < width; ++c) all.set(static_cast<int64_t>(w), r, c, parts[w].get(0, r, c));
  return all;
}

// Stage 1's first two steps on a partition: every rank's select stats (odd
// ranks' records with padded rows), all-gathered. e, a: the whole logits.
inline Records gathered_select_stats(const HostTensor& e, const HostTensor& a, const Partition& part, int64_t Ve,
                                     int64_t Va, const lr_select_params& p) {
  const int64_t n = e.rows(), width = LR_SHARD_SELECT_STATS;
  std::vector<Records> parts;
  for (int64_t r = 0; r < part.shards(); ++r) {
    HostTensor es = column_slice(e, part.begin(r), part.end(r, Ve));
    HostTensor as = column_slice(a, part.begin(r), part.end(r, Va));
    const lr_vocab_shard sh = shard_of(part, r, Ve, Va);
    parts.emplace_back(true, std::vector<int64_t>{n, width}, r % 2 ? 3 : 0);
    const lr_status s = shard_select_stats(es.dl(), as.dl(), &sh, &p, parts.back().dl(), nullptr);
    if (s != LR_OK) throw std::runtime_error(std::string("lr_shard_select_stats: ") + lr_last_error());
  }
  return gather(parts, true, n, width, part.shards() % 2);
}

}  // namespace lrtest
