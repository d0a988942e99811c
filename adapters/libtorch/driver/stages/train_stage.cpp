// Stage 2 (`lightreasoner train`): LoRA on the frozen expert, trained on
// RUN/supervision.jsonl to match each kept step's soft target at the prefix's
// real last position. Checkpoints in RUN/train/ (resume continues the same
// schedule; Ctrl-C writes one and stops); the adapter is exported in PEFT's
// format to RUN/adapter/ (and merged into the expert's weights in RUN/merged/
// with train.export_merged); one JSON line per update in RUN/train_metrics.jsonl.
// Prefixes longer than train.max_seq_len are cut from the left and counted.
// As a rank of a data-parallel group (distributed/process_group.h) every rank
// trains its share of each update (trainer.h); rank 0 alone writes the
// checkpoint, the metrics, the adapter and complete.json. A checkpoint resumes
// on any world size with the same result (the split does not change the math).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "checkpoint/training_state_file.h"
#include "config/experiment_config.h"
#include "distributed/process_group.h"
#include "io/file_digest.h"
#include "io/append_file.h"
#include "io/json_files.h"
#include "io/run_layout.h"
#include "io/settings_file.h"
#include "model/qwen2_model.h"
#include "runtime/interrupt.h"
#include "runtime/model_loading.h"
#include "runtime/progress.h"
#include "sample/supervision_store.h"
#include "stages/stage.h"
#include "stages/train_metrics.h"
#include "stages/train_options.h"
#include "train/length_limit.h"
#include "train/lora.h"
#include "train/merged_export.h"
#include "train/objective.h"
#include "train/peft_export.h"
#include "train/trainer.h"

namespace lr::driver {

namespace {

namespace fs = std::filesystem;

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

// What decides the trained adapter: the supervision file's identity and the
// LoRA and train settings. RUN/train/inputs.json holds it from the first call;
// RUN/train/complete.json repeats it when the adapter is exported.
nlohmann::json train_inputs(const ExperimentConfig& c, const std::string& supervision) {
  return {{"supervision", {{"bytes", int64_t(fs::file_size(supervision))}, {"fnv1a64", file_digest(supervision)}}},
          {"expert", c.models.expert},
          {"dtype", c.run.dtype},
          {"seed", c.run.seed},
          {"lora", {{"r", c.lora.r}, {"alpha", c.lora.alpha}, {"dropout", c.lora.dropout},
                    {"target_modules", c.lora.target_modules}}},
          {"train", {{"lr", c.train.lr}, {"weight_decay", c.train.weight_decay}, {"adam_beta1", c.train.adam_beta1},
                     {"adam_beta2", c.train.adam_beta2}, {"adam_eps", c.train.adam_eps},
                     {"warmup_steps", c.train.warmup_steps}, {"schedule", c.train.schedule},
                     {"grad_clip", c.train.grad_clip}, {"batch_size", c.train.batch_size},
                     {"grad_accum", c.train.grad_accum}, {"updates", c.train.updates},
                     {"packed", c.train.packed}, {"max_seq_len", c.train.max_seq_len}}}};
}

// The supervision records, refusing a run that cannot train.
SupervisionFile read_training_records(const ExperimentConfig& c, const RunLayout& run) {
  const std::string supervision = run.supervision().string();
  if (!fs::exists(supervision))
    throw std::runtime_error(supervision + ": no supervision file; run `lightreasoner sample` first");
  SupervisionFile file = read_supervision(supervision);
  if (file.records.empty())
    throw std::runtime_error(supervision + ": no supervision records to train on (no step passed kappa = " +
                             std::to_string(c.sample.kl_threshold) + ")");
  return file;
}

// Records the inputs in RUN/train/inputs.json; a checkpoint made from other
// inputs is not resumed. Every rank checks; rank 0 writes.
void record_inputs(const RunLayout& run, const nlohmann::json& inputs) {
  const std::optional<nlohmann::json> before = read_json_file(run.train_inputs().string());
  if (Trainer::has_checkpoint(run.train_dir().string()) && before && before->is_object() && *before != inputs) {
    const auto diff = settings_difference(*before, inputs);
    throw std::runtime_error((run.train_dir() / kTrainingStateFile).string() + " was made from other inputs (" +
                             (diff ? *diff : std::string("inputs.json differs")) + "); remove " +
                             run.train_dir().string() + " to train afresh");
  }
  if (dist::rank() != 0) return;
  fs::create_directories(run.train_dir());
  write_json_atomically(run.train_inputs().string(), inputs);
  fs::remove(run.train_complete());
}

TrainOptions train_options(const ExperimentConfig& c, const RunLayout& run) {
  TrainOptions opts = shared_train_options(c);
  opts.learning_rate = c.train.lr;
  opts.warmup_updates = c.train.warmup_steps;
  opts.batch_size = c.train.batch_size;
  opts.grad_accum = c.train.grad_accum;
  opts.samples_per_pass = c.train.samples_per_pass;
  opts.total_updates = c.train.updates;
  opts.max_seq_len = c.train.max_seq_len;
  opts.checkpoint_dir = run.train_dir().string();
  opts.stop = &InterruptScope::flag();
  return opts;
}

// Trains (or resumes) to the end or to a Ctrl-C, one metrics line per update
// (rank 0 writes them and shows the progress).
void train_with_metrics(Trainer& trainer, const TrainOptions& opts, const ExperimentConfig& c,
                        const RunLayout& run, const SupervisionFile& file) {
  const bool writer = dist::rank() == 0;
  if (Trainer::has_checkpoint(opts.checkpoint_dir)) {
    trainer.load_checkpoint(opts.checkpoint_dir);
    if (writer)
      std::cerr << "train: resuming after update " << trainer.updates_done() << " of " << opts.total_updates << "\n";
  }
  AppendFile metrics;
  std::optional<Progress> progress;
  if (writer) {
    keep_metrics_through(run.train_metrics().string(), trainer.updates_done());
    metrics = AppendFile(run.train_metrics().string());
    progress.emplace("train", opts.total_updates, "updates");
  }
  const auto on_update = [&](int64_t done, int64_t, double loss) {
    if (!writer) return;
    std::ostringstream line;
    line << "{\"update\":" << done << ",\"loss\":" << loss << ",\"lr\":" << trainer.learning_rate_at(done - 1) << "}\n";
    metrics.append(line.str());
    progress->update(done);
  };
  if (c.train.packed) trainer.train_packed(packed_rollouts(file), 0, on_update);
  else trainer.train(prefix_samples(file), 0, on_update);
  if (progress && trainer.updates_done() >= opts.total_updates) progress->finish();
}

// complete.json's keys beyond the inputs: what the finished stage made.
constexpr const char* kCompletionOnlyKeys[] = {"updates_done", "records", "problems", "cut_to_max_seq_len",
                                               "adapter", "merged"};

// The trained expert exported: the PEFT adapter, and the merged checkpoint
// when train.export_merged.
void export_trained(const ExperimentConfig& c, const RunLayout& run, const Qwen2Model& model) {
  save_peft_adapter(run.adapter().string(), model, lora_config(c), c.models.expert);
  if (c.train.export_merged) export_merged_checkpoint(run.merged().string(), model, c.models.expert);
}

// RUN/train/complete.json, written last: the inputs and what they made.
void record_completion(const ExperimentConfig& c, const RunLayout& run, const nlohmann::json& inputs,
                       const SupervisionFile& file, int64_t updates_done) {
  nlohmann::ordered_json done = nlohmann::ordered_json(inputs);
  done["updates_done"] = updates_done;
  done["records"] = int64_t(file.records.size());
  done["problems"] = int64_t(file.problems.size());
  // Both forms cut the same positions: a record's prefix is rollout[0..position].
  const int64_t cut = std::count_if(file.records.begin(), file.records.end(), [&](const SupervisionRecord& r) {
    return is_cut(r.position + 1, c.train.max_seq_len);
  });
  done["cut_to_max_seq_len"] = cut;
  done["adapter"] = run.adapter().string();
  if (c.train.export_merged) done["merged"] = run.merged().string();
  write_json_atomically(run.train_complete().string(), done);
  std::cerr << "train: " << updates_done << " updates on " << file.records.size() << " supervised steps (" << cut
            << " cut to train.max_seq_len = " << c.train.max_seq_len << "); PEFT adapter in " << run.adapter().string()
            << (c.train.export_merged ? "; merged checkpoint in " + run.merged().string() : std::string()) << "\n";
  std::cout << run.adapter().string() << "\n";
}

}  // namespace

int run_train_stage(const ExperimentConfig& c) {
  const auto t0 = std::chrono::steady_clock::now();
  InterruptScope interrupt;
  const RunLayout run(c.run.out_dir);
  const SupervisionFile file = read_training_records(c, run);
  const nlohmann::json inputs = train_inputs(c, run.supervision().string());
  record_inputs(run, inputs);

  Qwen2Model model = Qwen2Model::load(c.models.expert, device_from(c.run.device, "run.device"), dtype_from(c.run.dtype));
  std::vector<torch::Tensor> params = attach_lora(model, lora_config(c));
  const TrainOptions opts = train_options(c, run);
  Trainer trainer(model, params, opts);
  // The trainer's LoRA dropout draws from per-sample seeds (lora_dropout.h);
  // the global generators are seeded anyway, so that nothing else a fresh run
  // draws is left to LibTorch's random seed.
  torch::manual_seed(uint64_t(c.run.seed));
  train_with_metrics(trainer, opts, c, run, file);
  const auto record_time = [&] {
    add_stage_seconds(c, "train", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  };
  if (trainer.updates_done() < opts.total_updates) {  // a Ctrl-C here or, data-parallel, on another rank
    if (dist::rank() != 0) return kExitInterrupted;
    record_time();
    std::cerr << "\ntrain: interrupted after update " << trainer.updates_done() << "; checkpoint in "
              << opts.checkpoint_dir << " (run the same command to resume)\n";
    return kExitInterrupted;
  }
  if (dist::rank() != 0) return 0;  // rank 0 writes what the stage made
  trainer.save_checkpoint(opts.checkpoint_dir);
  export_trained(c, run, model);
  record_time();
  record_completion(c, run, inputs, file, trainer.updates_done());
  if (dist::world_size() > 1) {  // what the data-parallel updates spent waiting on each other
    const double stage = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    char line[160];
    std::snprintf(line, sizeof line, "train: data-parallel on %d ranks; rank 0: all-reduce %.2f s of %.2f s (%.1f%%)\n",
                  dist::world_size(), dist::all_reduce_seconds(), stage, 100.0 * dist::all_reduce_seconds() / stage);
    std::cerr << line;
  }
  return 0;
}

bool train_stage_complete(const ExperimentConfig& c) {
  const RunLayout run(c.run.out_dir);
  if (!fs::exists(run.supervision()) || !RunLayout::has_adapter(run.adapter())) return false;
  if (c.train.export_merged && !fs::exists(run.merged() / "model.safetensors")) return false;
  std::optional<nlohmann::json> done = read_json_file(run.train_complete().string());
  if (!done || !done->is_object() || done->value("updates_done", int64_t{-1}) != c.train.updates) return false;
  for (const char* k : kCompletionOnlyKeys) done->erase(k);
  return *done == train_inputs(c, run.supervision().string());
}

}  // namespace lr::driver
