// The rejection-sampling SFT baseline as a function
// (adapters/libtorch/driver/METHOD.md, "Baseline: rejection-sampling SFT"): one greedy trajectory per training problem under the CoT
// prompt, the ones graded correct kept, LoRA ([lora] settings) trained with
// cross-entropy on every trajectory token, the adapter exported in PEFT's format.
// sft.source = "ground_truth" trains on the problems' worked solutions instead
// (ground_truth_samples.h; the paper's "GT supervision"): no rollouts, no
// trajectories file.
//
//   RUN/sft/trajectories.jsonl  one line per problem (evaluate/results_file.h, with
//                               prompt_ids / output_ids); resumable; on the ranks of a
//                               group sharded and merged (stages/sharded_results.h)
//   RUN/sft/trajectories.timing.jsonl  their generation time per batch
//   RUN/sft/train/              the trainer's checkpoint (resume continues the schedule)
//   RUN/sft/train_metrics.jsonl one line per update: update, loss, lr, seconds
//   RUN/sft/adapter/            the PEFT adapter (only when a trajectory was kept)
//   RUN/sft/summary.json        source, problems, kept trajectories, tuned tokens, seconds
//   RUN/sft/settings.json       what it was made with; a resume with other settings is refused
//
// As a rank of a data-parallel group the training is data-parallel
// (trainer.h): rank 0 alone writes the checkpoint, metrics, adapter and summary.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "config/defaults.h"
#include "distributed/process_group.h"
#include "evaluate/evaluator.h"
#include "io/append_file.h"
#include "io/json_files.h"
#include "io/run_layout.h"
#include "io/settings_file.h"
#include "model/qwen2_model.h"
#include "prompt/prompt_template.h"
#include "runtime/interrupt.h"
#include "runtime/model_loading.h"
#include "runtime/progress.h"
#include "stages/eval_progress.h"
#include "stages/ground_truth_samples.h"
#include "stages/sft_samples.h"
#include "stages/sharded_results.h"
#include "stages/stage.h"
#include "stages/train_metrics.h"
#include "stages/train_options.h"
#include "stages/training_problems.h"
#include "train/lora.h"
#include "train/peft_export.h"
#include "train/sequence_objective.h"
#include "train/trainer.h"

namespace lr::driver {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

json sft_settings(const ExperimentConfig& c, const std::vector<int64_t>& stop_ids) {
  json s = {{"expert", c.models.expert},
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
                     {"epochs", c.sft.epochs}, {"updates", c.sft.updates}, {"max_seq_len", c.sft.max_seq_len},
                     {"schedule", c.train.schedule}}}};
  if (c.sft.source != defaults::sft::source) s["source"] = c.sft.source;  // absent: rejection, as before
  return s;
}

int64_t sft_updates(const ExperimentConfig& c, int64_t kept) {
  if (c.sft.updates > 0) return c.sft.updates;
  const double per_update = static_cast<double>(c.sft.batch_size * c.sft.grad_accum);
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(static_cast<double>(c.sft.epochs * kept) / per_update)));
}

void check_runnable(const ExperimentConfig& c) {
  if (!fs::exists(fs::path(c.models.expert) / "config.json"))
    throw std::runtime_error(c.models.expert + (c.models.make_tiny
                                                    ? ": the tiny models are not written yet (models.make_tiny); "
                                                      "`lightreasoner run` writes them"
                                                    : ": no config.json in models.expert"));
}

// RUN/sft/settings.json: refuses a folder made with other settings.
void record_settings(const fs::path& dir, const json& settings) {
  if (const std::optional<json> then = read_settings(dir.string()))
    if (auto d = settings_difference(*then, settings))
      throw std::runtime_error((dir / "settings.json").string() + ": the SFT baseline was made with other settings (" +
                               *d + "); delete " + dir.string() + " to run it again, or set run.out_dir");
  write_settings(dir.string(), settings);
}

// 1. Trajectories: the evaluation loop on the training problems, ids recorded.
DatasetScore roll_out(const ExperimentConfig& c, const Qwen2Model& model, const Tokenizer& tokenizer,
                      const std::vector<EvalProblem>& problems, const std::vector<int64_t>& stop_ids) {
  EvalOptions eo;
  eo.prompt = [&c](const std::string& q) { return cot_prompt(c.prompt, q); };
  eo.max_new_tokens = c.sft.max_new_tokens;
  eo.batch_size = c.eval.batch_size;
  eo.stop_ids = stop_ids;
  eo.record_ids = true;
  eo.stop = &InterruptScope::flag();
  std::optional<Progress> progress;
  show_progress(eo, progress, "sft rollouts");
  const DatasetScore rollouts =
      evaluate_on_ranks(model, tokenizer, problems, eo, RunLayout(c.run.out_dir).sft_trajectories());
  if (progress && !InterruptScope::requested()) progress->finish();
  return rollouts;
}

// What the SFT stage trains on, whichever sft.source: the sequences, the
// summary so far and the seconds spent making them.
struct SftData {
  SftSamples samples;
  ordered_json summary;
  double seconds = 0;
};

ordered_json samples_summary(const ExperimentConfig& c, const SftSamples& data, size_t problems) {
  ordered_json summary;
  summary["source"] = c.sft.source;
  summary["problems"] = static_cast<int64_t>(problems);
  summary["trajectories"] = data.trajectories;
  summary["correct"] = data.correct;
  summary["kept"] = data.kept;
  summary["kept_fraction"] = data.trajectories ? static_cast<double>(data.kept) / data.trajectories : 0.0;
  summary["tuned_tokens"] = data.tuned_tokens;
  summary["truncated"] = data.truncated;
  summary["dropped_long_prompt"] = data.dropped_long_prompt;
  return summary;
}

// sft.source = "rejection": rollouts (resumable), then the correct ones, exact
// ids. nullopt when Ctrl-C stopped the rollouts.
std::optional<SftData> rejection_data(const ExperimentConfig& c, const Qwen2Model& model, const Tokenizer& tokenizer,
                                      const std::vector<EvalProblem>& problems, const std::vector<int64_t>& stop_ids) {
  const RunLayout run(c.run.out_dir);
  const DatasetScore rollouts = roll_out(c, model, tokenizer, problems, stop_ids);
  if (InterruptScope::requested()) {
    std::cerr << "\nsft: interrupted during the rollouts; " << rollouts.n << " of " << problems.size()
              << " trajectories are in " << run.sft_trajectories().string() << " (run the same command to resume)\n";
    return std::nullopt;
  }
  SftData d;
  d.samples = sft_samples(ResultsFile(run.sft_trajectories().string()), problems, c.sft.max_seq_len);
  d.summary = samples_summary(c, d.samples, problems.size());
  d.summary["rollout_tokens"] = rollouts.generated_tokens;
  d.summary["rollout_seconds"] = rollouts.seconds;
  d.seconds = rollouts.seconds;
  if (dist::rank() == 0)  // every rank reads the merged file: one says what it holds
    std::cerr << "sft: " << d.samples.correct << " of " << d.samples.trajectories << " trajectories correct, "
              << d.samples.kept << " kept (" << d.samples.tuned_tokens << " tokens to tune)\n";
  return d;
}

// sft.source = "ground_truth": the worked solutions (ground_truth_samples.h).
SftData ground_truth_data(const ExperimentConfig& c, const Tokenizer& tokenizer,
                          const std::vector<EvalProblem>& problems, const std::vector<int64_t>& stop_ids) {
  SftData d;
  d.samples = ground_truth_samples(c, tokenizer, problems, stop_ids);
  d.summary = samples_summary(c, d.samples, problems.size());
  std::cerr << "sft: " << d.samples.kept << " worked solutions of " << problems.size() << " problems ("
            << d.samples.tuned_tokens << " tokens to tune)\n";
  return d;
}

// No sequence kept: the stage is finished, with no adapter.
int finish_without_adapter(const RunLayout& run, SftData data) {
  const bool rejection = data.summary.value("source", "") == "rejection";
  const std::string why = rejection ? "no trajectory was graded correct" : "no worked solution fits sft.max_seq_len";
  data.summary["updates"] = 0;
  data.summary["train_seconds"] = 0.0;
  data.summary["seconds"] = data.seconds;
  data.summary["adapter"] = nullptr;
  data.summary["note"] = why + ": nothing to fine-tune, no adapter";
  data.summary["complete"] = true;
  write_json_atomically(run.sft_summary().string(), data.summary);
  std::cerr << "sft: " << why << ", so there is nothing to fine-tune and no SFT adapter; "
               "eval will skip the sft model (summary in " << run.sft_summary().string() << ")\n";
  std::cout << run.sft_summary().string() << "\n";
  return 0;
}

TrainOptions sft_train_options(const ExperimentConfig& c, int64_t kept) {
  TrainOptions opts = shared_train_options(c);
  opts.learning_rate = c.sft.lr;
  opts.batch_size = c.sft.batch_size;
  opts.grad_accum = c.sft.grad_accum;
  opts.samples_per_pass = c.sft.samples_per_pass;
  opts.total_updates = sft_updates(c, kept);
  opts.warmup_updates = std::min(c.train.warmup_steps, opts.total_updates);
  opts.checkpoint_dir = RunLayout(c.run.out_dir).sft_train_dir().string();
  opts.stop = &InterruptScope::flag();
  return opts;
}

// 3. Cross-entropy on the kept trajectories' tokens, to the end or to a
// Ctrl-C, one metrics line per update (rank 0 writes them). Returns the
// training seconds of every update done (earlier calls' included).
double train_on(Trainer& trainer, Qwen2Model& model, const TrainOptions& opts, const SftSamples& data,
                const RunLayout& run) {
  const bool writer = dist::rank() == 0;
  if (Trainer::has_checkpoint(opts.checkpoint_dir)) {
    trainer.load_checkpoint(opts.checkpoint_dir);
    if (writer && trainer.updates_done() < opts.total_updates)
      std::cerr << "sft: resuming after update " << trainer.updates_done() << " of " << opts.total_updates << "\n";
  }
  double train_seconds = 0;
  AppendFile metrics;
  std::optional<Progress> progress;
  if (writer) {
    train_seconds = keep_metrics_through(run.sft_metrics().string(), trainer.updates_done());
    metrics = AppendFile(run.sft_metrics().string());
    if (trainer.updates_done() < opts.total_updates)
      progress.emplace("sft train", opts.total_updates - trainer.updates_done(), "updates");
  }
  const int64_t start_update = trainer.updates_done();
  auto t_last = std::chrono::steady_clock::now();
  const auto on_update = [&](int64_t done, int64_t, double loss) {
    const auto now = std::chrono::steady_clock::now();
    const double secs = std::chrono::duration<double>(now - t_last).count();
    t_last = now;
    train_seconds += secs;
    if (!writer) return;
    metrics.append(
        json{{"update", done}, {"loss", loss}, {"lr", trainer.learning_rate_at(done - 1)}, {"seconds", secs}}.dump() +
        "\n");
    if (progress) progress->update(done - start_update);
  };
  const auto batch_loss = [&](const TrainingPass& mb) {
    std::vector<SequenceSample> batch;
    for (int64_t i : mb.indices) batch.push_back(data.samples[static_cast<size_t>(i)]);
    return sequence_ce_loss(model, batch, mb.objective);
  };
  const auto size_of = [&](int64_t i) {
    const SequenceSample& s = data.samples[static_cast<size_t>(i)];
    return SampleSize{target_tokens(s), static_cast<int64_t>(s.ids.size())};
  };
  trainer.train_with(data.kept, batch_loss, size_of, 0, on_update);
  if (progress && trainer.updates_done() >= opts.total_updates) progress->finish();
  return train_seconds;
}

}  // namespace

int run_sft_stage(const ExperimentConfig& c, const StageOptions&) {
  check_runnable(c);
  const RunLayout run(c.run.out_dir);
  const std::vector<EvalProblem> problems = sft_problems(c);
  const Tokenizer tokenizer = tokenizer_in(c.models.expert);
  Qwen2Model model = Qwen2Model::load(c.models.expert, device_from(c.run.device, "run.device"), dtype_from(c.run.dtype));
  const std::vector<int64_t> stop_ids =
      c.sample.stop_ids.empty() ? chat_stop_ids_for(c.models.expert, model.config(), tokenizer) : c.sample.stop_ids;
  record_settings(run.sft_dir(), sft_settings(c, stop_ids));

  InterruptScope interrupt;
  std::optional<SftData> made = c.sft.source == "ground_truth"
                                    ? ground_truth_data(c, tokenizer, problems, stop_ids)
                                    : rejection_data(c, model, tokenizer, problems, stop_ids);
  if (!made) return kExitInterrupted;
  SftData& data = *made;
  if (data.samples.kept == 0) return dist::rank() == 0 ? finish_without_adapter(run, std::move(data)) : 0;

  const LoraConfig lora = lora_config(c);
  std::vector<torch::Tensor> params = attach_lora(model, lora);
  // LoRA dropout draws from per-sample seeds (lora_dropout.h); the global
  // generators are seeded anyway, so nothing a fresh run draws is left to chance.
  torch::manual_seed(uint64_t(c.run.seed));
  const TrainOptions opts = sft_train_options(c, data.samples.kept);
  Trainer trainer(model, params, opts);
  const double train_seconds = train_on(trainer, model, opts, data.samples, run);
  if (trainer.updates_done() < opts.total_updates) {  // a Ctrl-C here or, data-parallel, on another rank
    if (dist::rank() != 0) return kExitInterrupted;
    std::cerr << "\nsft: interrupted after update " << trainer.updates_done() << "; checkpoint in "
              << opts.checkpoint_dir << " (run the same command to resume)\n";
    return kExitInterrupted;
  }
  if (dist::rank() != 0) return 0;  // rank 0 writes what the stage made
  trainer.save_checkpoint(opts.checkpoint_dir);
  save_peft_adapter(run.sft_adapter().string(), model, lora, c.models.expert);
  data.summary["updates"] = trainer.updates_done();
  data.summary["train_seconds"] = train_seconds;
  data.summary["seconds"] = data.seconds + train_seconds;
  data.summary["adapter"] = run.sft_adapter().string();
  data.summary["complete"] = true;
  write_json_atomically(run.sft_summary().string(), data.summary);
  std::cerr << "sft: " << trainer.updates_done() << " updates on " << data.samples.kept
            << " sequences; PEFT adapter in "
            << run.sft_adapter().string() << "\n";
  std::cout << run.sft_adapter().string() << "\n";
  return 0;
}

bool sft_stage_complete(const ExperimentConfig& c) {
  const std::optional<json> s = read_json_file(RunLayout(c.run.out_dir).sft_summary().string());
  // Made from another source: not complete, so the stage runs and refuses, naming sft.source.
  return s && s->is_object() && s->value("complete", false) &&
         s->value("source", std::string(defaults::sft::source)) == c.sft.source;
}

}  // namespace lr::driver
