// Stage 1 of the experiment (`lightreasoner sample`): expert rollouts on the
// training problems, both models' logits on the exact rollout ids, selection
// and contrastive targets; records appended to RUN/supervision.jsonl (format:
// sample/FORMAT.md). A stopped run resumes where it stopped, with nothing
// lost or duplicated.
//
// On the ranks of a group (distributed/sharding.h) rank r samples the batches
// b with b % W == r into its part, RUN/shards/supervision.rankR-of-W.jsonl
// (resumed like the file itself); rank 0 then merges the parts into
// RUN/supervision.jsonl (sample/supervision_merge.h; the bytes a one-process
// run writes), writes the statistics and removes the parts (parts of another
// world size are imported: stages/shard_parts.h). Rank 0 alone writes the
// shared files (config.toml, the statistics, stage_seconds.json) and prints.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>
#include <set>
#include <stdexcept>

#include "config/experiment_config.h"
#include "distributed/process_group.h"
#include "distributed/sharding.h"
#include "io/json_files.h"
#include "io/atomic_file.h"
#include "io/run_layout.h"
#include "io/whole_io.h"
#include "model/qwen2_model.h"
#include "runtime/interrupt.h"
#include "runtime/model_loading.h"
#include "runtime/progress.h"
#include "sample/sampler.h"
#include "sample/supervision_merge.h"
#include "sample/supervision_store.h"
#include "stages/rollout_stop_ids.h"
#include "stages/shard_parts.h"
#include "stages/share_label.h"
#include "stages/stage.h"
#include "stages/training_problems.h"

namespace lr::driver {

namespace {

SampleOptions sample_options(const ExperimentConfig& c, const Qwen2Config& expert_config, const Tokenizer& tokenizer) {
  SampleOptions opts;
  opts.max_new_tokens = c.sample.max_new_tokens;
  opts.greedy = c.sample.greedy;
  opts.temperature = c.sample.temperature;
  opts.top_p = c.sample.top_p;
  opts.seed = uint64_t(c.run.seed);
  opts.batch_size = c.sample.batch_size;
  opts.kl_threshold = float(c.sample.kl_threshold);
  opts.beta = float(c.sample.beta);
  opts.k = c.sample.k;
  opts.selection = c.sample.selection;  // the ablations (sample/step_selection.h, sample/ablation_targets.h)
  opts.targets = c.sample.targets;
  opts.system_prompt = c.prompt.system;
  // The same prompt as eval's chain-of-thought one (prompt/prompt_template.h).
  if (c.prompt.templ != kDefaultCotTemplate) opts.prompt_template = c.prompt.templ;
  // Rollouts end at the ChatML turn's end too, as in eval and sft: a base
  // expert whose config lists only <|endoftext|> closes its turn with <|im_end|>.
  opts.stop_ids = rollout_stop_ids(c, expert_config, tokenizer);
  return opts;
}

void check_supported(const ExperimentConfig& c) {
  if (c.sample.shared_vocab != 0)
    throw std::runtime_error(c.source + ": sample.shared_vocab: only 0 (the ids both models and the "
                             "tokenizer really share) is supported");
}

// Thrown from the progress callback when Ctrl-C was pressed: every problem
// written so far is complete in the store (fsync'ed with its done marker).
struct SampleInterrupted {};

// The header settings of the supervision file (what sample_settings records).
nlohmann::json settings_of(const SampleOptions& o, const Qwen2Config& expert, const Qwen2Config& amateur,
                           const Tokenizer& tokenizer) {
  return sample_settings(o, expert.vocab_size, amateur.vocab_size, tokenizer.vocab_size());
}

// A rank's problems done elsewhere: in the merged file and in parts of other
// world sizes, each checked against the settings (refused as a resume is).
std::set<int64_t> done_elsewhere(const RunLayout& run, const nlohmann::json& settings, int world) {
  std::set<int64_t> done;
  std::vector<std::string> files = parts_of_other_worlds(run.supervision(), world);
  files.push_back(run.supervision().string());
  for (const std::string& f : files) {
    if (!std::filesystem::exists(f) || std::filesystem::file_size(f) == 0) continue;
    const SupervisionBlocks b = read_supervision_blocks(f);
    if (b.settings != settings) throw other_settings_error(f, b.settings, settings);
    done.insert(b.order.begin(), b.order.end());
  }
  return done;
}

// After every rank's part: rank 0 merges them, writes the merged file's
// statistics (this call's counts summed over the ranks) and removes them.
// Returns the merged statistics on rank 0, the part's on the others.
SampleStats merge_parts(const RunLayout& run, const nlohmann::json& settings, const std::vector<Problem>& problems,
                        int64_t k, const SampleStats& part) {
  const nlohmann::json mine = {{"this_call", part.problems_this_call},
                               {"already", part.problems_already_done},
                               {"truncated", part.resume_truncated_bytes}};
  const std::vector<std::string> all = dist::all_gather_text("sample parts", mine.dump());
  if (dist::rank() != 0) {
    dist::barrier("sample merged");
    return part;
  }
  std::vector<int64_t> ids;
  for (const Problem& p : problems) ids.push_back(p.id);
  merge_supervision_parts(run.supervision().string(), settings, ids, parts_of(run.supervision()));
  SampleStats s = supervision_stats(run.supervision().string(), k);
  s.problems_total = int64_t(problems.size());
  for (const std::string& text : all) {  // each problem is counted by the one rank that owns it
    const nlohmann::json j = nlohmann::json::parse(text);
    s.problems_this_call += j.at("this_call").get<int64_t>();
    s.problems_already_done += j.at("already").get<int64_t>();
    s.resume_truncated_bytes += j.at("truncated").get<int64_t>();
  }
  s.expert_vocab = part.expert_vocab;
  s.amateur_vocab = part.amateur_vocab;
  s.tokenizer_vocab = part.tokenizer_vocab;
  s.shared_vocab = part.shared_vocab;
  s.expert_rows_dropped = part.expert_rows_dropped;
  s.amateur_rows_dropped = part.amateur_rows_dropped;
  write_json_atomically(run.supervision_stats().string(), s.to_json());
  remove_parts(run.supervision());
  dist::barrier("sample merged");
  return s;
}

}  // namespace

int run_sample_stage(const ExperimentConfig& c) {
  check_supported(c);
  const auto t0 = std::chrono::steady_clock::now();
  InterruptScope interrupt;
  ensure_tiny_models(c);
  const torch::Device device = device_from(c.run.device, "run.device");
  const Tokenizer tokenizer = tokenizer_in(c.models.expert);
  const Qwen2Model expert = Qwen2Model::load(c.models.expert, device, dtype_from(c.run.dtype));
  const Qwen2Model amateur = Qwen2Model::load(c.models.amateur, device, dtype_from(c.run.dtype));
  const std::vector<Problem> problems = sample_problems(c);
  SampleOptions opts = sample_options(c, expert.config(), tokenizer);
  const nlohmann::json settings = settings_of(opts, expert.config(), amateur.config(), tokenizer);

  const RunLayout run(c.run.out_dir);
  const Shard shard = this_rank_shard();
  std::filesystem::create_directories(run.root());
  // The effective configuration, for the record.
  if (shard.rank == 0) write_file_atomically(run.config().string(), to_toml(c));
  if (!shard.whole()) {
    opts.shard = shard;
    opts.done_elsewhere = done_elsewhere(run, settings, shard.world);
  }
  const std::string out =
      (shard.whole() ? run.supervision() : RunLayout::shard_of(run.supervision(), shard.rank, shard.world)).string();
  std::filesystem::create_directories(std::filesystem::path(out).parent_path());
  const auto record_time = [&] {
    add_stage_seconds(c, "sample", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  };
  std::optional<Progress> progress;
  if (shard.rank == 0)
    progress.emplace(share_label("sample"), shard.items_owned(int64_t(problems.size()), opts.batch_size), "problems");
  SampleStats stats;
  try {
    stats = run_sampling(expert, amateur, tokenizer, problems, opts, out, [&](int64_t done, int64_t) {
      if (progress) progress->update(done);
      if (InterruptScope::requested()) throw SampleInterrupted{};
    });
  } catch (const SampleInterrupted&) {
    record_time();
    say_to_stderr("\nsample: " + dist::rank_prefix() + "interrupted; every problem written to " + out +
                  " is complete (run the same command to resume)\n");
    return kExitInterrupted;
  }
  if (!shard.whole()) stats = merge_parts(run, settings, problems, opts.k, stats);
  if (progress) progress->finish();
  record_time();
  if (shard.rank != 0) return 0;
  std::cerr << "sample: " << stats.problems_this_call << " problems sampled now, " << stats.problems_already_done
            << " were already done; " << stats.records << " supervised steps (kept fraction "
            << stats.kept_fraction << "); statistics in " << run.supervision_stats().string() << "\n";
  std::cout << out << "\n";
  return 0;
}

bool sample_stage_complete(const ExperimentConfig& c) {
  namespace fs = std::filesystem;
  const RunLayout run(c.run.out_dir);
  if (!fs::exists(run.supervision()) || !fs::exists(run.supervision_stats())) return false;
  const fs::path expert_config = fs::path(c.models.expert) / "config.json";
  const fs::path amateur_config = fs::path(c.models.amateur) / "config.json";
  if (!fs::exists(expert_config) || !fs::exists(amateur_config)) return false;
  check_supported(c);
  const Qwen2Config ec = Qwen2Config::from_json_file(expert_config.string());
  const Qwen2Config ac = Qwen2Config::from_json_file(amateur_config.string());
  const Tokenizer tokenizer = tokenizer_in(c.models.expert);
  const nlohmann::json want = settings_of(sample_options(c, ec, tokenizer), ec, ac, tokenizer);
  SupervisionFile file;
  try {
    file = read_supervision(run.supervision().string());
  } catch (const SupervisionStoreError&) {
    return false;  // the stage reports what is wrong with the file
  }
  if (file.settings != want) return false;
  std::set<int64_t> done;
  for (const ProblemDone& d : file.problems) done.insert(d.problem);
  for (const Problem& p : sample_problems(c))
    if (!done.count(p.id)) return false;
  return true;
}

}  // namespace lr::driver
