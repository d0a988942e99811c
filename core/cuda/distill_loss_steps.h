// The steps of a loss call around its row kernel, shared by the unsharded
// loss (distill_loss.cu, where they are defined) and the sharded one
// (shard_loss_backward.cu): the O(N) scratch, the device check of the
// targets (which also counts the rows MEAN divides by), and the SUM / MEAN
// reduction of the row losses in a fixed order.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda_kernels.h"
#include "distill_loss_row.cuh"
#include "scratch_pool.h"

namespace lr::core::cuda {

// The scratch of n rows from the library's pool, its row count zeroed on
// the stream; freed on the stream when this goes out of scope.
class LossScratchMemory {
 public:
  LossScratchMemory(int64_t n, int device, cudaStream_t stream);
  const LossScratch& view() const { return view_; }

 private:
  StreamScratch mem_;
  LossScratch view_{};
};

// Writes each row's target status (ids in [-1, vocab), weights finite and
// >= 0, 0 at padding, no id twice) and counts the rows with a target or a
// fault. Rows: job.logits.rows.
void launch_target_check(const LossJob& job, int64_t vocab, const LossScratch& scratch, cudaStream_t stream);

// SUM / MEAN of scratch.row_loss into job.loss_scalar; nothing for NONE.
void launch_loss_reduction(const LossJob& job, const LossScratch& scratch, cudaStream_t stream);

}  // namespace lr::core::cuda
