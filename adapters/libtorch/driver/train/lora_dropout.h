// LoRA dropout whose masks do not depend on how the samples are batched or
// split across ranks (data-parallel training, issue 13): each row of a
// forward pass carries a seed (the trainer derives it from the run seed, the
// sample's place in the sample stream and its index), and each adapter draws
// that row's mask from a generator seeded with (row seed, adapter index), over
// the row's real tokens only. So a sample gets the same masks alone, in any
// batch, padded to any length, on any rank; and a resumed run draws what an
// uninterrupted one would (the masks depend on positions, not on a state).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace lr::driver {

// One row of a forward pass: its seed and its real (unpadded) length.
struct DropoutRow {
  uint64_t seed = 0;
  int64_t length = 0;
};

// A well-mixed combination of two values (splitmix64's finaliser over a ^ b's
// mix): seeds that differ in any input give unrelated streams.
uint64_t mix_seed(uint64_t a, uint64_t b);

// The dropout seed of the sample drawn at `stream_position` of the trainer's
// sample stream (micro-batch m's j-th sample is at m * batch_size + j), index `sample`.
uint64_t sample_dropout_seed(uint64_t run_seed, int64_t stream_position, int64_t sample);

// Inverted dropout of x [B, T, in] with one mask per row: row b's first
// rows[b].length positions keep each value with probability 1 - p (scaled by
// 1 / (1 - p)), drawn from a generator of x's device seeded with
// mix_seed(rows[b].seed, salt); padding positions are zeroed (they never reach
// a real position: attention is causal and masked). Throws std::invalid_argument
// when x is not 3-D or rows.size() != B.
torch::Tensor row_dropout(const torch::Tensor& x, double p, const std::vector<DropoutRow>& rows, uint64_t salt);

}  // namespace lr::driver
