// eval's and sft's rollouts on the ranks of a group (distributed/sharding.h):
// each rank evaluates its batches into its part of the results file (and its
// batch timings into its part of the timing file), then rank 0 merges the
// parts into the files a one-process run writes (evaluate/results_merge.h;
// the lines byte for byte) and removes them (shard_parts.h). Without a group,
// or with one rank, this is evaluate_dataset on the file itself.
#pragma once

#include <filesystem>
#include <vector>

#include "evaluate/evaluator.h"

namespace lr::driver {

// Evaluates the problems without a result (options.shard, done_elsewhere and
// timing_path are set here) and returns the score of the merged file, on
// every rank. A rank stopped by options.stop returns at once, before the
// merge, with its part's score (the others then stop at the barrier, naming it).
DatasetScore evaluate_on_ranks(const Qwen2Model& model, const Tokenizer& tokenizer,
                               const std::vector<EvalProblem>& problems, EvalOptions options,
                               const std::filesystem::path& results);

}  // namespace lr::driver
