// Data-parallel training's two rules (issue 13), each in one place. Every rank
// holds every sample and walks the same deterministic sample stream
// (trainer.h). An update's samples are cut into passes of samples_per_pass
// consecutive ones (never across micro-batches); a pass is one forward and
// backward, the same shapes and the same arithmetic on whichever rank runs it,
// so its gradient is bitwise the same for every world size. Passes are summed
// in float64 (the order of those sums moves nothing a float32 can hold). The
// objectives average over units (per_prefix_loss: samples; packed_loss:
// supervised positions; sequence_ce_loss: target tokens), so a pass
// contributes its summed loss over the micro-batch's units, which every rank
// counts without communication.
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace lr::driver {

// Pass q (0-based) of an update's passes (micro-batch by micro-batch) is run
// by rank q % world. Shares differ by at most one pass; a rank may get none.
bool is_my_pass(int64_t pass, int rank, int world);

// A pass's part of its micro-batch's mean loss: the loss summed over the
// pass's units, divided by the micro-batch's units (all passes' together).
torch::Tensor share_of_mean(const torch::Tensor& share_sum, int64_t micro_batch_units);

}  // namespace lr::driver
