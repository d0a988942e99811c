/*
 * lightreasoner.h: the C ABI of liblightreasoner (ABI version 1.1).
 *
 * LightReasoner turns the next-token logits of an expert model E and a weaker
 * amateur model A, read on the same prefixes, into a sparse training signal:
 *
 *   1. lr_select_steps          KL(p_E || p_A) per row and the kappa-filter.
 *   2. lr_build_targets         the contrastive soft target v on the beta-mask.
 *   3. lr_distill_loss_backward KL(v || softmax(z)) per row and its gradient
 *                               with respect to the trained model's logits z.
 *   (lr_select_and_build does 1 and 2 in one pass over the logits.)
 *   ABI 1.1 adds the same three for logits sharded over the vocabulary
 *   (tensor-parallel hosts): lr_shard_* below.
 *
 * Conventions
 * - Tensors are DLPack DLTensor (dlpack/dlpack.h). Logits may be float32,
 *   bfloat16 or float16, two-dimensional [rows, vocab], with unit stride along
 *   the vocabulary and any row stride (a view into a larger buffer works).
 *   strides == NULL means compact row-major. All other tensors have the dtype
 *   and shape stated at each call; one-dimensional ones may have any stride.
 * - Every call returns an lr_status. On failure lr_last_error() gives a
 *   message naming the faulty argument, and no output has been written.
 * - Faults in the *data* (a NaN or +Inf logit, or a row whose logits are all
 *   -Inf) are not call failures: the call succeeds and reports the fault in
 *   that row's outputs (kl NaN, keep 0, support_size -1, padding targets, loss
 *   NaN, gradient 0). Other rows are unaffected. CUDA calls are asynchronous,
 *   so faults in data are reported this way on every device.
 * - Parameters come in structs that start with struct_size. Take them from
 *   lr_*_params_default() and change the fields you need; fields are only
 *   ever appended, so an older caller's smaller struct stays valid.
 * - stream: a cudaStream_t for tensors on a CUDA device, ignored (pass NULL)
 *   for CPU tensors.
 * - Accumulation is in float32 or better whatever the logits' dtype.
 * - The library is thread-safe: calls share no mutable state. CPU calls use
 *   OpenMP threads over rows (OMP_NUM_THREADS sets how many).
 *
 * CUDA (builds whose lr_build_info() says "CUDA: yes")
 * - All tensors of a call on one device; tensors labelled kDLCUDA whose
 *   memory the runtime places elsewhere (host memory, another device) are
 *   LR_ERR_INVALID_ARGUMENT naming the tensor. The call makes the tensors'
 *   device current for its duration; `stream` must belong to that device.
 * - Calls only enqueue work on `stream` (NULL: the legacy default stream):
 *   no synchronisation, no cudaMalloc. Outputs are ready when the stream
 *   gets there. Runtime failures are LR_ERR_CUDA with the runtime's text.
 * - lr_distill_loss_backward takes O(N) bytes of scratch from a
 *   stream-ordered memory pool of the library's own (one per device, kept
 *   between calls); stage 1 needs none. No [N, V] temporary anywhere.
 * - Values the host cannot read without a synchronisation are checked on
 *   the device, and a bad one faults only its row: a `rows` index outside
 *   [0, N) gives that output row support_size -1 and padding; a target row
 *   with an id outside [-1, V), a repeated id, a negative or non-finite
 *   weight, or a nonzero weight on padding gets loss NaN and gradient 0 (and
 *   counts for MEAN). On the CPU these are LR_ERR_INVALID_ARGUMENT.
 * - K (target slots per row) is at most 4096 on CUDA (a row's support lives
 *   in shared memory); more is LR_ERR_UNSUPPORTED.
 *
 * Vocabulary alignment: the expert and amateur may have different logit
 * widths Ve and Va (Qwen2.5-7B has 152064 rows, 0.5B has 151936). The caller
 * says how many leading ids they share (shared_vocab); softmaxes are taken
 * over ids [0, shared_vocab) only, renormalised there, and the columns past
 * shared_vocab are not read at all.
 */
#ifndef LIGHTREASONER_H
#define LIGHTREASONER_H

#include <stddef.h>
#include <stdint.h>

#include <dlpack/dlpack.h>

#if defined(_WIN32)
#define LR_API __declspec(dllexport)
#else
#define LR_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define LR_ABI_VERSION_MAJOR 1
#define LR_ABI_VERSION_MINOR 1

/* ---------------------------------------------------------------- status */

typedef enum lr_status {
  LR_OK = 0,
  LR_ERR_INVALID_ARGUMENT = 1, /* a null, shape, dtype, device, range or aliasing fault */
  LR_ERR_UNSUPPORTED = 2,      /* valid request this build cannot serve (e.g. CUDA tensors without CUDA) */
  LR_ERR_OUT_OF_MEMORY = 3,
  LR_ERR_CUDA = 4,             /* a CUDA runtime error; lr_last_error() has its text */
  LR_ERR_INTERNAL = 5
} lr_status;

/* (major << 16) | minor of the library actually loaded. A caller built
 * against this header should check that the major parts agree. */
LR_API uint32_t lr_abi_version(void);

/* Human-readable build facts: library version, compiler, whether CUDA is
 * compiled in and for which architectures, CPU code paths. Static storage. */
LR_API const char* lr_build_info(void);

/* A fixed English name for a status ("LR_OK", ...). Never NULL. */
LR_API const char* lr_status_string(lr_status s);

/* The message of the last failed call on the calling thread; "" if the last
 * call on this thread succeeded. Valid until the next lr_* call on this thread. */
LR_API const char* lr_last_error(void);

/* ------------------------------------------------------------ parameters */

typedef struct lr_select_params {
  uint32_t struct_size; /* sizeof(lr_select_params) */
  float kl_threshold;   /* kappa: keep a row iff KL > kappa. Default 0.4. Not NaN (+-Inf: keep none / all). */
  float temperature;    /* logits are divided by it before the softmax. Default 1. Must be > 0 and finite. */
  int64_t shared_vocab; /* leading ids the two models share; 0 = min(Ve, Va). Default 0. */
} lr_select_params;

typedef struct lr_target_params {
  uint32_t struct_size; /* sizeof(lr_target_params) */
  float beta;           /* support M = {a : p_E(a) >= beta * max p_E}. Default 0.2. In (0, 1]. */
  float temperature;    /* as above. Default 1. */
  int64_t shared_vocab; /* as above. Default 0. */
} lr_target_params;

typedef enum lr_reduction {
  LR_REDUCTION_NONE = 0, /* loss_out is [N]: one loss per row */
  LR_REDUCTION_SUM = 1,  /* loss_out is 0-d or [1]: sum over rows */
  LR_REDUCTION_MEAN = 2  /* loss_out is 0-d or [1]: sum / counted rows; gradients divided likewise */
} lr_reduction;

typedef struct lr_loss_params {
  uint32_t struct_size;   /* sizeof(lr_loss_params) */
  lr_reduction reduction; /* Default LR_REDUCTION_MEAN. */
  float grad_scale;       /* multiplies the gradient (not the loss), e.g. 1/accumulation steps. Default 1. Finite. */
  float temperature;      /* the model's logits are divided by it. Default 1. Must be > 0 and finite. */
} lr_loss_params;

LR_API lr_select_params lr_select_params_default(void);
LR_API lr_target_params lr_target_params_default(void);
LR_API lr_loss_params lr_loss_params_default(void);

/* The same defaults written through a pointer, for callers that may load a
 * newer 1.x library than the header they were built with (FFI bindings,
 * dlopen): a struct returned by value has the library's size, which may be
 * larger than the caller's. These write the defaults of the fields this
 * library knows into the first min(struct_size, sizeof) bytes, leave any
 * bytes beyond untouched, and set params->struct_size = struct_size.
 * struct_size below the ABI 1.0 size, or a NULL params, is
 * LR_ERR_INVALID_ARGUMENT. Typical use:
 *   lr_select_params p; lr_select_params_init(&p, sizeof p);            */
LR_API lr_status lr_select_params_init(lr_select_params* params, uint32_t struct_size);
LR_API lr_status lr_target_params_init(lr_target_params* params, uint32_t struct_size);
LR_API lr_status lr_loss_params_init(lr_loss_params* params, uint32_t struct_size);

/* ----------------------------------------------------- stage 1: selection */

/* KL divergence and the kappa-filter, row by row.
 *
 *   expert_logits  [N, Ve] float32/bfloat16/float16
 *   amateur_logits [N, Va] same device, any of the three dtypes
 *   params         NULL means lr_select_params_default()
 *   kl_out         [N] float32: KL(p_E || p_A) over ids [0, S), S = shared_vocab
 *   keep_out       [N] uint8: 1 iff kl_out > kl_threshold; or NULL
 *
 * With T the temperature, p_E = softmax(expert[i, :S] / T), p_A likewise, and
 * KL = sum_a p_E(a) (log p_E(a) - log p_A(a)). Terms with an expert logit of
 * -Inf count 0 (as do terms whose p_E underflows while p_A > 0); an amateur
 * logit of -Inf (p_A = 0) under a finite expert logit gives KL = +Inf, however
 * small that p_E is (keep = 1).
 * Data faults (NaN, +Inf, or all -Inf in either row's first S entries):
 * kl NaN, keep 0.
 */
LR_API lr_status lr_select_steps(const DLTensor* expert_logits,
                                 const DLTensor* amateur_logits,
                                 const lr_select_params* params,
                                 DLTensor* kl_out,
                                 DLTensor* keep_out,
                                 void* stream);

/* ---------------------------------------------- stage 1: contrastive targets */

/* The contrastive soft target of each requested row.
 *
 *   expert_logits, amateur_logits  as for lr_select_steps
 *   rows           [M] int64 row indices into the logits (any order, repeats
 *                  allowed), or NULL for all N rows (then M = N)
 *   params         NULL means lr_target_params_default()
 *   target_ids     [M, K] int32, K >= 1: token ids, -1 = padding
 *   target_weights [M, K] float32: the weights, 0 = padding
 *   support_size   [M] int32: |M| before truncation (required, so that
 *                  truncation is never silent)
 *
 * Support M = {a < S : p_E(a) >= beta * max p_E}, decided exactly as
 * (double(z_a) - double(z_max)) / T >= log(beta) on the float values of the
 * logits. The argmax is always in M. Weights v(a) = softmax over M of
 * c(a) = log p_E(a) - log p_A(a), computed in double and written in
 * descending weight order (ties: lower id first). If |M| > K, the K tokens of
 * largest p_E are kept (ties: lower id), v is renormalised over them, and
 * support_size still reports the true |M|, so truncation is never silent.
 * If p_A(a) = 0 (an amateur logit of -Inf) for some kept a, c is +Inf there: v
 * is then spread over those ids only, in proportion to p_E (the limit as their
 * p_A go to 0 together); the other kept ids are written after them with
 * weight 0, in ascending id order.
 * Data faults: support_size -1, ids -1, weights 0.
 */
LR_API lr_status lr_build_targets(const DLTensor* expert_logits,
                                  const DLTensor* amateur_logits,
                                  const DLTensor* rows,
                                  const lr_target_params* params,
                                  DLTensor* target_ids,
                                  DLTensor* target_weights,
                                  DLTensor* support_size,
                                  void* stream);

/* Stage 1 in one pass: reads each expert and amateur row once and writes
 * KL, keep flags and, for the kept rows, the targets.
 *
 *   kl_out, keep_out          [N] as for lr_select_steps (keep_out required)
 *   target_ids/target_weights [N, K] as for lr_build_targets, all N rows;
 *                             rows not kept are padding
 *   support_size              [N] int32; 0 for rows not kept, -1 for faults
 *
 * select_params and target_params must agree on temperature and shared_vocab.
 * Results equal lr_select_steps followed by lr_build_targets on the kept rows.
 */
LR_API lr_status lr_select_and_build(const DLTensor* expert_logits,
                                     const DLTensor* amateur_logits,
                                     const lr_select_params* select_params,
                                     const lr_target_params* target_params,
                                     DLTensor* kl_out,
                                     DLTensor* keep_out,
                                     DLTensor* target_ids,
                                     DLTensor* target_weights,
                                     DLTensor* support_size,
                                     void* stream);

/* ------------------------------------------------ stage 2: distillation loss */

/* Loss and gradient of the distillation objective, row by row.
 *
 *   logits         [N, V] float32/bfloat16/float16: the trained model's logits
 *   target_ids     [N, K] int32 in [-1, V), -1 = padding; no id twice in a row
 *   target_weights [N, K] float32, finite and >= 0; 0 where the id is -1.
 *                  Rows are expected to sum to 1 (lr_build_targets writes them so).
 *   params         NULL means lr_loss_params_default()
 *   loss_out       [N] float32 for LR_REDUCTION_NONE, else 0-d or [1] float32
 *   grad_logits    [N, V] same dtype and device as logits, or logits itself
 *                  (the gradient overwrites the logits in place), or NULL
 *
 * With q = softmax(z / T) over the row's full V and w = sum_k v_k:
 *   loss_i = sum_k v_k log v_k - sum_k v_k log q(id_k)   ( = KL(v || q) when w = 1 )
 *   grad_i = grad_scale * (w q - v) / T / D              ( = grad_scale (q - v) when w = 1, T = 1, D = 1 )
 * where D = 1 for NONE and SUM, and D = the number of counted rows for MEAN.
 * A row is counted iff it has at least one id != -1. A row whose ids are all
 * -1 has loss 0 and gradient 0, whatever its logits hold. Data faults (NaN or +Inf in the row, or all
 * -Inf): loss NaN (so SUM and MEAN are NaN too), gradient 0; such a row is
 * still counted, so the other rows' gradients do not depend on the data.
 * MEAN with no counted row gives loss 0 and zero gradients.
 * grad_logits may be logits itself, but must not partly overlap it.
 */
LR_API lr_status lr_distill_loss_backward(const DLTensor* logits,
                                          const DLTensor* target_ids,
                                          const DLTensor* target_weights,
                                          const lr_loss_params* params,
                                          DLTensor* loss_out,
                                          DLTensor* grad_logits,
                                          void* stream);

/* ====================================== ABI 1.1: logits sharded over the vocabulary */

/* For tensor-parallel hosts (Megatron-style, torchtitan's loss parallel) that
 * hold each model's logits split by contiguous vocabulary ranges: rank r has
 * columns [v0_r, v0_r + V_r) of every row, and never gathers [N, V]. Each
 * stage becomes three steps:
 *
 *   1. a *partial* call on the rank's own shard writes a small float record
 *      per row;
 *   2. the host ALL-GATHERS those records over the ranks that hold the
 *      shards, with its own collective (NCCL, Gloo, MPI...), into a tensor
 *      [W, rows, width] (W = number of shards, any fixed order of shards);
 *   3. a *finish* call on the gathered records gives exactly what the
 *      unsharded call gives: the same ids and support sizes, the same keep
 *      flags, the same values up to the rounding of the order of summation.
 *
 *   stage               unsharded call            partial call                  record (per row, per shard)    finish call
 *   KL, keep            lr_select_steps           lr_shard_select_stats         LR_SHARD_SELECT_STATS float64  lr_shard_select_finish
 *   targets             lr_build_targets          lr_shard_target_candidates(*) LR_SHARD_CANDIDATES(K) float32 lr_shard_targets_finish
 *   loss, gradient      lr_distill_loss_backward  lr_shard_loss_stats           LR_SHARD_LOSS_STATS float64    lr_shard_loss_backward(**)
 *
 *   (*)  reads the gathered select stats (the global maximum decides the
 *        support), so targets take two collectives; KL and keep come from
 *        the first one for free.
 *   (**) takes the gathered loss stats and writes the loss (the same on
 *        every rank) and the gradient of the rank's own columns, in place
 *        over the shard if asked.
 *
 * Bytes a rank contributes per row: 48 (select stats), 4 * (1 + 3K)
 * (candidates; 388 for K = 32), 32 (loss stats); an all-gather hands every
 * rank W times that. The records are an exchange format: pass them from the
 * partial call to the finish call unchanged (all-gather is bit-preserving);
 * their fields are documented for debugging, not for hosts to compute with.
 * Row r of every record refers to row r of the shard (its logits row for the
 * stats, its rows[] entry for candidates).
 *
 * Where the shard is: lr_vocab_shard below. The expert's and the amateur's
 * shards start at the same global column v0 and must hold the same columns
 * of the shared vocabulary [0, S): min(v0 + Ve_r, S) == min(v0 + Va_r, S)
 * (tensor-parallel ranks shard both models alike; they may differ only past
 * S, as the last shard of a wider model does). A shard may have zero
 * columns, or lie wholly past S (then it contributes nothing). Shards of
 * one row must not overlap and must cover [0, S) (the loss calls: [0, V));
 * the library cannot see the other ranks, so this is the caller's contract.
 *
 * Data faults behave as in 1.0: a NaN or +Inf in any shard's columns (below
 * S for stage 1), or a row that is -Inf everywhere, faults that row on every
 * rank (kl NaN, keep 0, support -1 with padding, loss NaN, gradient 0) and
 * never the call. Argument faults are LR_ERR_INVALID_ARGUMENT as in 1.0,
 * checked before anything is written.
 *
 * Worked example: two ranks, vocabulary 10, rank 0 holds ids [0, 6), rank 1
 * holds [6, 10), N rows, K = 8; `gather` is the host's all-gather.
 *
 *   lr_vocab_shard sh = {sizeof sh, rank == 0 ? 0 : 6, 10, 10};
 *   // z_e, z_a: [N, 6] on rank 0, [N, 4] on rank 1.
 *   lr_shard_select_stats(z_e, z_a, &sh, NULL, my_stats, s);   // [N, 6] f64
 *   gather(my_stats -> all_stats);                             // [2, N, 6] f64
 *   lr_shard_select_finish(all_stats, NULL, kl, keep, s);      // [N] as lr_select_steps
 *   lr_shard_target_candidates(z_e, z_a, &sh, all_stats, kept_rows, NULL,
 *                              my_cands, s);                   // [M, 25] f32
 *   gather(my_cands -> all_cands);                             // [2, M, 25] f32
 *   lr_shard_targets_finish(all_cands, NULL, ids, weights, support, s);
 *   // ids, weights, support: [M, 8], [M, 8], [M] as lr_build_targets, global ids.
 *
 *   // Stage 2: z is the trained model's shard, ids/weights the full targets.
 *   lr_shard_loss_stats(z, &sh, ids, weights, &lp, my_loss_stats, s);  // [M, 4] f64
 *   gather(my_loss_stats -> all_loss_stats);                            // [2, M, 4] f64
 *   lr_shard_loss_backward(z, &sh, ids, weights, all_loss_stats, &lp,
 *                          loss, z, s);  // loss as 1.0; gradient over z's own columns
 */

/* Record widths, in elements of the record's dtype. */
#define LR_SHARD_SELECT_STATS 6         /* float64: e_max, a_max, dE, dA, s, fault */
#define LR_SHARD_CANDIDATES(K) (1 + 3 * (K)) /* float32: count, then K (id, z_expert, z_amateur) */
#define LR_SHARD_LOSS_STATS 4           /* float64: z_max, d, vz, fault */

/* Where a shard lies in the full vocabulary. Every field is required; there
 * is no default. */
typedef struct lr_vocab_shard {
  uint32_t struct_size;  /* sizeof(lr_vocab_shard) */
  int64_t column_offset; /* v0: the global id of the shard's column 0; >= 0 */
  int64_t expert_vocab;  /* Ve: the expert's full width (all shards); the
                            loss calls: the trained model's full width V */
  int64_t amateur_vocab; /* Va: the amateur's full width; ignored by the loss calls */
} lr_vocab_shard;

/* Stage 1, partial: the KL statistics of the shard's shared columns.
 *
 *   expert_shard   [N, Ve_r], amateur_shard [N, Va_r]: logits as in 1.0
 *   shard          where they lie; v0 + Ve_r <= Ve and v0 + Va_r <= Va,
 *                  except that a side with no columns may start anywhere
 *                  up to max(Ve, Va)
 *   params         NULL means the defaults; shared_vocab 0 = min(Ve, Va);
 *                  kl_threshold is not used here
 *   stats_out      [N, LR_SHARD_SELECT_STATS] float64, unit stride along the
 *                  record, any row stride
 *
 * Record, over the shard's columns below S, with T the temperature and
 * e = expert logit / T, a = amateur logit / T: e_max, a_max the largest e
 * and a (-Inf if none), dE = sum exp(e - e_max), dA likewise,
 * s = sum exp(e - e_max) ((e - e_max) - (a - a_max)) (+Inf where an amateur
 * -Inf meets a finite expert logit), fault = 1 if a NaN or +Inf was seen,
 * else 0. (In units of 1/T so that the finish needs no temperature.)
 */
LR_API lr_status lr_shard_select_stats(const DLTensor* expert_shard,
                                       const DLTensor* amateur_shard,
                                       const lr_vocab_shard* shard,
                                       const lr_select_params* params,
                                       DLTensor* stats_out,
                                       void* stream);

/* Stage 1, finish: KL and keep from the gathered stats.
 *
 *   stats   [W, N, LR_SHARD_SELECT_STATS] float64, W >= 1, unit stride along
 *           the record, any other strides
 *   params  as given to lr_shard_select_stats (kl_threshold is used here)
 *   kl_out, keep_out  [N] as for lr_select_steps (keep_out may be NULL)
 */
LR_API lr_status lr_shard_select_finish(const DLTensor* stats,
                                        const lr_select_params* params,
                                        DLTensor* kl_out,
                                        DLTensor* keep_out,
                                        void* stream);

/* Stage 1, partial: the shard's members of the support M of each requested
 * row, decided with the row's global expert maximum from the gathered stats.
 *
 *   expert_shard, amateur_shard, shard  as for lr_shard_select_stats
 *   stats          [W, N, LR_SHARD_SELECT_STATS] float64: the gathered
 *                  output of lr_shard_select_stats on the same logits
 *   rows           [M] int64 row indices, or NULL for all N rows (as 1.0)
 *   params         NULL means lr_target_params_default(); temperature and
 *                  shared_vocab as given to lr_shard_select_stats
 *   candidates_out [M, LR_SHARD_CANDIDATES(K)] float32, K >= 1, unit stride
 *                  along the record, any row stride
 *
 * Record: count = |M ∩ shard| (-1 for a data fault of the row), then the
 * min(count, K) members with the largest expert logit (ties: lower id) as
 * (global id, expert logit, amateur logit), then (-1, 0, 0) padding. Values
 * are the stored logits converted to float32 (exact for all three dtypes);
 * ids are exact because shared_vocab must be at most 2^24
 * (LR_ERR_UNSUPPORTED beyond).
 */
LR_API lr_status lr_shard_target_candidates(const DLTensor* expert_shard,
                                            const DLTensor* amateur_shard,
                                            const lr_vocab_shard* shard,
                                            const DLTensor* stats,
                                            const DLTensor* rows,
                                            const lr_target_params* params,
                                            DLTensor* candidates_out,
                                            void* stream);

/* Stage 1, finish: the contrastive targets from the gathered candidates.
 *
 *   candidates     [W, M, LR_SHARD_CANDIDATES(K)] float32 (strides as for
 *                  the stats above)
 *   params         as given to lr_shard_target_candidates
 *   target_ids, target_weights, support_size  [M, K], [M, K], [M] exactly as
 *                  lr_build_targets writes them, with global ids: the top K
 *                  of the union by expert logit, support_size the sum of the
 *                  counts (never truncated silently), -1 and padding for a
 *                  faulted row.
 */
LR_API lr_status lr_shard_targets_finish(const DLTensor* candidates,
                                         const lr_target_params* params,
                                         DLTensor* target_ids,
                                         DLTensor* target_weights,
                                         DLTensor* support_size,
                                         void* stream);

/* Stage 2, partial: the shard's softmax statistics and its target terms.
 *
 *   logits_shard   [N, V_r] float32/bfloat16/float16, the trained model's
 *                  columns [v0, v0 + V_r) (shard->expert_vocab = V)
 *   target_ids, target_weights  [N, K]: the full targets with global ids, as
 *                  for lr_distill_loss_backward (the same on every rank)
 *   params         NULL means lr_loss_params_default() (temperature is used)
 *   stats_out      [N, LR_SHARD_LOSS_STATS] float64 (strides as for the select
 *                  stats)
 *
 * Record: z_max the shard's largest logit (-Inf if none), d = sum exp((z -
 * z_max) / T), vz = sum of v_k z_k / T over the target ids in the shard with
 * v_k > 0, fault = 1 if a NaN or +Inf was seen.
 */
LR_API lr_status lr_shard_loss_stats(const DLTensor* logits_shard,
                                     const lr_vocab_shard* shard,
                                     const DLTensor* target_ids,
                                     const DLTensor* target_weights,
                                     const lr_loss_params* params,
                                     DLTensor* stats_out,
                                     void* stream);

/* Stage 2, finish: the loss and the gradient of the shard's own columns.
 *
 *   logits_shard, shard, target_ids, target_weights  as for lr_shard_loss_stats
 *   stats          [W, N, LR_SHARD_LOSS_STATS] float64: the gathered output
 *                  of lr_shard_loss_stats
 *   params         as for lr_distill_loss_backward (reduction, grad_scale,
 *                  temperature)
 *   loss_out       as for lr_distill_loss_backward: the whole rows' loss,
 *                  the same on every rank
 *   grad_logits    [N, V_r]: the gradient of the shard's columns, or
 *                  logits_shard itself (in place), or NULL
 *
 * The formulas, the counting of rows for MEAN and the faults are those of
 * lr_distill_loss_backward over the whole row.
 */
LR_API lr_status lr_shard_loss_backward(const DLTensor* logits_shard,
                                        const lr_vocab_shard* shard,
                                        const DLTensor* target_ids,
                                        const DLTensor* target_weights,
                                        const DLTensor* stats,
                                        const lr_loss_params* params,
                                        DLTensor* loss_out,
                                        DLTensor* grad_logits,
                                        void* stream);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LIGHTREASONER_H */
