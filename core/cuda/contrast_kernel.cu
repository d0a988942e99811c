// Stage 1 on the GPU: one block per row pair streams the expert and amateur
// rows once (16-byte loads where the rows allow; the same chunks of eight,
// and so the same sums, element by element where they do not), keeping per
// thread the running KL statistics (online softmax) and gathering the
// beta-support candidates against a block-shared running maximum; then the
// block merges the statistics and builds the target from the candidates
// (row_targets.cuh). Two forms of the streaming pass: the exact one below
// (the default, measured on an H200) and the lean one in stage1_lean.cuh
// (LR_CUDA_STAGE1_LEAN=1, fewer instructions per logit pair, awaiting its
// GPU run). CPU reference: core/cpu/contrast_row.cpp.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "block_reduce.cuh"
#include "cuda_kernels.h"
#include "cuda_status.h"
#include "async_stream.cuh"
#include "elements.cuh"
#include "row_targets.cuh"
#include "stage1_lean.cuh"
#include "smem_opt_in.h"
#include "stage1_row.cuh"

namespace lr::core::cuda {
namespace {

constexpr int kMinCandidates = 1024;

int candidate_capacity(int64_t k) {
  if (k <= 0) return 0;
  const int64_t rounded = (k + 31) / 32 * 32;
  return static_cast<int>(std::max<int64_t>(kMinCandidates, rounded));
}

size_t candidate_bytes(int capacity) {
  // val (double) first for alignment, then the 4-byte arrays.
  return size_t(capacity) * (sizeof(double) + 4 * sizeof(int32_t));
}

// Aligned rows are read into registers (16-byte loads, the next chunk pair
// in flight while this one is used) or, with LR_CUDA_STAGE1_ASYNC=1,
// through shared memory with cp.async. Registers measured faster on an H200
// (the KL loop is bound by instruction issue, and the copies add
// instructions); the knob stays for other GPUs (bench/gpu_check.sh times both).
bool stage1_async() {
  static const bool value = [] {
    const char* env = std::getenv("LR_CUDA_STAGE1_ASYNC");
    return env && std::string(env) == "1";
  }();
  return value;
}

// LR_CUDA_STAGE1_LEAN=1 selects the lean form of the streaming pass
// (stage1_lean.cuh), not yet measured on a GPU.
bool stage1_lean() {
  static const bool value = [] {
    const char* env = std::getenv("LR_CUDA_STAGE1_LEAN");
    return env && std::string(env) == "1";
  }();
  return value;
}

int max_optin_smem() {
  static const int value = [] {
    int device = 0, bytes = 0;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
    return bytes;
  }();
  return value;
}

// What one thread keeps while streaming its share of a row. The KL sums are
// kept in base 2 (exponents (z - m) * log2(e) / T, one MUFU ex2 each); s is
// turned into natural units when the block merges.
struct ThreadScan {
  float mE = -INFINITY, mA = -INFINITY;  // raw running maxima
  float dE = 0.0f, dA = 0.0f, s2 = 0.0f;  // KL statistics relative to them
  bool bad = false, amateur_zero = false;
};

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
    if (nE > ts.mE || nA > ts.mA) {  // rescale the sums to the new maxima
      if (ts.dE > 0.0f) {
        const float ue = (ts.mE - nE) * k.c2;
        const float f = fast_exp2(ue);
        const float shift = ue - (ts.mA > -INFINITY ? (ts.mA - nA) * k.c2 : 0.0f);
        ts.s2 = f * (ts.s2 + ts.dE * shift);
        ts.dE *= f;
      }
      if (ts.dA > 0.0f) ts.dA *= fast_exp2((ts.mA - nA) * k.c2);
    }
    float cminA = INFINITY;
#pragma unroll
    for (int i = 0; i < N; ++i) {
      const float le = (e[i] - nE) * k.c2;
      const float la = (a[i] - nA) * k.c2;
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
    const uint32_t key = ordered_key(nE);
    const uint32_t seen = *static_cast<volatile uint32_t*>(&rs.hint_key);
    if (key > seen) atomicMax(&rs.hint_key, key);
    const float hint = fmaxf(nE, key_to_float(seen));
    const float threshold = candidate_threshold(hint, k.t_log_beta);
    if (cmE >= threshold) {
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
  }
}

// The exact form of the streaming pass (the default): per-thread statistics
// as above, merged pairwise in double across the block; then the row's KL
// and keep flag are written.
template <class TE, class TA>
__device__ RowScanResult exact_scan_row(const ContrastJob& job, int64_t j, const void* erow, const void* arow,
                                        const ScanConsts& consts, Candidates& cand, RowShared& rs, bool use_async,
                                        unsigned char* pipeline_smem, KlStats* kl_scratch, float* max_scratch) {
  const double t = job.temperature;
  const int64_t S = job.shared_vocab;
  ThreadScan ts;
  const bool aligned = aligned16(erow) && aligned16(arow);
  const int64_t chunks = S / kVec;
  const int64_t B = blockDim.x;
  if (aligned && use_async) {
    stream_pair<TE, TA>(erow, arow, chunks, threadIdx.x, B, pipeline_smem,
                        [&](const float (&e)[kVec], const float (&a)[kVec], int64_t c) {
                          consume<kVec>(ts, e, a, c * kVec, consts, cand, rs);
                        });
  } else {
    // Register path, software-pipelined: the next chunk pair is loaded
    // before the current one is processed. Same chunks, same order.
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

  const bool bad = __syncthreads_or(ts.bad) != 0;
  const float zmaxE = block_reduce(ts.mE, MaxF{}, max_scratch);
  const float zmaxA = block_reduce(ts.mA, MaxF{}, max_scratch);
  const bool fault = bad || zmaxE == -INFINITY || zmaxA == -INFINITY;
  bool keep = false;
  if (consts.want_kl) {
    const bool amateur_zero = __syncthreads_or(ts.amateur_zero) != 0;
    const double s_nat = ts.s2 == INFINITY ? INFINITY : double(ts.s2) * 0.6931471805599453;  // base 2 -> natural
    KlStats piece{double(ts.mE) / t, double(ts.mA) / t, ts.dE, ts.dA, s_nat};
    KlStats all = block_merge(piece, kl_scratch);
    const double kl = fault ? NAN : amateur_zero ? INFINITY : kl_of(all);
    // Decided on the value written, as on the CPU: keep == (kl_out > kappa).
    const float kl_f = static_cast<float>(kl);
    keep = !fault && kl_f > job.kl_threshold;
    if (threadIdx.x == 0) {
      job.kl.data[j * job.kl.stride] = kl_f;
      if (job.keep.data) job.keep.data[j * job.keep.stride] = keep ? 1 : 0;
    }
  }
  return {fault, keep, zmaxE};
}

template <class TE, class TA, bool Lean>
__global__ void __launch_bounds__(kThreads, 2) contrast_kernel(ContrastJob job, int capacity, bool use_async) {
  extern __shared__ __align__(16) unsigned char dynamic_smem[];  // [pipeline slots][candidates]
  __shared__ RowShared rs;
  __shared__ TargetShared ts_shared;
  __shared__ KlStats kl_scratch[kWarps];
  __shared__ float max_scratch[kWarps];
  __shared__ LeanScratch lean_scratch;

  Candidates cand;
  cand.capacity = capacity;
  cand.val = reinterpret_cast<double*>(dynamic_smem + (use_async ? pair_stream_bytes<TE, TA>(kThreads) : 0));
  cand.id = reinterpret_cast<int32_t*>(cand.val + capacity);
  cand.ze = reinterpret_cast<float*>(cand.id + capacity);
  cand.za = cand.ze + capacity;
  cand.rank = reinterpret_cast<int32_t*>(cand.za + capacity);

  const bool want_kl = job.kl.data != nullptr;
  const bool want_targets = job.k > 0;
  const int64_t S = job.shared_vocab;
  const double t = job.temperature;
  ScanConsts consts;
  consts.c2 = static_cast<float>(1.4426950408889634 / t);
  consts.t_log_beta = static_cast<float>(t * job.log_beta);
  consts.want_kl = want_kl;
  consts.want_targets = want_targets;

  for (int64_t j = blockIdx.x; j < job.out_rows; j += gridDim.x) {
    RowTargetOut out{};
    if (want_targets) {
      out.ids = job.ids.data + j * job.ids.row_stride;
      out.ids_stride = job.ids.col_stride;
      out.weights = job.weights.data + j * job.weights.row_stride;
      out.weights_stride = job.weights.col_stride;
      out.support_size = job.support_size.data + j * job.support_size.stride;
    }
    int64_t r = j;
    if (job.rows.data) {
      r = job.rows.data[j * job.rows.stride];
      if (r < 0 || r >= job.expert.rows) {  // an index the host could not check: a fault of this row
        write_padding(out, job.k, -1);
        continue;
      }
    }
    const void* erow = row_ptr<TE>(job.expert, r);
    const void* arow = row_ptr<TA>(job.amateur, r);
    if (threadIdx.x == 0) {
      rs.count = 0;
      rs.hint_key = ordered_key(-INFINITY);
    }
    __syncthreads();

    RowScanResult row;
    if constexpr (Lean) {
      row = lean_scan_row<TE, TA>(job, j, erow, arow, consts, cand, rs, lean_scratch);
    } else {
      row = exact_scan_row<TE, TA>(job, j, erow, arow, consts, cand, rs, use_async, dynamic_smem, kl_scratch,
                                   max_scratch);
    }
    const bool fault = row.fault, keep = row.keep;
    const float zmaxE = row.zmaxE;
    if (!want_targets) continue;
    if (fault) {
      write_padding(out, job.k, -1);
    } else if (job.targets_only_if_kept && !keep) {
      write_padding(out, job.k, 0);
    } else if (rs.count <= unsigned(capacity)) {
      targets_from_candidates(cand, static_cast<int>(rs.count), zmaxE, t, job.log_beta, job.k, out, ts_shared);
    } else {
      targets_by_rereading<TE, TA>(cand, erow, arow, S, zmaxE, t, job.log_beta, job.k, out, ts_shared);
    }
    __syncthreads();  // the buffer and rs are reused by the next row
  }
}

template <class TE, class TA, bool Lean>
void launch_form(const ContrastJob& job, cudaStream_t stream) {
  const int capacity = candidate_capacity(job.k);
  const bool use_async = !Lean && stage1_async();
  const size_t smem = (use_async ? pair_stream_bytes<TE, TA>(kThreads) : 0) + candidate_bytes(capacity);
  auto kernel = contrast_kernel<TE, TA, Lean>;
  if (smem > size_t(max_optin_smem()))
    throw DeviceError("stage 1 needs " + std::to_string(smem) + " bytes of shared memory per block; the device allows " +
                          std::to_string(max_optin_smem()),
                      false);
  opt_in_shared_memory(kernel, smem, "setting the shared memory of the stage-1 kernel");
  const int64_t grid = std::min<int64_t>(job.out_rows, int64_t(1) << 30);
  kernel<<<static_cast<unsigned>(grid), kThreads, smem, stream>>>(job, capacity, use_async);
  check_cuda(cudaGetLastError(), "launching the stage-1 kernel");
}

template <class TE, class TA>
void launch_typed(const ContrastJob& job, cudaStream_t stream) {
  if (stage1_lean()) launch_form<TE, TA, true>(job, stream);
  else launch_form<TE, TA, false>(job, stream);
}

template <class TE>
void launch_amateur(const ContrastJob& job, cudaStream_t stream) {
  switch (job.amateur.type) {
    case ElemType::F32: return launch_typed<TE, F32>(job, stream);
    case ElemType::BF16: return launch_typed<TE, BF16>(job, stream);
    case ElemType::F16: return launch_typed<TE, F16>(job, stream);
  }
}

}  // namespace

void launch_contrast(const ContrastJob& job, void* stream) {
  if (job.out_rows == 0) return;
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  switch (job.expert.type) {
    case ElemType::F32: return launch_amateur<F32>(job, s);
    case ElemType::BF16: return launch_amateur<BF16>(job, s);
    case ElemType::F16: return launch_amateur<F16>(job, s);
  }
}

}  // namespace lr::core::cuda
