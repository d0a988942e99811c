// One row pair of the select/targets family on the GPU, its streaming pass:
// each thread of the block reads its chunks of the expert and amateur rows
// once, keeping the running KL statistics (online softmax, base 2) and
// gathering the beta-support candidates against a block-shared running
// maximum; then the block merges the statistics and writes the row's KL and
// keep flag. The target phase that follows is targets_row.cuh; the kernel
// and its launch, select_targets.cu. Also what the experimental lean form
// (experimental/select_targets_lean.cuh) shares with this one: the
// block-shared state of a row, the kernel's constants, the candidate push,
// and what a row's scan hands to the target phase.
// CPU form: core/cpu/select_targets_row.cpp.
#pragma once

#include <cstdint>

#include "block_reduce.cuh"
#include "cuda_kernels.h"
#include "elements.cuh"
#include "targets_row.cuh"
#if LR_CUDA_EXPERIMENTAL
#include "experimental/pair_stream.cuh"
#endif

namespace lr::core::cuda {

struct RowShared {
  unsigned count;     // candidates seen (may exceed the capacity)
  uint32_t hint_key;  // ordered key of the block's running expert maximum
};

struct ScanConsts {
  float c2;          // log2(e) / T
  float t_log_beta;  // T log(beta), for the candidate threshold
  bool want_kl, want_targets;
};

// The candidate threshold for a running maximum `hint`: z >= hint + T log(beta),
// lowered by a margin so that every member of the exact support (tested in
// double against the final maximum) is kept.
__device__ __forceinline__ float candidate_threshold(float hint, float t_log_beta) {
  return hint + t_log_beta - (1e-5f * (fabsf(hint) + fabsf(t_log_beta)) + 1e-30f);
}

// Publishes this thread's running expert maximum `m` to the block and
// returns the larger of it and the block's as last seen.
__device__ __forceinline__ float block_running_max(float m, RowShared& rs) {
  const uint32_t key = ordered_key(m);
  const uint32_t seen = *static_cast<volatile uint32_t*>(&rs.hint_key);
  if (key > seen) atomicMax(&rs.hint_key, key);
  return fmaxf(m, key_to_float(seen));
}

// Appends the elements of a chunk (N = 8) or element (N = 1) at or above
// `threshold` to the candidates (those past the capacity are counted only).
template <int N>
__device__ __forceinline__ void push_candidates(const float* e, const float* a, int64_t j0, float threshold,
                                                Candidates& cand, RowShared& rs) {
#pragma unroll
  for (int i = 0; i < N; ++i) {
    if (!(e[i] >= threshold) || e[i] == -INFINITY) continue;
    const unsigned slot = atomicAdd(&rs.count, 1u);
    if (slot < unsigned(cand.capacity)) {
      cand.id[slot] = static_cast<int32_t>(j0 + i);
      cand.ze[slot] = e[i];
      cand.za[slot] = a[i];
    }
  }
}

struct RowScanResult {
  bool fault;   // NaN / +Inf, or a row of -Inf on either side
  bool keep;    // KL written and above the threshold
  float zmaxE;  // the expert row's maximum (raw)
};

// What one thread keeps while streaming its share of a row. The KL sums are
// kept in base 2 (exponents (z - m) * log2(e) / T, one MUFU ex2 each); s is
// turned into natural units when the block merges.
struct ThreadScan {
  float mE = -INFINITY, mA = -INFINITY;  // raw running maxima
  float dE = 0.0f, dA = 0.0f, s2 = 0.0f;  // KL statistics relative to them
  bool bad = false, amateur_zero = false;
};

// Rescales a thread's sums from its maxima to the new ones nE, nA.
__device__ __forceinline__ void rescale_sums(ThreadScan& ts, float nE, float nA, float c2) {
  if (ts.dE > 0.0f) {
    const float ue = (ts.mE - nE) * c2;
    const float f = fast_exp2(ue);
    const float shift = ue - (ts.mA > -INFINITY ? (ts.mA - nA) * c2 : 0.0f);
    // f = 0 (a running maximum far below the new one, e.g. a mask of the
    // dtype's lowest finite value) leaves nothing: f * shift -> 0, where the
    // product would be 0 * -Inf = NaN (as the lean form and the CPU merge).
    ts.s2 = f > 0.0f ? f * (ts.s2 + ts.dE * shift) : 0.0f;
    ts.dE *= f;
  }
  if (ts.dA > 0.0f) ts.dA *= fast_exp2((ts.mA - nA) * c2);
}

// The terms of a chunk when both sides have a finite maximum.
template <int N>
__device__ __forceinline__ void add_pair_terms(ThreadScan& ts, const float* e, const float* a, float nE, float nA,
                                               float c2) {
  float cminA = INFINITY;
#pragma unroll
  for (int i = 0; i < N; ++i) {
    const float le = (e[i] - nE) * c2;
    const float la = (a[i] - nA) * c2;
    const float pe = fast_exp2(le);
    ts.dE += pe;
    ts.dA += fast_exp2(la);
    // pe = 0 (e = -Inf, or underflow) drops the term (0 * Inf would be
    // NaN). a = -Inf makes the term +Inf; such a chunk is flagged below and
    // then the KL is +Inf whatever s holds.
    ts.s2 += pe > 0.0f ? pe * (le - la) : 0.0f;
    cminA = fminf(cminA, a[i]);
  }
  if (cminA == -INFINITY) {  // rare: some p_A = 0; under a finite expert logit, KL = +Inf
#pragma unroll
    for (int i = 0; i < N; ++i) ts.amateur_zero |= (a[i] == -INFINITY) & (e[i] > -INFINITY);
  }
}

// One chunk (N = 8) or one element (N = 1) of both rows.
// Faults: with KL wanted, a NaN or +Inf makes dE or dA NaN (NaN propagates
// through the sums; +Inf becomes the maximum and Inf - Inf is NaN), which
// the block checks once at the end; the explicit test is needed only where
// no sum is taken (no finite value seen yet, or no KL wanted).
template <int N>
__device__ __forceinline__ void consume(ThreadScan& ts, const float* e, const float* a, int64_t j0,
                                        const ScanConsts& k, Candidates& cand, RowShared& rs) {
  float cmE = -INFINITY, cmA = -INFINITY;
#pragma unroll
  for (int i = 0; i < N; ++i) {
    cmE = fmaxf(cmE, e[i]);
    cmA = fmaxf(cmA, a[i]);
  }
  const float nE = fmaxf(ts.mE, cmE), nA = fmaxf(ts.mA, cmA);
  const bool e_any = nE > -INFINITY, a_any = nA > -INFINITY;
  if (k.want_kl && e_any && a_any) {
    if (nE > ts.mE || nA > ts.mA) rescale_sums(ts, nE, nA, k.c2);
    add_pair_terms<N>(ts, e, a, nE, nA, k.c2);
  } else if (k.want_kl) {  // a side with no finite value yet: the other side's sum alone
    if (a_any) {
      if (nA > ts.mA && ts.dA > 0.0f) ts.dA *= fast_exp2((ts.mA - nA) * k.c2);
#pragma unroll
      for (int i = 0; i < N; ++i) ts.dA += fast_exp2((a[i] - nA) * k.c2);
    }
    if (e_any) {
      if (nE > ts.mE && ts.dE > 0.0f) ts.dE *= fast_exp2((ts.mE - nE) * k.c2);
#pragma unroll
      for (int i = 0; i < N; ++i) {
        ts.dE += fast_exp2((e[i] - nE) * k.c2);
        ts.amateur_zero |= e[i] > -INFINITY;  // every amateur logit so far is -Inf
      }
    }
#pragma unroll
    for (int i = 0; i < N; ++i) ts.bad |= (!e_any && e[i] != e[i]) | (!a_any && a[i] != a[i]);
  } else {
#pragma unroll
    for (int i = 0; i < N; ++i) ts.bad |= bad_value(e[i]) | bad_value(a[i]);
  }
  ts.mE = nE;
  ts.mA = nA;
  if (k.want_targets && cmE > -INFINITY) {
    // Candidates: z >= (block running max) + T log(beta), with a margin so
    // that every member of the exact support is kept (as on the CPU).
    const float threshold = candidate_threshold(block_running_max(nE, rs), k.t_log_beta);
    if (cmE >= threshold) push_candidates<N>(e, a, j0, threshold, cand, rs);
  }
}

// The exact form of the streaming pass (the default), one thread's share of
// columns [0, S): per-thread statistics as above. Aligned rows are read with
// 16-byte loads, others element by element in the same chunks of eight (so
// the same sums); with the experimental cp.async form (use_async), aligned
// rows go through shared memory.
template <class TE, class TA>
__device__ ThreadScan scan_pair_row(const void* erow, const void* arow, int64_t S, const ScanConsts& consts,
                                    Candidates& cand, RowShared& rs, bool use_async, unsigned char* pipeline_smem) {
  ThreadScan ts;
  const bool aligned = aligned16(erow) && aligned16(arow);
  const int64_t chunks = S / kVec;
  const int64_t B = blockDim.x;
#if LR_CUDA_EXPERIMENTAL
  if (aligned && use_async) {
    stream_pair<TE, TA>(erow, arow, chunks, threadIdx.x, B, pipeline_smem,
                        [&](const float (&e)[kVec], const float (&a)[kVec], int64_t c) {
                          consume<kVec>(ts, e, a, c * kVec, consts, cand, rs);
                        });
  } else
#else
  (void)use_async;
  (void)pipeline_smem;
#endif
  {
    int64_t c = threadIdx.x;
    RawChunk<TE> re{};
    RawChunk<TA> ra{};
    if (c < chunks) {
      re = load_raw<TE>(erow, c, aligned);
      ra = load_raw<TA>(arow, c, aligned);
    }
    for (; c < chunks; c += B) {
      RawChunk<TE> ne{};
      RawChunk<TA> na{};
      if (c + B < chunks) {
        ne = load_raw<TE>(erow, c + B, aligned);
        na = load_raw<TA>(arow, c + B, aligned);
      }
      float e[kVec], a[kVec];
      unpack(re, e);
      unpack(ra, a);
      consume<kVec>(ts, e, a, c * kVec, consts, cand, rs);
      re = ne;
      ra = na;
    }
  }
  for (int64_t i = chunks * kVec + threadIdx.x; i < S; i += B) {
    const float e = load_one<TE>(erow, i), a = load_one<TA>(arow, i);
    consume<1>(ts, &e, &a, i, consts, cand, rs);
  }
  // With KL wanted, NaN / +Inf show up as NaN sums (see consume).
  ts.bad |= ts.dE != ts.dE || ts.dA != ts.dA;
  return ts;
}

// The block's view of a scanned row: a NaN / +Inf seen, and the raw maxima
// (-Inf for a side with no finite value). Every thread gets it.
struct RowMaxima {
  bool bad;
  float zmaxE, zmaxA;
};
__device__ __forceinline__ RowMaxima block_row_maxima(const ThreadScan& ts, float* max_scratch) {
  const bool bad = __syncthreads_or(ts.bad) != 0;
  const float zmaxE = block_reduce(ts.mE, MaxF{}, max_scratch);
  const float zmaxA = block_reduce(ts.mA, MaxF{}, max_scratch);
  return {bad, zmaxE, zmaxA};
}

// The row's KL statistics merged in double (maxima in units of z / T), and
// whether an amateur -Inf met a finite expert logit (then KL = +Inf).
struct RowKl {
  KlStats all;
  bool amateur_zero;
};
__device__ __forceinline__ RowKl block_row_kl(const ThreadScan& ts, double t, KlStats* kl_scratch) {
  const bool amateur_zero = __syncthreads_or(ts.amateur_zero) != 0;
  const double s_nat = ts.s2 == INFINITY ? INFINITY : double(ts.s2) * 0.6931471805599453;  // base 2 -> natural
  const KlStats piece{double(ts.mE) / t, double(ts.mA) / t, ts.dE, ts.dA, s_nat};
  return {block_merge(piece, kl_scratch), amateur_zero};
}

// The whole row of the select/targets kernel: the streaming pass, then KL and
// keep written when wanted.
template <class TE, class TA>
__device__ RowScanResult exact_scan_row(const SelectTargetsJob& job, int64_t j, const void* erow, const void* arow,
                                        const ScanConsts& consts, Candidates& cand, RowShared& rs, bool use_async,
                                        unsigned char* pipeline_smem, KlStats* kl_scratch, float* max_scratch) {
  const ThreadScan ts =
      scan_pair_row<TE, TA>(erow, arow, job.shared_vocab, consts, cand, rs, use_async, pipeline_smem);
  const RowMaxima mx = block_row_maxima(ts, max_scratch);
  const bool fault = mx.bad || mx.zmaxE == -INFINITY || mx.zmaxA == -INFINITY;
  bool keep = false;
  if (consts.want_kl) {
    const RowKl rk = block_row_kl(ts, job.temperature, kl_scratch);
    const double kl = fault ? NAN : rk.amateur_zero ? INFINITY : kl_of(rk.all);
    // Decided on the value written, as on the CPU: keep == (kl_out > kappa).
    const float kl_f = static_cast<float>(kl);
    keep = !fault && kl_f > job.kl_threshold;
    if (threadIdx.x == 0) {
      job.kl.data[j * job.kl.stride] = kl_f;
      if (job.keep.data) job.keep.data[j * job.keep.stride] = keep ? 1 : 0;
    }
  }
  return {fault, keep, mx.zmaxE};
}

}  // namespace lr::core::cuda
