// The evaluation loop: greedy generation over a dataset's problems in fixed
// batches, answer extraction and grading through lr_grading (grade_output), and
// one result line per problem appended to a ResultsFile as each batch ends
// (its generation time to the batch timing file, batch_timing.h).
//
// Batches are fixed by the problems' positions (problems [b*B, (b+1)*B)), so a
// resumed run computes every problem in the same batch as an uninterrupted
// one: a fully written batch is skipped, a partly written one is generated
// again whole and only its missing problems are written. The results are
// then identical to an uninterrupted run's, with nothing duplicated. The same
// holds for a batch computed by another rank (EvalOptions::shard).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "config/defaults.h"
#include "distributed/sharding.h"
#include "evaluate/datasets.h"
#include "evaluate/results_file.h"
#include "model/qwen2_model.h"
#include "tokenizer.h"

namespace lr::driver {

struct EvalOptions {
  // The full prompt text of a question (e.g. cot_prompt / plain_prompt).
  std::function<std::string(const std::string& question)> prompt;
  int64_t max_new_tokens = defaults::eval::max_new_tokens;  // the config's [eval] (config/defaults.h)
  int64_t batch_size = defaults::eval::batch_size;
  std::vector<int64_t> stop_ids;  // a row ends at the first one (kept in output_ids, not in the text)
  // A row also ends when its text contains one of these; the text is cut
  // before the first (output_ids keep every generated id).
  std::vector<std::string> stop_strings;
  bool record_ids = false;        // also write "prompt_ids" and "output_ids" (the SFT trajectories)
  const std::atomic<bool>* stop = nullptr;  // polled between batches: return early, resumable
  // After each batch: problems with a result (including earlier runs'), of
  // the problems this shard computes (all of them for the whole).
  std::function<void(int64_t done, int64_t total)> progress;
  // "" or the batch timing file (batch_timing.h) to append each batch's time to.
  std::string timing_path;
  // A sharded run (distributed/sharding.h): only the batches this shard
  // owns are computed; problems in done_elsewhere (results in the merged
  // file or in other parts) count as done.
  Shard shard;
  std::set<int64_t> done_elsewhere;
};

struct DatasetScore {
  int64_t n = 0;        // problems with a result
  int64_t correct = 0;
  double accuracy = 0;  // correct / n (0 when n = 0)
  double seconds = 0;   // generation time of those problems (summed over the runs that made them;
                        // from the timing file, and old files' per-line "seconds")
  int64_t generated_tokens = 0;
  int64_t done_before = 0;  // results found in the file when the call started
  int64_t done_now = 0;     // results written by this call
  bool complete = false;    // every problem has a result
  nlohmann::ordered_json to_json() const;  // n, correct, accuracy, seconds, generated_tokens
};

// The score of the results `records` restricted to `problems` (ids); extra
// lines (say from a larger limit earlier) are ignored. Their generation time
// is read from `timing_path` ("": none; batch_timing.h).
DatasetScore score_results(const std::map<int64_t, ResultLine>& records, const std::vector<EvalProblem>& problems,
                           const std::string& timing_path = "");

// The text eval grades of a generated output: its ids without a final stop
// id, decoded with special tokens skipped (before any stop-string cut).
std::string output_text(const Tokenizer& tokenizer, const std::vector<int64_t>& out,
                        const std::vector<int64_t>& stop_ids);

// Evaluates the problems without a result in the file (ResultsFile at
// results_path; of a shard: those of its batches) and returns the score of
// the file over all of them. Throws
// std::invalid_argument for bad options, ResultsFileError for a bad file.
DatasetScore evaluate_dataset(const Qwen2Model& model, const Tokenizer& tokenizer,
                              const std::vector<EvalProblem>& problems, const EvalOptions& options,
                              const std::string& results_path);

}  // namespace lr::driver
