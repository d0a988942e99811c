// The diagnostics that explain a LightReasoner result (METHOD.md
// "Diagnostics"), on validation problems with the expert and amateur of the
// run and stage 1's prompt, kappa, beta and K:
//   (a) rollout_statistics.h  stage 1's statistics on the expert's greedy rollouts
//   (b) target_decoding.h     greedy decoding from the contrastive target, its
//                             accuracy next to the expert's own greedy accuracy
//   (c) gold_walk.h           what the target does on the gold worked solution:
//                             correct expert tokens it overturns, first errors it fixes
// Grading is eval's (evaluate/evaluator.h output_text, grading/grade_output).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "evaluate/datasets.h"
#include "model/qwen2_model.h"
#include "tokenizer.h"

namespace lr::driver {

struct DiagnoseOptions {
  std::function<std::string(const std::string& question)> prompt;  // the sample stage's prompt
  int64_t max_new_tokens = 1;  // sample.max_new_tokens: both greedy decodings
  float kl_threshold = 0;      // kappa
  float beta = 0;
  int64_t k = 1;
  int64_t batch_size = 1;      // problems per batched forward
  // Rows end at any of them; the gold solution ends with the first (the
  // expert's eos, as the sample stage's stop ids list it first).
  std::vector<int64_t> stop_ids;
};

// Called with 0 done as each phase starts ("expert rollouts", "target
// decoding", "gold solutions"), then after each of its batches.
using DiagnoseProgress = std::function<void(const std::string& phase, int64_t done, int64_t total)>;

// The diagnostics of `problems` as the JSON of RUN/diagnostics.json (without
// its settings): "rollouts" (a), "decoding" (b), "gold" (c). Throws
// std::invalid_argument for bad options, a prompt or solution id a model
// cannot read, and whatever the models throw.
nlohmann::ordered_json run_diagnostics(const Qwen2Model& expert, const Qwen2Model& amateur,
                                       const Tokenizer& tokenizer, const std::vector<EvalProblem>& problems,
                                       const DiagnoseOptions& options, const DiagnoseProgress& progress = {});

}  // namespace lr::driver
