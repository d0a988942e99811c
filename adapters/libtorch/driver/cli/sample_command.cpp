// lightreasoner sample --config FILE [--set key=value ...]
// Stage 1 of the experiment: expert rollouts on the training problems, both
// models' logits on the exact rollout ids, selection and contrastive targets;
// records appended to RUN/supervision.jsonl (format: sample/FORMAT.md). A
// stopped run resumes where it stopped, with nothing lost or duplicated.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <stdexcept>

#include "commands.h"
#include "config/experiment_config.h"
#include "model_loading.h"
#include "progress.h"
#include "qwen2_model.h"
#include "sample/problems.h"
#include "sample/sampler.h"

namespace lr::driver::cli {

namespace {

struct SampleArgs {
  std::string config;
  std::vector<std::string> overrides;
};

// The first num_problems problems, or a seeded random subset when asked.
std::vector<Problem> training_problems(const ExperimentConfig& c) {
  std::vector<Problem> problems = read_problems(c.data.train_file, c.data.question_field, c.data.answer_field);
  if (c.data.shuffle) std::shuffle(problems.begin(), problems.end(), std::mt19937_64(uint64_t(c.run.seed)));
  if (c.data.num_problems > 0 && c.data.num_problems < int64_t(problems.size()))
    problems.resize(size_t(c.data.num_problems));
  return problems;
}

void run_sample(const SampleArgs& args) {
  const ExperimentConfig c = load_config(args.config, args.overrides);
  if (c.models.make_tiny)
    throw std::runtime_error(args.config + ": models.make_tiny is not supported by `sample` yet; write the "
                             "checkpoints with `lightreasoner make-tiny-model` and set models.expert and models.amateur");
  if (c.sample.shared_vocab != 0)
    throw std::runtime_error(args.config + ": sample.shared_vocab: only 0 (the ids both models and the "
                             "tokenizer really share) is supported");
  const torch::Device device = device_from(c.run.device, "run.device");
  const Tokenizer tokenizer = tokenizer_in(c.models.expert);
  const Qwen2Model expert = Qwen2Model::load(c.models.expert, device, dtype_from(c.run.dtype));
  const Qwen2Model amateur = Qwen2Model::load(c.models.amateur, device, dtype_from(c.run.dtype));
  const std::vector<Problem> problems = training_problems(c);

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
  opts.system_prompt = c.prompt.system;
  opts.stop_ids = c.sample.stop_ids.empty() ? stop_ids_for(c.models.expert, expert.config(), tokenizer)
                                            : c.sample.stop_ids;

  const std::filesystem::path run_dir(c.run.out_dir);
  std::filesystem::create_directories(run_dir);
  std::ofstream(run_dir / "config.toml") << to_toml(c);  // the effective configuration, for the record
  const std::string out = (run_dir / "supervision.jsonl").string();
  Progress progress("sample", int64_t(problems.size()), "problems");
  const SampleStats stats =
      run_sampling(expert, amateur, tokenizer, problems, opts, out, [&](int64_t done, int64_t) { progress.update(done); });
  progress.finish();
  std::cerr << "sample: " << stats.problems_this_call << " problems sampled now, " << stats.problems_already_done
            << " were already done; statistics in " << stats_path_for(out) << "\n";
  std::cout << out << "\n";
}

}  // namespace

void add_sample_command(CLI::App& app) {
  auto args = std::make_shared<SampleArgs>();
  CLI::App* cmd = app.add_subcommand(
      "sample", "Stage 1: expert rollouts, expert/amateur contrast, selected steps with their soft targets, "
                "appended to RUN/supervision.jsonl (resumable)");
  cmd->add_option("--config", args->config, "experiment TOML (see adapters/libtorch/driver/configs/)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", args->overrides, "override a config key, e.g. --set sample.kl_threshold=0.5 (repeatable)");
  cmd->callback([args] { run_sample(*args); });
}

}  // namespace lr::driver::cli
