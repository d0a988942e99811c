// Data-parallel training's two rules (issue 13), each in one place. Every rank
// holds every sample and walks the same deterministic sample stream
// (trainer.h); within an update, the rank computes its share of each
// micro-batch, so that the SUM over ranks of the shares' contributions is the
// one-process update's loss and gradient exactly (in exact arithmetic),
// whatever the world size. The objectives average over units (per_prefix_loss:
// samples; packed_loss: supervised positions; sequence_ce_loss: target
// tokens), so a share contributes its summed loss over the micro-batch's
// units, which every rank counts without communication.
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace lr::driver {

// Position p (0-based) of an update's list of samples (batch_size * grad_accum
// of them, micro-batch by micro-batch) is computed by rank p % world. Shares
// differ by at most one sample; a rank may get none of a micro-batch.
bool is_my_position(int64_t position, int rank, int world);

// A share's part of its micro-batch's mean loss: the loss summed over the
// share's units, divided by the micro-batch's units (all ranks' together).
torch::Tensor share_of_mean(const torch::Tensor& share_sum, int64_t micro_batch_units);

}  // namespace lr::driver
