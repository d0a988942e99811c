// Stage 1 of the experiment (`lightreasoner sample`): expert rollouts on the
// training problems, both models' logits on the exact rollout ids, selection
// and contrastive targets; records appended to RUN/supervision.jsonl (format:
// sample/FORMAT.md). A stopped run resumes where it stopped, with nothing
// lost or duplicated.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <set>
#include <stdexcept>

#include "config/experiment_config.h"
#include "io/atomic_file.h"
#include "io/run_layout.h"
#include "model/qwen2_model.h"
#include "runtime/interrupt.h"
#include "runtime/model_loading.h"
#include "runtime/progress.h"
#include "sample/sampler.h"
#include "sample/supervision_store.h"
#include "stages/rollout_stop_ids.h"
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
  const SampleOptions opts = sample_options(c, expert.config(), tokenizer);

  const RunLayout run(c.run.out_dir);
  std::filesystem::create_directories(run.root());
  write_file_atomically(run.config().string(), to_toml(c));  // the effective configuration, for the record
  const std::string out = run.supervision().string();
  const auto record_time = [&] {
    add_stage_seconds(c, "sample", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  };
  Progress progress("sample", int64_t(problems.size()), "problems");
  SampleStats stats;
  try {
    stats = run_sampling(expert, amateur, tokenizer, problems, opts, out, [&](int64_t done, int64_t) {
      progress.update(done);
      if (InterruptScope::requested()) throw SampleInterrupted{};
    });
  } catch (const SampleInterrupted&) {
    record_time();
    std::cerr << "\nsample: interrupted; every problem written to " << out
              << " is complete (run the same command to resume)\n";
    return kExitInterrupted;
  }
  progress.finish();
  record_time();
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
  const nlohmann::json want =
      sample_settings(sample_options(c, ec, tokenizer), ec.vocab_size, ac.vocab_size, tokenizer.vocab_size());
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
