// Seeded, roughly realistic expert/amateur logits for the benchmarks.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace lrbench {

struct LogitsPair {
  at::Tensor expert;   // [N, V] dtype, contiguous
  at::Tensor amateur;  // [N, V] dtype, contiguous
};

// Expert rows are N(0, 3^2) logits; every 8th row has one strongly peaked
// token, the next has three moderately peaked ones (a small beta-support).
// The amateur is the expert plus small noise on every 3rd row (KL below
// kappa = 0.4: not kept) and a damped, noisier copy elsewhere (KL well above).
LogitsPair make_logits(int64_t rows, int64_t vocab, at::ScalarType dtype, uint64_t seed);

}  // namespace lrbench
