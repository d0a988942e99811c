// Diagnostics (c): overturns vs fixes (METHOD.md "Diagnostics").
//
// Both models read the prompt followed by the gold worked solution (the
// dataset's answer text, encoded, then the expert's first stop id) in one
// teacher-forced forward each; the walk goes along the gold tokens g_0, g_1, ..
// with the scores of the positions that predict them:
//   - the expert's FIRST ERROR is the first position j whose expert top id is
//     not g_j; the positions before it are the CORRECT EXPERT TOKENS, exactly
//     the tokens the expert's own greedy rollout would produce there too;
//   - a correct expert token is OVERTURNED when the target's top id is not g_j
//     (training toward the target would push the expert off a right token);
//   - a first error is FIXED when the target's top id is g_j (the target
//     would put the expert back on the gold path);
//   - AMATEUR RIGHT counts first errors where the amateur's top id is g_j.
// The gold solution's last token is a stop id; there any stop id the models
// put on top matches it (a base model may end its answer with <|endoftext|>
// where the gold ends with <|im_end|>: both end the answer).
// Each count is also taken over the positions the selection keeps (KL > kappa),
// the only ones stage 2 trains on. Invariants: overturned <= correct tokens,
// fixed <= first errors <= problems, each kept count <= its total.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "diagnose/position_scores.h"
#include "model/qwen2_model.h"

namespace lr::driver {

struct GoldCounts {
  int64_t correct_tokens = 0;
  int64_t overturned = 0;
  int64_t first_errors = 0;  // problems with a first error
  int64_t fixed = 0;
  int64_t amateur_right = 0;
};

struct GoldWalk {
  int64_t problems = 0;
  int64_t walked = 0;  // gold positions walked: up to and including the first error
  GoldCounts all;         // every position
  GoldCounts kept;        // positions with KL > kappa only
  nlohmann::ordered_json to_json() const;
};

// Adds one problem's walk: scores[j] predicts gold[j] (same length).
// stop_ids: the ids that all match a gold stop id (empty: exact ids only).
void add_gold_walk(const std::vector<PositionScore>& scores, const std::vector<int64_t>& gold, GoldWalk& walk,
                   const std::vector<int64_t>& stop_ids = {});

// The walks of prompts[i] followed by golds[i] (non-empty), batch_size
// problems per teacher-forced forward (score_spans); progress(done, total) after each batch.
GoldWalk walk_gold(const Qwen2Model& expert, const Qwen2Model& amateur, const std::vector<std::vector<int64_t>>& prompts,
                   const std::vector<std::vector<int64_t>>& golds, const ContrastOptions& options, int64_t batch_size,
                   const std::function<void(int64_t done, int64_t total)>& progress = {},
                   const std::vector<int64_t>& stop_ids = {});

}  // namespace lr::driver
