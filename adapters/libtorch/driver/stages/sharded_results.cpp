#include "stages/sharded_results.h"

#include <string>

#include "distributed/process_group.h"
#include "evaluate/batch_timing.h"
#include "evaluate/results_merge.h"
#include "io/run_layout.h"
#include "stages/shard_parts.h"

namespace lr::driver {

namespace {

// Problems with a result in the merged file or in parts of other world sizes.
std::set<int64_t> done_elsewhere(const std::filesystem::path& results, int world) {
  std::set<int64_t> done;
  std::vector<std::string> files = parts_of_other_worlds(results, world);
  files.push_back(results.string());
  for (const std::string& f : files)
    for (const auto& [id, line] : read_result_lines(f).records) done.insert(id);
  return done;
}

// Rank 0: the parts into the results file and the timing file, then gone.
void merge_parts(const std::filesystem::path& results, const std::vector<EvalProblem>& problems) {
  std::vector<int64_t> ids;
  for (const EvalProblem& p : problems) ids.push_back(p.id);
  merge_result_parts(results.string(), ids, parts_of(results));
  const std::filesystem::path timing = RunLayout::timing_of(results);
  merge_timing_parts(timing.string(), parts_of(timing));
  remove_parts(timing);
  remove_parts(results);
}

}  // namespace

DatasetScore evaluate_on_ranks(const Qwen2Model& model, const Tokenizer& tokenizer,
                               const std::vector<EvalProblem>& problems, EvalOptions options,
                               const std::filesystem::path& results) {
  options.shard = this_rank_shard();
  const Shard& shard = options.shard;
  if (shard.whole()) {
    options.timing_path = RunLayout::timing_of(results).string();
    return evaluate_dataset(model, tokenizer, problems, options, results.string());
  }
  options.done_elsewhere = done_elsewhere(results, shard.world);
  options.timing_path = RunLayout::shard_of(RunLayout::timing_of(results), shard.rank, shard.world).string();
  const std::string mine = RunLayout::shard_of(results, shard.rank, shard.world).string();
  const DatasetScore part = evaluate_dataset(model, tokenizer, problems, options, mine);
  if (options.stop && options.stop->load()) return part;
  // Every rank's part is complete once every rank has sent its counts.
  const std::vector<std::string> counts = dist::all_gather_text(
      "parts of " + results.string(), std::to_string(part.done_before) + " " + std::to_string(part.done_now));
  if (shard.rank == 0) merge_parts(results, problems);
  dist::barrier("merged " + results.string());
  DatasetScore score = score_results(read_result_lines(results.string()).records, problems,
                                     RunLayout::timing_of(results).string());
  for (const std::string& c : counts) {  // each problem is counted by the one rank that owns it
    const size_t space = c.find(' ');
    score.done_before += std::stoll(c.substr(0, space));
    score.done_now += std::stoll(c.substr(space + 1));
  }
  return score;
}

}  // namespace lr::driver
