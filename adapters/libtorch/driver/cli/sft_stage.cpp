// The rejection-sampling SFT baseline as a function (METHOD.md, "Baseline to
// compare against"): one greedy trajectory per training problem under the CoT
// prompt, the ones graded correct kept, LoRA ([lora] settings) trained with
// cross-entropy on every trajectory token, the adapter exported in PEFT's format.
//
//   RUN/sft/trajectories.jsonl  one line per problem (evaluate/results_file.h, with
//                               prompt_ids / output_ids); resumable
//   RUN/sft/train/              the trainer's checkpoint (resume continues the schedule)
//   RUN/sft/train_metrics.jsonl one line per update: update, loss, lr, seconds
//   RUN/sft/adapter/            the PEFT adapter (only when a trajectory was kept)
//   RUN/sft/summary.json        problems, kept trajectories, tuned tokens, seconds
//   RUN/sft/settings.json       what it was made with; a resume with other settings is refused
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "evaluate/evaluator.h"
#include "evaluate/prompt_template.h"
#include "evaluate/run_settings.h"
#include "train_options.h"
#include "interrupt.h"
#include "model_loading.h"
#include "progress.h"
#include "qwen2_model.h"
#include "sft/sft_problems.h"
#include "sft/sft_samples.h"
#include "stages.h"
#include "train/lora.h"
#include "train/peft_export.h"
#include "train/sequence_objective.h"
#include "train/trainer.h"

namespace lr::driver::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

fs::path sft_dir(const ExperimentConfig& c) { return fs::path(c.run.out_dir) / "sft"; }

json sft_settings(const ExperimentConfig& c, const std::vector<int64_t>& stop_ids) {
  return {{"expert", c.models.expert},
          {"train_file", c.data.train_file},
          {"question_field", c.data.question_field},
          {"answer_field", c.data.answer_field},
          {"shuffle", c.data.shuffle},
          {"seed", c.run.seed},
          {"template", c.prompt.templ},
          {"system", c.prompt.system},
          {"max_new_tokens", c.sft.max_new_tokens},
          {"stop_ids", stop_ids},
          {"dtype", c.run.dtype},
          {"lora", {{"r", c.lora.r}, {"alpha", c.lora.alpha}, {"dropout", c.lora.dropout},
                    {"target_modules", c.lora.target_modules}}},
          {"train", {{"lr", c.sft.lr}, {"batch_size", c.sft.batch_size}, {"grad_accum", c.sft.grad_accum},
                     {"epochs", c.sft.epochs}, {"updates", c.sft.updates}, {"max_seq_len", c.sft.max_seq_len}}}};
}

// Keeps the metrics lines of updates <= done (a resumed run repeats the
// updates after its last checkpoint) and returns the seconds they took.
double trim_metrics(const fs::path& path, int64_t done) {
  if (!fs::exists(path)) return 0;
  std::ifstream in(path);
  std::string line, kept;
  double seconds = 0;
  while (std::getline(in, line)) {
    const json j = json::parse(line, nullptr, false);
    if (!j.is_object() || j.value("update", int64_t{0}) > done || j.value("update", int64_t{0}) < 1) continue;
    seconds += j.value("seconds", 0.0);
    kept += line + "\n";
  }
  in.close();
  std::ofstream(path, std::ios::binary | std::ios::trunc) << kept;
  return seconds;
}

int64_t sft_updates(const ExperimentConfig& c, int64_t kept) {
  if (c.sft.updates > 0) return c.sft.updates;
  const double per_update = static_cast<double>(c.sft.batch_size * c.sft.grad_accum);
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(static_cast<double>(c.sft.epochs * kept) / per_update)));
}

}  // namespace

int run_sft_stage(const ExperimentConfig& c, const StageOptions&) {
  if (c.train.schedule != "linear")
    throw std::runtime_error(c.source + ": train.schedule = \"" + c.train.schedule +
                             "\" is not supported by `sft` yet (linear only)");
  if (!fs::exists(fs::path(c.models.expert) / "config.json"))
    throw std::runtime_error(c.models.expert + (c.models.make_tiny
                                                    ? ": the tiny models are not written yet (models.make_tiny); "
                                                      "`lightreasoner run` writes them"
                                                    : ": no config.json in models.expert"));
  const fs::path dir = sft_dir(c);
  const std::vector<EvalProblem> problems = sft_problems(c);
  const Tokenizer tokenizer = tokenizer_in(c.models.expert);
  Qwen2Model model = Qwen2Model::load(c.models.expert, device_from(c.run.device, "run.device"), dtype_from(c.run.dtype));
  const std::vector<int64_t> stop_ids =
      c.sample.stop_ids.empty() ? chat_stop_ids_for(c.models.expert, model.config(), tokenizer) : c.sample.stop_ids;

  const json settings = sft_settings(c, stop_ids);
  if (const std::optional<json> then = read_settings(dir.string()))
    if (auto d = settings_difference(*then, settings))
      throw std::runtime_error((dir / "settings.json").string() + ": the SFT baseline was made with other settings (" +
                               *d + "); delete " + dir.string() + " to run it again, or set run.out_dir");
  write_settings(dir.string(), settings);

  InterruptScope interrupt;
  // 1. Trajectories: the evaluation loop on the training problems, ids recorded.
  EvalOptions eo;
  eo.prompt = [&](const std::string& q) { return cot_prompt(c.prompt, q); };
  eo.max_new_tokens = c.sft.max_new_tokens;
  eo.batch_size = c.eval.batch_size;
  eo.stop_ids = stop_ids;
  eo.record_ids = true;
  eo.stop = &InterruptScope::flag();
  std::optional<Progress> progress;
  int64_t first = -1;
  eo.progress = [&](int64_t done, int64_t total) {
    if (first < 0) {
      first = done;
      if (done < total) progress.emplace("sft rollouts", total - done, "problems");
    }
    if (progress) progress->update(done - first);
  };
  const std::string trajectories_path = (dir / "trajectories.jsonl").string();
  const DatasetScore rollouts = evaluate_dataset(model, tokenizer, problems, eo, trajectories_path);
  if (InterruptScope::requested()) {
    std::cerr << "\nsft: interrupted during the rollouts; " << rollouts.n << " of " << problems.size()
              << " trajectories are in " << trajectories_path << " (run the same command to resume)\n";
    return kExitInterrupted;
  }
  if (progress) progress->finish();

  // 2. Rejection: the correct trajectories, exact ids.
  const SftSamples data = sft_samples(ResultsFile(trajectories_path), problems, c.sft.max_seq_len);
  ordered_json summary;
  summary["problems"] = static_cast<int64_t>(problems.size());
  summary["trajectories"] = data.trajectories;
  summary["correct"] = data.correct;
  summary["kept"] = data.kept;
  summary["kept_fraction"] = data.trajectories ? static_cast<double>(data.kept) / data.trajectories : 0.0;
  summary["tuned_tokens"] = data.tuned_tokens;
  summary["truncated"] = data.truncated;
  summary["dropped_long_prompt"] = data.dropped_long_prompt;
  summary["rollout_tokens"] = rollouts.generated_tokens;
  summary["rollout_seconds"] = rollouts.seconds;
  std::cerr << "sft: " << data.correct << " of " << data.trajectories << " trajectories correct, " << data.kept
            << " kept (" << data.tuned_tokens << " tokens to tune)\n";

  if (data.kept == 0) {
    summary["updates"] = 0;
    summary["train_seconds"] = 0.0;
    summary["seconds"] = rollouts.seconds;
    summary["adapter"] = nullptr;
    summary["note"] = "no trajectory was graded correct: nothing to fine-tune, no adapter";
    summary["complete"] = true;
    write_json_atomically((dir / "summary.json").string(), summary);
    std::cerr << "sft: no trajectory was graded correct, so there is nothing to fine-tune and no SFT adapter; "
                 "eval will skip the sft model (summary in " << (dir / "summary.json").string() << ")\n";
    std::cout << (dir / "summary.json").string() << "\n";
    return 0;
  }

  // 3. LoRA with cross-entropy on the trajectory tokens.
  const LoraConfig lora = lora_config(c);
  std::vector<torch::Tensor> params = attach_lora(model, lora);
  // LoRA dropout draws from the global generators: seeded so a fresh run is
  // reproducible (a resumed one restores their state from the checkpoint).
  torch::manual_seed(uint64_t(c.run.seed));
  TrainOptions opts = shared_train_options(c);
  opts.learning_rate = c.sft.lr;
  opts.batch_size = c.sft.batch_size;
  opts.grad_accum = c.sft.grad_accum;
  opts.total_updates = sft_updates(c, data.kept);
  opts.warmup_updates = std::min(c.train.warmup_steps, opts.total_updates);
  opts.checkpoint_dir = (dir / "train").string();
  opts.stop = &InterruptScope::flag();
  Trainer trainer(model, params, opts);
  if (Trainer::has_checkpoint(opts.checkpoint_dir)) {
    trainer.load_checkpoint(opts.checkpoint_dir);
    if (trainer.updates_done() < opts.total_updates)
      std::cerr << "sft: resuming after update " << trainer.updates_done() << " of " << opts.total_updates << "\n";
  }
  const fs::path metrics_path = dir / "train_metrics.jsonl";
  double train_seconds = trim_metrics(metrics_path, trainer.updates_done());
  std::ofstream metrics(metrics_path, std::ios::app);
  std::optional<Progress> train_progress;
  if (trainer.updates_done() < opts.total_updates)
    train_progress.emplace("sft train", opts.total_updates - trainer.updates_done(), "updates");
  const int64_t start_update = trainer.updates_done();
  auto t_last = std::chrono::steady_clock::now();
  const auto on_update = [&](int64_t done, int64_t, double loss) {
    const auto now = std::chrono::steady_clock::now();
    const double secs = std::chrono::duration<double>(now - t_last).count();
    t_last = now;
    train_seconds += secs;
    metrics << json{{"update", done}, {"loss", loss}, {"lr", trainer.learning_rate_at(done - 1)}, {"seconds", secs}}.dump()
            << "\n" << std::flush;
    if (train_progress) train_progress->update(done - start_update);
  };
  trainer.train_with(
      data.kept,
      [&](const std::vector<int64_t>& indices) {
        std::vector<SequenceSample> batch;
        for (int64_t i : indices) batch.push_back(data.samples[static_cast<size_t>(i)]);
        return sequence_ce_loss(model, batch);
      },
      0, on_update);
  if (InterruptScope::requested() && trainer.updates_done() < opts.total_updates) {
    std::cerr << "\nsft: interrupted after update " << trainer.updates_done() << "; checkpoint in "
              << opts.checkpoint_dir << " (run the same command to resume)\n";
    return kExitInterrupted;
  }
  if (train_progress) train_progress->finish();
  trainer.save_checkpoint(opts.checkpoint_dir);
  const fs::path adapter = dir / "adapter";
  save_peft_adapter(adapter.string(), model, lora, c.models.expert);

  summary["updates"] = trainer.updates_done();
  summary["train_seconds"] = train_seconds;
  summary["seconds"] = rollouts.seconds + train_seconds;
  summary["adapter"] = adapter.string();
  summary["complete"] = true;
  write_json_atomically((dir / "summary.json").string(), summary);
  std::cerr << "sft: " << trainer.updates_done() << " updates on " << data.kept << " trajectories; PEFT adapter in "
            << adapter.string() << "\n";
  std::cout << adapter.string() << "\n";
  return 0;
}

bool sft_stage_complete(const ExperimentConfig& c) {
  std::ifstream in(sft_dir(c) / "summary.json");
  if (!in) return false;
  const json s = json::parse(in, nullptr, false);
  return s.is_object() && s.value("complete", false);
}

}  // namespace lr::driver::cli
