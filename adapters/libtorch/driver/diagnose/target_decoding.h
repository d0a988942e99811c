// Diagnostics (b): greedy decoding FROM THE TARGET (METHOD.md "Diagnostics").
// At every step both models read the current sequence (prompt + ids so far),
// the contrastive target is built from their next-token logits (beta, K, the
// shared vocabulary; built whatever the KL), and its top id is appended. A row
// ends after a stop id or max_new_tokens. Problems run batch_size at a time,
// every running row of a batch in one forward per model and step (no KV
// cache: the sequences are recomputed, fine for the small models it is for).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "diagnose/position_scores.h"
#include "model/qwen2_model.h"

namespace lr::driver {

struct TargetDecodingOptions {
  ContrastOptions contrast;
  int64_t max_new_tokens = 1;
  int64_t batch_size = 1;
  std::vector<int64_t> stop_ids;
  std::function<void(int64_t done, int64_t total)> progress;  // problems, after each batch
};

struct TargetDecoding {
  std::vector<std::vector<int64_t>> outputs;  // the generated ids of each prompt (a stop id kept last)
  int64_t steps = 0;                          // ids generated, all rows
  int64_t steps_off_expert = 0;               // of them, ids that are not the expert's own top id
};

TargetDecoding decode_from_targets(const Qwen2Model& expert, const Qwen2Model& amateur,
                                   const std::vector<std::vector<int64_t>>& prompts,
                                   const TargetDecodingOptions& options);

}  // namespace lr::driver
