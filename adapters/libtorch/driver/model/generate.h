// Batched generation with a KV cache.
//
// Prompts are taken batch_size at a time, left-padded (padding masked, position
// ids from the mask, so each row is computed as if it were alone), prefilled in
// one forward, then decoded one token per step with the last position's logits
// only. A row stops growing after it produces a stop id (which is kept in its
// output, as transformers does) or after max_new_tokens; the batch ends when
// every row has stopped.
//
// Determinism: greedy is a pure function of the inputs. Sampling draws, for
// the prompt at index i of `prompts` at decoding step t, the uniform
// counter_uniform(seed, i, t): the same seed and prompts give the same output,
// and a prompt's draws do not depend on its batch mates. (Batch composition
// can still matter through floating point: padding changes the shapes of the
// reductions, so a near-tie may resolve differently in another batch.)
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "model/qwen2_model.h"

namespace lr::driver {

struct GenerateOptions {
  int64_t max_new_tokens = 128;
  bool greedy = true;
  double temperature = 1.0;  // sampling only; > 0
  double top_p = 1.0;        // sampling only; in [0, 1]
  uint64_t seed = 0;         // sampling only
  std::vector<int64_t> stop_ids;  // empty: stop only at max_new_tokens
  int64_t batch_size = 16;
  std::function<void(int64_t done, int64_t total)> on_progress;  // after each batch
  // false: no cache, the whole sequence is recomputed at every step (slow;
  // the tests' check that the cache changes nothing).
  bool use_cache = true;
  // true: batch prompts of similar length together (less padding); outputs
  // still come back in the prompts' order.
  bool sort_by_length = false;
  // Optional: called after each new token of a running row with the prompt's
  // index and its ids generated so far (that token last); true ends the row
  // there, like a stop id (the token is kept). E.g. a stop string in the text.
  std::function<bool(size_t prompt_index, const std::vector<int64_t>& generated)> stop_when;
};

// The generated ids of each prompt (not the prompt), in the prompts' order.
// Runs under torch::NoGradGuard on the model's device and dtype. Throws
// std::invalid_argument for an empty prompt, an id outside the vocabulary, or
// bad options.
std::vector<std::vector<int64_t>> generate(const Qwen2Model& model,
                                           const std::vector<std::vector<int64_t>>& prompts,
                                           const GenerateOptions& options);

// generate() with use_cache = false.
std::vector<std::vector<int64_t>> generate_no_cache(const Qwen2Model& model,
                                                    const std::vector<std::vector<int64_t>>& prompts,
                                                    GenerateOptions options);

}  // namespace lr::driver
