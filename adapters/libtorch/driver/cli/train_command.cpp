// lightreasoner train --config FILE [--set key=value ...]
// Stage 2: LoRA on the frozen expert, trained on RUN/supervision.jsonl to
// match each kept step's soft target at the prefix's real last position.
// Checkpoints in RUN/train/ (resume continues the same schedule; Ctrl-C
// writes one and stops); the adapter is exported in PEFT's format to
// RUN/adapter/; one JSON line per update in RUN/train_metrics.jsonl.
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>

#include "commands.h"
#include "config/experiment_config.h"
#include "model_loading.h"
#include "progress.h"
#include "qwen2_model.h"
#include "sample/supervision_store.h"
#include "train/lora.h"
#include "train/objective.h"
#include "train/peft_export.h"
#include "train/trainer.h"

namespace lr::driver::cli {

namespace {

std::atomic<bool> stop_requested{false};
extern "C" void on_interrupt(int) { stop_requested.store(true); }

struct TrainArgs {
  std::string config;
  std::vector<std::string> overrides;
};

// One packed rollout per problem: its rollout once, every kept position.
std::vector<PackedRollout> packed_rollouts(const SupervisionFile& file) {
  std::map<int64_t, PackedRollout> by_problem;
  for (const SupervisionRecord& r : file.records) {
    PackedRollout& p = by_problem[r.problem];
    if (p.ids.empty()) p.ids = r.rollout;
    p.positions.push_back(r.position);
    p.target_ids.push_back(r.target_ids);
    p.target_weights.push_back(r.target_weights);
  }
  std::vector<PackedRollout> out;
  for (auto& [id, p] : by_problem) out.push_back(std::move(p));
  return out;
}

std::vector<SupervisionSample> prefix_samples(const SupervisionFile& file) {
  std::vector<SupervisionSample> out;
  out.reserve(file.records.size());
  for (const SupervisionRecord& r : file.records)
    out.push_back({std::vector<int64_t>(r.rollout.begin(), r.rollout.begin() + r.position + 1), r.target_ids,
                   r.target_weights});
  return out;
}

void run_train(const TrainArgs& args) {
  const ExperimentConfig c = load_config(args.config, args.overrides);
  const std::filesystem::path run_dir(c.run.out_dir);
  const std::string supervision = (run_dir / "supervision.jsonl").string();
  if (!std::filesystem::exists(supervision))
    throw std::runtime_error(supervision + ": no supervision file; run `lightreasoner sample` first");
  const SupervisionFile file = read_supervision(supervision);
  if (file.records.empty()) throw std::runtime_error(supervision + ": no supervision records to train on");

  Qwen2Model model = Qwen2Model::load(c.models.expert, device_from(c.run.device, "run.device"), dtype_from(c.run.dtype));
  LoraConfig lora;
  lora.r = c.lora.r;
  lora.alpha = c.lora.alpha;
  lora.dropout = c.lora.dropout;
  lora.target_modules = c.lora.target_modules;
  lora.seed = uint64_t(c.run.seed);
  std::vector<torch::Tensor> params = attach_lora(model, lora);

  TrainOptions opts;
  opts.learning_rate = c.train.lr;
  opts.weight_decay = c.train.weight_decay;
  opts.adam_beta1 = c.train.adam_beta1;
  opts.adam_beta2 = c.train.adam_beta2;
  opts.adam_eps = c.train.adam_eps;
  opts.warmup_updates = c.train.warmup_steps;
  opts.max_grad_norm = c.train.grad_clip;
  opts.batch_size = c.train.batch_size;
  opts.grad_accum = c.train.grad_accum;
  opts.total_updates = c.train.updates;
  opts.shuffle_seed = uint64_t(c.run.seed);
  opts.checkpoint_every = c.train.checkpoint_every;
  opts.checkpoint_dir = (run_dir / "train").string();
  opts.stop = &stop_requested;
  if (c.train.schedule != "linear")
    throw std::runtime_error(args.config + ": train.schedule = \"" + c.train.schedule +
                             "\" is not supported by `train` yet (linear only)");

  Trainer trainer(model, params, opts);
  if (Trainer::has_checkpoint(opts.checkpoint_dir)) {
    trainer.load_checkpoint(opts.checkpoint_dir);
    std::cerr << "train: resuming after update " << trainer.updates_done() << " of " << opts.total_updates << "\n";
  }
  std::ofstream metrics(run_dir / "train_metrics.jsonl", std::ios::app);
  Progress progress("train", opts.total_updates, "updates");
  const auto on_update = [&](int64_t done, int64_t, double loss) {
    metrics << "{\"update\":" << done << ",\"loss\":" << loss << ",\"lr\":" << trainer.learning_rate_at(done - 1)
            << "}\n" << std::flush;
    progress.update(done);
  };
  const auto previous = std::signal(SIGINT, on_interrupt);
  if (c.train.packed) trainer.train_packed(packed_rollouts(file), 0, on_update);
  else trainer.train(prefix_samples(file), 0, on_update);
  std::signal(SIGINT, previous);
  if (stop_requested.load()) {
    std::cerr << "\ntrain: interrupted after update " << trainer.updates_done() << "; checkpoint in "
              << opts.checkpoint_dir << " (run the same command to resume)\n";
    throw std::runtime_error("interrupted");
  }
  progress.finish();
  trainer.save_checkpoint(opts.checkpoint_dir);
  const std::string adapter_dir = (run_dir / "adapter").string();
  save_peft_adapter(adapter_dir, model, lora, c.models.expert);
  std::cerr << "train: " << trainer.updates_done() << " updates on " << file.records.size()
            << " supervised steps; PEFT adapter in " << adapter_dir << "\n";
  std::cout << adapter_dir << "\n";
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand(
      "train", "Stage 2: LoRA on the expert to match RUN/supervision.jsonl's targets; resumable checkpoints in "
               "RUN/train/, the adapter in PEFT's format in RUN/adapter/");
  cmd->add_option("--config", args->config, "experiment TOML (see adapters/libtorch/driver/configs/)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", args->overrides, "override a config key, e.g. --set train.updates=100 (repeatable)");
  cmd->callback([args] { run_train(*args); });
}

}  // namespace lr::driver::cli
