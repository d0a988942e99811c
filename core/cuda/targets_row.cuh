// The second half of a select/targets row on the GPU: from the candidates
// gathered during the streaming pass (select_targets_row.cuh: ids with their
// expert and amateur logits, in shared memory) to the row's contrastive
// target, with the semantics of its CPU form, core/cpu/targets_row.cpp: the
// exact support test in double, the top K by expert logit (ties: lower id),
// weights softmax((zE - zA) / T) over the kept support in double (or
// p_E-proportional over the ids whose p_A = 0), written in descending weight
// order (ties: lower id).
// Also the rare path for flat rows whose candidates overflowed the buffer:
// the exact support is re-read from the expert row, and when it is larger
// than the buffer its top K is found by radix selection.
#pragma once

#include <cstdint>

#include "block_reduce.cuh"
#include "elements.cuh"

namespace lr::core::cuda {

// A row's candidate buffer in shared memory (capacity entries each).
// id < 0 marks an entry that is not (or no longer) in the kept support.
struct Candidates {
  int32_t* id;
  float* ze;     // expert logit, raw
  float* za;     // amateur logit, raw
  double* val;   // working values (contrast score, then weight)
  int32_t* rank;
  int capacity;
};

struct RowTargetOut {
  int32_t* ids;
  int64_t ids_stride;  // between slots
  float* weights;
  int64_t weights_stride;
  int32_t* support_size;  // one element
};

// A row's candidate buffer for K target slots: at least kMinCandidates
// entries, K rounded up to a warp's multiple.
constexpr int kMinCandidates = 1024;

inline int candidate_capacity(int64_t k) {
  if (k <= 0) return 0;
  const int64_t rounded = (k + 31) / 32 * 32;
  return static_cast<int>(rounded > kMinCandidates ? rounded : kMinCandidates);
}

inline size_t candidate_bytes(int capacity) {
  // val (double) first for alignment, then the 4-byte arrays.
  return size_t(capacity) * (sizeof(double) + 4 * sizeof(int32_t));
}

// The buffer laid out in (8-byte aligned) shared memory at `smem`.
__device__ __forceinline__ Candidates candidates_at(unsigned char* smem, int capacity) {
  Candidates c;
  c.capacity = capacity;
  c.val = reinterpret_cast<double*>(smem);
  c.id = reinterpret_cast<int32_t*>(c.val + capacity);
  c.ze = reinterpret_cast<float*>(c.id + capacity);
  c.za = c.ze + capacity;
  c.rank = reinterpret_cast<int32_t*>(c.za + capacity);
  return c;
}

// Block-shared state of a radix selection over unsigned keys (8 bits a pass).
template <class Key>
struct RadixShared {
  unsigned hist[256];
  Key prefix, mask;
  int remaining;
};

// The k-th largest (k >= 1, at most the number of keys) of the keys that
// key_of(i, key) yields for i in [0, n) (it returns false for an i that has
// none): afterwards sh.prefix is that key and sh.remaining how many entries
// equal to it are needed to make k with the larger ones.
template <class Key, class KeyOf>
__device__ void radix_select_kth(int64_t n, KeyOf key_of, int64_t k, RadixShared<Key>& sh) {
  if (threadIdx.x == 0) {
    sh.prefix = 0;
    sh.mask = 0;
    sh.remaining = static_cast<int>(k);
  }
  for (int shift = int(sizeof(Key)) * 8 - 8; shift >= 0; shift -= 8) {
    for (int b = threadIdx.x; b < 256; b += blockDim.x) sh.hist[b] = 0;
    __syncthreads();
    const Key prefix = sh.prefix, mask = sh.mask;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      Key key;
      if (key_of(i, key) && (key & mask) == prefix) atomicAdd(&sh.hist[unsigned(key >> shift) & 255u], 1u);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      int above = 0;
      int digit = 255;
      for (; digit > 0; --digit) {
        if (above + int(sh.hist[digit]) >= sh.remaining) break;
        above += int(sh.hist[digit]);
      }
      sh.remaining -= above;
      sh.prefix |= Key(digit) << shift;
      sh.mask |= Key(255) << shift;
    }
    __syncthreads();
  }
}

struct TargetShared {  // block-shared scalars of the target phase
  unsigned count;
  RadixShared<uint32_t> radix;
  int warp_totals[kWarps];
  int64_t red_i[kWarps];
  double red_d[kWarps];
};

__device__ __forceinline__ bool in_support(float z, float zmax, double t, double log_beta) {
  return (double(z) - double(zmax)) / t >= log_beta;
}

// Expert order: larger expert logit first, then lower id.
__device__ __forceinline__ bool expert_before(float za_, int32_t ia, float zb, int32_t ib) {
  return za_ > zb || (za_ == zb && ia < ib);
}

__device__ inline void write_padding(const RowTargetOut& out, int64_t k, int32_t support) {
  for (int64_t j = threadIdx.x; j < k; j += blockDim.x) {
    out.ids[j * out.ids_stride] = -1;
    out.weights[j * out.weights_stride] = 0.0f;
  }
  if (threadIdx.x == 0) *out.support_size = support;
}

// Keeps the first k members of the buffer in expert order (marks the rest).
__device__ inline void keep_top_k(Candidates& c, int count, int64_t k) {
  for (int i = threadIdx.x; i < count; i += blockDim.x) {
    if (c.id[i] < 0) continue;
    int r = 0;
    for (int j = 0; j < count; ++j)
      if (c.id[j] >= 0 && expert_before(c.ze[j], c.id[j], c.ze[i], c.id[i])) ++r;
    c.rank[i] = r;
  }
  __syncthreads();
  for (int i = threadIdx.x; i < count; i += blockDim.x)
    if (c.id[i] >= 0 && c.rank[i] >= k) c.id[i] = -1;
  __syncthreads();
}

// Weights over the kept entries, then the ordered write; `kept` = their number.
__device__ inline void write_weighted_targets(Candidates& c, int count, int64_t kept, int64_t k, double t,
                                              const RowTargetOut& out, int32_t support, TargetShared& sh) {
  bool amateur_zero = false;
  for (int i = threadIdx.x; i < count; i += blockDim.x)
    amateur_zero |= c.id[i] >= 0 && c.za[i] == -INFINITY;
  amateur_zero = __syncthreads_or(amateur_zero);

  double top = -INFINITY;
  for (int i = threadIdx.x; i < count; i += blockDim.x) {
    if (c.id[i] < 0) continue;
    const bool counted = !amateur_zero || c.za[i] == -INFINITY;
    c.val[i] = !counted ? -INFINITY : amateur_zero ? double(c.ze[i]) / t : (double(c.ze[i]) - double(c.za[i])) / t;
    top = fmax(top, c.val[i]);
  }
  top = block_reduce(top, MaxD{}, sh.red_d);
  double total = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) {
    if (c.id[i] < 0) continue;
    c.val[i] = c.val[i] == -INFINITY ? 0.0 : exp(c.val[i] - top);
    total += c.val[i];
  }
  total = block_reduce(total, SumD{}, sh.red_d);  // also orders the val writes before the reads below
  for (int i = threadIdx.x; i < count; i += blockDim.x) {
    if (c.id[i] < 0) continue;
    const double vi = c.val[i] / total;
    int slot = 0;
    for (int j = 0; j < count; ++j) {
      if (c.id[j] < 0 || j == i) continue;
      const double vj = c.val[j] / total;
      if (vj > vi || (vj == vi && c.id[j] < c.id[i])) ++slot;
    }
    out.ids[slot * out.ids_stride] = c.id[i];
    out.weights[slot * out.weights_stride] = static_cast<float>(vi);
  }
  for (int64_t j = kept + threadIdx.x; j < k; j += blockDim.x) {
    out.ids[j * out.ids_stride] = -1;
    out.weights[j * out.weights_stride] = 0.0f;
  }
  if (threadIdx.x == 0) *out.support_size = support;
}

// The common path: the buffer holds every candidate (count of them).
__device__ inline void targets_from_candidates(Candidates& c, int count, float zmax, double t, double log_beta,
                                               int64_t k, const RowTargetOut& out, TargetShared& sh) {
  int64_t members = 0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) {
    if (in_support(c.ze[i], zmax, t, log_beta)) ++members;
    else c.id[i] = -1;
  }
  members = block_reduce(members, SumI{}, sh.red_i);
  if (members > k) keep_top_k(c, count, k);
  write_weighted_targets(c, count, members < k ? members : k, k, t, out, static_cast<int32_t>(members), sh);
}

// Exclusive prefix count of `flag` over the block in thread order; total out.
__device__ inline int block_exclusive_count(bool flag, int* warp_totals, int* total) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const unsigned ballot = __ballot_sync(0xffffffffu, flag);
  const int before_in_warp = __popc(ballot & ((1u << lane) - 1u));
  __syncthreads();
  if (lane == 0) warp_totals[warp] = __popc(ballot);
  __syncthreads();
  int before = 0, all = 0;
  for (int w = 0; w < kWarps; ++w) {
    if (w < warp) before += warp_totals[w];
    all += warp_totals[w];
  }
  *total = all;
  return before + before_in_warp;
}

// The K-th member of the support in expert order, by radix selection on the
// order-preserving key of the expert logit: its key ends in sh.radix.prefix,
// and sh.radix.remaining says how many members with that key to take.
template <class TE>
__device__ __forceinline__ void select_kth_member(const void* erow, int64_t S, float zmax, double t, double log_beta,
                                                  int64_t k, TargetShared& sh) {
  radix_select_kth<uint32_t>(
      S,
      [&](int64_t j, uint32_t& key) {
        const float z = load_one<TE>(erow, j);
        key = ordered_key(z);
        return in_support(z, zmax, t, log_beta);
      },
      k, sh.radix);
}

// Members of the support in [0, S) of a row (every thread gets the count).
template <class TE>
__device__ int64_t count_members(const void* erow, int64_t S, float zmax, double t, double log_beta,
                                 TargetShared& sh) {
  int64_t members = 0;
  for (int64_t j = threadIdx.x; j < S; j += blockDim.x)
    members += in_support(load_one<TE>(erow, j), zmax, t, log_beta) ? 1 : 0;
  return block_reduce(members, SumI{}, sh.red_i);
}

// Fills the buffer by reading the rows again: every member of the support
// (there are `members`) when they fit, else the K first in expert order.
// Returns how many entries it holds; ids are column indices of the rows.
template <class TE, class TA>
__device__ int gather_support_by_rereading(Candidates& c, const void* erow, const void* arow, int64_t S, float zmax,
                                           double t, double log_beta, int64_t k, int64_t members,
                                           TargetShared& sh) {
  if (threadIdx.x == 0) sh.count = 0;
  __syncthreads();
  if (members <= c.capacity) {
    for (int64_t j = threadIdx.x; j < S; j += blockDim.x) {
      const float z = load_one<TE>(erow, j);
      if (!in_support(z, zmax, t, log_beta)) continue;
      const unsigned slot = atomicAdd(&sh.count, 1u);
      c.id[slot] = static_cast<int32_t>(j);
      c.ze[slot] = z;
      c.za[slot] = load_one<TA>(arow, j);
    }
    __syncthreads();
    return static_cast<int>(members);
  }
  // |M| > capacity >= K: the K-th member in expert order by radix selection.
  select_kth_member<TE>(erow, S, zmax, t, log_beta, k, sh);
  const uint32_t kth = sh.radix.prefix;
  const int take_equal = sh.radix.remaining;  // members equal to the K-th key to take, lowest ids first
  int taken_equal = 0;
  for (int64_t base = 0; base < S; base += blockDim.x) {
    const int64_t j = base + threadIdx.x;
    float z = 0.0f;
    bool member = false;
    if (j < S) {
      z = load_one<TE>(erow, j);
      member = in_support(z, zmax, t, log_beta);
    }
    const uint32_t key = ordered_key(z);
    int equal_total = 0;
    const int equal_before = block_exclusive_count(member && key == kth, sh.warp_totals, &equal_total);
    const bool take = member && (key > kth || (key == kth && taken_equal + equal_before < take_equal));
    if (take) {
      const unsigned slot = atomicAdd(&sh.count, 1u);
      c.id[slot] = static_cast<int32_t>(j);
      c.ze[slot] = z;
      c.za[slot] = load_one<TA>(arow, j);
    }
    taken_equal += equal_total;
  }
  __syncthreads();
  return static_cast<int>(k);
}

// The rare path: more candidates than the buffer holds (a flat row).
template <class TE, class TA>
__device__ void targets_by_rereading(Candidates& c, const void* erow, const void* arow, int64_t S, float zmax,
                                     double t, double log_beta, int64_t k, const RowTargetOut& out,
                                     TargetShared& sh) {
  const int64_t members = count_members<TE>(erow, S, zmax, t, log_beta, sh);
  const int count = gather_support_by_rereading<TE, TA>(c, erow, arow, S, zmax, t, log_beta, k, members, sh);
  if (count > k) keep_top_k(c, count, k);
  write_weighted_targets(c, count, members < k ? members : k, k, t, out, static_cast<int32_t>(members), sh);
}

}  // namespace lr::core::cuda
