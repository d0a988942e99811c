// lightreasoner sample --config FILE [--set key=value ...]
// Stage 1 of the experiment: expert rollouts on the training problems, both
// models' logits on the exact rollout ids, selection and contrastive targets;
// records appended to RUN/supervision.jsonl (format: sample/FORMAT.md). A
// stopped run resumes where it stopped, with nothing lost or duplicated.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>

#include "run_log.h"
#include "commands.h"
#include "interrupt.h"
#include "stages.h"
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
  opts.system_prompt = c.prompt.system;
  // The same prompt as eval's chain-of-thought one (evaluate/prompt_template.h).
  if (c.prompt.templ != kDefaultCotTemplate) opts.prompt_template = c.prompt.templ;
  // Rollouts end at the ChatML turn's end too, as in eval and sft: a base
  // expert whose config lists only <|endoftext|> closes its turn with <|im_end|>.
  opts.stop_ids = c.sample.stop_ids.empty() ? chat_stop_ids_for(c.models.expert, expert_config, tokenizer)
                                            : c.sample.stop_ids;
  return opts;
}

void check_supported(const ExperimentConfig& c) {
  if (c.sample.shared_vocab != 0)
    throw std::runtime_error(c.source + ": sample.shared_vocab: only 0 (the ids both models and the "
                             "tokenizer really share) is supported");
}

std::string supervision_path(const ExperimentConfig& c) {
  return (std::filesystem::path(c.run.out_dir) / "supervision.jsonl").string();
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
  const std::vector<Problem> problems = training_problems(c);
  const SampleOptions opts = sample_options(c, expert.config(), tokenizer);

  const std::filesystem::path run_dir(c.run.out_dir);
  std::filesystem::create_directories(run_dir);
  std::ofstream(run_dir / "config.toml") << to_toml(c);  // the effective configuration, for the record
  const std::string out = supervision_path(c);
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
            << stats.kept_fraction << "); statistics in " << stats_path_for(out) << "\n";
  std::cout << out << "\n";
  return 0;
}

bool sample_stage_complete(const ExperimentConfig& c) {
  namespace fs = std::filesystem;
  const std::string out = supervision_path(c);
  if (!fs::exists(out) || !fs::exists(stats_path_for(out))) return false;
  if (!fs::exists(fs::path(c.models.expert) / "config.json") || !fs::exists(fs::path(c.models.amateur) / "config.json"))
    return false;
  check_supported(c);
  const Qwen2Config ec = Qwen2Config::from_json_file((fs::path(c.models.expert) / "config.json").string());
  const Qwen2Config ac = Qwen2Config::from_json_file((fs::path(c.models.amateur) / "config.json").string());
  const Tokenizer tokenizer = tokenizer_in(c.models.expert);
  const nlohmann::json want =
      sample_settings(sample_options(c, ec, tokenizer), ec.vocab_size, ac.vocab_size, tokenizer.vocab_size());
  // The header and the done markers; record lines are not parsed.
  std::ifstream in(out);
  std::string line;
  if (!std::getline(in, line)) return false;
  const nlohmann::json header = nlohmann::json::parse(line, nullptr, false);
  if (!header.is_object() || !header.contains("settings") || header["settings"] != want) return false;
  std::set<int64_t> done;
  while (std::getline(in, line)) {
    if (line.find("\"done\":") == std::string::npos) continue;
    const nlohmann::json d = nlohmann::json::parse(line, nullptr, false);
    if (d.is_object() && d.contains("done") && d["done"].is_number_integer()) done.insert(d["done"].get<int64_t>());
  }
  for (const Problem& p : training_problems(c))
    if (!done.count(p.id)) return false;
  return true;
}

namespace {

void run_sample(const SampleArgs& args) {
  const ExperimentConfig c = load_config(args.config, args.overrides);
  RunLog log(c.run.out_dir, "sample");
  if (run_sample_stage(c) == kExitInterrupted) throw std::runtime_error("interrupted");
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
