// Stage 1 of LightReasoner: sampling (adapters/libtorch/driver/METHOD.md, "Stage 1: sampling").
//
// The problems are cut into fixed batches of batch_size by their position in
// the list. For each batch with a problem not yet done:
//   1. the ChatML CoT prompt (prompt/chat_prompt.h) of each problem, encoded once;
//   2. batched expert rollouts (generate(): greedy or sampled, at most
//      max_new_tokens, stop ids kept). A rollout is cut right after a
//      generated id outside the shared vocabulary (not a real token, or one
//      the amateur cannot embed), counted as cut_at_unshared;
//   3. ONE teacher-forced forward of each model over the exact rollout ids
//      (prompt + generated: never decoded and re-encoded), giving the logits
//      at positions prompt_len - 1 .. len - 2, which predict the generated
//      tokens;
//   4. vocabulary alignment: both models' logits are cut to the leading
//      `shared` ids, shared = min(expert vocab, amateur vocab, tokenizer vocab)
//      (the padded rows beyond the tokenizer's ids are never real tokens);
//   5. lr::torch_adapter::select_and_build on all rows of the batch at once
//      (KL > kappa, beta-mask targets with K slots); the ablations
//      (selection, targets) change which rows are kept and their targets;
//   6. each problem's kept rows appended to the store with its done marker
//      (supervision_store.h, FORMAT.md), in the problems' order.
// A resumed run regenerates a partly done batch whole (so every row is
// computed exactly as in an uninterrupted run) and writes only the problems
// not yet done: the final file equals an uninterrupted run's, line for line.
// Sampling draws depend on (seed, batch index, row in batch, step), so a batch
// computed by another rank (SampleOptions::shard) gives the same records.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "config/defaults.h"
#include "distributed/sharding.h"
#include "model/qwen2_model.h"
#include "problems.h"
#include "tokenizer.h"

namespace lr::driver {

struct SampleOptions {
  // Defaults: the config's [sample] (config/defaults.h); kappa and beta the C library's.
  int64_t max_new_tokens = defaults::sample::max_new_tokens;
  bool greedy = defaults::sample::greedy;
  double temperature = defaults::sample::temperature, top_p = defaults::sample::top_p;  // greedy = false
  uint64_t seed = 0;
  int64_t batch_size = defaults::sample::batch_size;
  float kl_threshold = defaults::sample::kl_threshold();  // kappa
  float beta = defaults::sample::beta();
  int64_t k = defaults::sample::k;  // target slots; a larger support is truncated (and counted)
  std::string system_prompt;  // "" leaves the system turn out (see prompt/chat_prompt.h; kDefaultSystemPrompt)
  std::string prompt_template;  // "" = the ChatML prompt of chat_prompt.h; else {system} / {question} filled in
  std::vector<int64_t> stop_ids;
  // The paper's ablations (its Table 6): which positions are kept ("kl",
  // "all", "random"; step_selection.h) and their targets ("contrastive",
  // "expert", "argmax"; ablation_targets.h). "random" draws with `seed`.
  std::string selection = defaults::sample::selection;
  std::string targets = defaults::sample::targets;
  // Stop after this many problems have been written by this call (< 0: no
  // limit). For tests and for cutting a long run into pieces; resume goes on.
  int64_t max_problems_this_call = -1;
  // A sharded run (distributed/sharding.h; not settings: the records do not
  // depend on them): only the batches this shard owns are computed, and the
  // problems in done_elsewhere (done in the merged file or in other parts)
  // count as done. A shard's call writes no statistics (the merge does).
  Shard shard;
  std::set<int64_t> done_elsewhere;
};

// Everything decided by these (and the models' and tokenizer's vocabularies):
// the header settings of the store, compared on resume.
nlohmann::json sample_settings(const SampleOptions& options, int64_t expert_vocab, int64_t amateur_vocab,
                               int64_t tokenizer_vocab);

struct SampleStats {
  // This call.
  int64_t problems_total = 0;       // problems given
  int64_t problems_this_call = 0;   // written by this call
  int64_t problems_already_done = 0;  // found done in the file
  int64_t resume_truncated_bytes = 0;  // partial last problem removed on open
  // Not in the statistics file, so that its bytes depend on the records only
  // (the stage's time is in RUN/stage_seconds.json).
  double seconds = 0;
  // The vocabularies.
  int64_t expert_vocab = 0, amateur_vocab = 0, tokenizer_vocab = 0, shared_vocab = 0;
  int64_t expert_rows_dropped = 0, amateur_rows_dropped = 0;  // logit rows beyond shared
  // The whole file (every complete problem, this call's and earlier ones).
  int64_t problems_done = 0;
  int64_t generated_tokens = 0;
  int64_t positions_scored = 0;
  int64_t records = 0;  // kept positions
  double kept_fraction = 0;  // records / positions_scored
  int64_t kl_faults = 0;     // non-finite KL (data faults), never kept
  int64_t rollouts_cut_at_unshared = 0;
  std::vector<int64_t> kl_histogram;  // bins of kKlBinEdges (supervision_store.h), every scored position
  std::map<int64_t, int64_t> support_histogram;  // support_size -> kept records
  int64_t single_token_labels = 0;  // kept records with support_size == 1
  double single_token_fraction = 0;
  int64_t truncated_supports = 0;   // kept records with support_size > k
  double mean_kept_kl = 0;

  nlohmann::json to_json() const;
};

// The stats of a store file (the "whole file" fields above).
SampleStats supervision_stats(const std::string& out_path, int64_t k);

// OUT.jsonl -> OUT.stats.json (another name: NAME.stats.json).
std::string stats_path_for(const std::string& out_path);

// Problems done of those this shard computes (all of them for the whole).
using SampleProgress = std::function<void(int64_t done, int64_t total)>;

// Runs (or resumes) stage 1 into out_path and, unless sharded, writes the
// stats beside it.
// expert and amateur may differ in vocabulary size; their logits meet on the
// expert's device. Throws std::invalid_argument for bad options or a prompt id
// outside a model's vocabulary, SupervisionStoreError for a file written with
// other settings, and whatever the models throw.
SampleStats run_sampling(const Qwen2Model& expert, const Qwen2Model& amateur, const Tokenizer& tokenizer,
                         const std::vector<Problem>& problems, const SampleOptions& options,
                         const std::string& out_path, const SampleProgress& progress = {});

}  // namespace lr::driver
