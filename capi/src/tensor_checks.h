// Argument checks for DLPack tensors and parameter structs. Each check
// either returns a validated core view or throws ApiError with a message
// that names the argument; the entry points run all checks before writing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "distill_loss.h"
#include "error_state.h"
#include "lightreasoner/lightreasoner.h"
#include "select_targets.h"
#include "logits_view.h"
#include "shard_records.h"

namespace lr::capi {

// The bytes a tensor may touch, for aliasing checks.
struct ByteRange {
  const char* name;
  uintptr_t begin = 0, end = 0;  // [begin, end); empty when begin == end
};

// Facts common to every tensor argument after validation.
struct CheckedTensor {
  const char* name;
  const DLTensor* t;
  ByteRange range;
};

// Where a call runs: on the host, or on one CUDA device.
struct Placement {
  bool cuda = false;
  int device = -1;
};

// Where a call's tensors live; all must agree. Host memory always; CUDA
// device memory when CUDA is compiled in.
class DeviceAgreement {
 public:
  void add(const char* name, const DLTensor* t);
  // Throws LR_ERR_UNSUPPORTED for device memory this build cannot use. For
  // tensors labelled CUDA, also asks the runtime where each one's memory
  // really is: host memory, or another device's, labelled cuda:d is an
  // argument fault (the kernels would read garbage or crash).
  Placement require_supported() const;

 private:
  const char* first_name_ = nullptr;
  DLDevice first_{};
  std::vector<std::pair<const char*, const DLTensor*>> tensors_;
};

// The CUDA kernels keep a row's support in shared memory: K is bounded there.
void check_cuda_target_slots(int64_t k, const char* name);

// A [rows, cols] logits matrix: float32/bfloat16/float16, unit stride along
// cols, non-negative row stride. writable: rows must not overlap.
core::LogitsView check_logits(const DLTensor* t, const char* name, bool writable = false);

// A 1-D tensor of `length` elements of the given dtype.
template <class T>
core::Strided1D<T> check_vector(const DLTensor* t, const char* name, DLDataType dtype, int64_t length,
                                bool writable);

// A 2-D [rows, cols] tensor of the given dtype (any non-negative strides).
template <class T>
core::Strided2D<T> check_matrix(const DLTensor* t, const char* name, DLDataType dtype, int64_t rows,
                                int64_t cols, bool writable);

// Like check_matrix but the column count is read from the tensor (K).
int64_t matrix_cols(const DLTensor* t, const char* name);

// 0-d or [1] float32 scalar output.
float* check_scalar_output(const DLTensor* t, const char* name);

ByteRange byte_range(const DLTensor* t, const char* name);
bool same_view(const DLTensor* a, const DLTensor* b);
bool ranges_overlap(const ByteRange& a, const ByteRange& b);
// Throws if any output range intersects any other range in the list.
void check_no_aliasing(const std::vector<ByteRange>& outputs, const std::vector<ByteRange>& inputs);

void require_not_null(const void* p, const char* name);

// Resolves shared_vocab (0 = min) against the two widths.
int64_t resolve_shared_vocab(int64_t requested, int64_t ve, int64_t va, const char* params_name);
void check_temperature(float t, const char* params_name);

// Copies a params struct after checking struct_size (NULL = defaults).
template <class P>
P read_params(const P* p, P defaults, const char* name) {
  if (!p) return defaults;
  if (p->struct_size < sizeof(P))
    invalid(std::string(name) + "->struct_size is " + std::to_string(p->struct_size) +
            ", smaller than the " + std::to_string(sizeof(P)) +
            " bytes of ABI 1.0 (initialise params from the lr_*_params_default() call)");
  return *p;  // a newer caller's larger struct: the fields we know are its prefix
}

DLDataType dl_float32();
DLDataType dl_int32();
DLDataType dl_int64();
DLDataType dl_uint8();

}  // namespace lr::capi

namespace lr::capi {

// The expert/amateur pair shared by the select/targets calls, validated together.
struct LogitsPairInputs {
  core::LogitsView expert, amateur;
  int64_t shared_vocab = 0;
  ByteRange expert_range, amateur_range;
};
LogitsPairInputs check_logits_pair(const DLTensor* expert, const DLTensor* amateur, int64_t shared_vocab,
                                     const char* params_name);

}  // namespace lr::capi

namespace lr::capi {

void check_beta(float beta, const char* params_name);

// target_ids [M, K], target_weights [M, K], support_size [M]: validated together.
core::cpu::TargetOutputs check_target_outputs(DLTensor* target_ids, DLTensor* target_weights,
                                              DLTensor* support_size, int64_t m);

}  // namespace lr::capi

// ---- ABI 1.1: the vocabulary-sharded calls (lr_shard_*)

namespace lr::capi {

DLDataType dl_float64();

// A copy of *shard after its struct_size check; offset >= 0, widths >= 0.
lr_vocab_shard read_shard(const lr_vocab_shard* shard);

// Columns [0, cols) of a shard tensor lie at global ids [v0, v0 + cols):
// v0 + cols must not pass the full width. `width_field` names it. A shard
// without columns may start past `full`, up to empty_start_limit.
void check_shard_fits(const lr_vocab_shard& sh, int64_t cols, int64_t full, const char* tensor,
                      const char* width_field, int64_t empty_start_limit);

// The expert/amateur shards of the stage-1 calls, validated together: both
// fit their full widths, S resolved against the full widths, and both hold
// the same columns below S.
struct ShardPairInputs {
  core::LogitsView expert, amateur;
  core::ShardColumns cols;  // shared_cols: the shard's columns below S
  int64_t shared_vocab = 0;
  ByteRange expert_range, amateur_range;
};
ShardPairInputs check_shard_pair(const DLTensor* expert, const DLTensor* amateur, const lr_vocab_shard* shard,
                                 int64_t shared_vocab, const char* params_name);

// A [rows, width] record output: unit stride along the record, rows apart.
template <class T>
core::RecordRows<T> check_record_output(DLTensor* t, const char* name, DLDataType dtype, int64_t rows,
                                        int64_t width);

// A gathered [W, rows, width] record input, W >= 1, unit stride along the
// record; rows < 0: any number of rows.
template <class T>
core::GatheredRecords<T> check_gathered(const DLTensor* t, const char* name, DLDataType dtype, int64_t rows,
                                        int64_t width);

// K from a candidates record width 1 + 3K (K >= 1), read from dimension `dim`.
int64_t candidates_k_of(const DLTensor* t, const char* name, int dim);

// rows [M] int64 indices into N rows (host tensors: each in [0, N)); M in *m.
core::Strided1D<const int64_t> check_row_indices(const DLTensor* rows, int64_t n, bool on_device, int64_t* m);

}  // namespace lr::capi

namespace lr::capi {

// The checks of the loss calls, shared by lr_distill_loss_backward and the
// sharded loss calls.

// Temperature, reduction (returned, read as an int) and grad_scale.
int check_loss_params(const lr_loss_params& p);

// target_ids, target_weights [n, K], K >= 1.
core::cpu::SparseTargets check_sparse_targets(const DLTensor* target_ids, const DLTensor* target_weights,
                                              int64_t n);

// Every target entry on the host: ids in [-1, v), weights finite, >= 0 and
// 0 at padding, no id twice in a row. Returns the rows with an id (MEAN's count).
int64_t check_target_entries(const core::cpu::SparseTargets& t, int64_t n, int64_t v);

struct LossOutput {
  core::Strided1D<float> rows{};  // NONE
  float* scalar = nullptr;        // SUM / MEAN
};
LossOutput check_loss_output(DLTensor* loss_out, int reduction, int64_t n);

// grad_logits [N, V] of logits' dtype, or logits itself; never a partial overlap.
struct GradOutput {
  core::MutLogitsView grad{};
  bool in_place = false;
};
GradOutput check_grad_output(DLTensor* grad_logits, const DLTensor* logits, const core::LogitsView& z,
                             const char* logits_name);

// grad_scale / D, D the counted rows for MEAN (1 otherwise or without any).
double loss_grad_coef(const lr_loss_params& p, int reduction, int64_t counted);

// The per-row losses reduced as asked (in row order, whatever the threads).
void write_loss(const LossOutput& out, int reduction, const std::vector<double>& row_loss, int64_t counted);

}  // namespace lr::capi

namespace lr::capi {

// The trained model's shard of the sharded loss calls: logits_shard [N, V_r]
// within shard->expert_vocab = V (>= 1); amateur_vocab is ignored.
struct LossShardInputs {
  core::LogitsView z;
  core::ShardColumns cols;  // shared_cols: the shard's width
  int64_t full_vocab = 0;   // V
};
LossShardInputs check_loss_shard(const DLTensor* logits_shard, const lr_vocab_shard* shard);

}  // namespace lr::capi
