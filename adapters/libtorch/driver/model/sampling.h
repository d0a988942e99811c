// Choosing the next token from last-position logits: greedy (argmax) or
// temperature / top-p (nucleus) sampling by inverse CDF with caller-given
// uniforms, so the randomness is explicit, reproducible and device-independent.
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace lr::driver {

struct SamplingParams {
  bool greedy = true;
  double temperature = 1.0;  // > 0; logits are divided by it
  double top_p = 1.0;        // in [0, 1]: keep the smallest set of most likely
                             // tokens whose mass reaches top_p (always >= 1 token;
                             // top_p = 0 keeps only the argmax, i.e. greedy)
};

// logits [B, V] (any float dtype, any device) -> token ids [B] int64 on the
// same device. uniforms [B] float32 in [0, 1) on any device (ignored, may be
// undefined, when greedy): row b takes the first token whose cumulative kept
// probability exceeds uniforms[b] x (kept mass), tokens ordered by
// decreasing probability when top_p < 1, by id otherwise.
torch::Tensor choose_tokens(const torch::Tensor& logits, const SamplingParams& params,
                            const torch::Tensor& uniforms);

// The splitmix64 finaliser: a well-mixed 64-bit function of x, for deriving
// independent seeds from counters.
uint64_t splitmix64(uint64_t x);

// A uniform double in [0, 1) that is a pure function of (seed, stream, step):
// counter-based (splitmix64 mixing), so the draw of sequence `stream` at
// decoding step `step` does not depend on what else is in the batch.
double counter_uniform(uint64_t seed, uint64_t stream, uint64_t step);

}  // namespace lr::driver
