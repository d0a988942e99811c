// The experiment's stages as functions, one file each in this folder: the
// verbs (cli/) call them, and so does `lightreasoner run` (run.cpp), which
// skips a stage whose outputs are complete. Their files are named in
// io/run_layout.h.
//
// Each run_*_stage returns 0 on success and kExitInterrupted when Ctrl-C
// stopped it (its outputs are then in a resumable state: the same call goes
// on where it stopped); any other failure is thrown (std::exception with a
// one-line message naming the file or key at fault).
#pragma once

#include <string>

#include "config/experiment_config.h"

namespace lr::driver {

// The exit status of a stage stopped by Ctrl-C (128 + SIGINT).
constexpr int kExitInterrupted = 130;

struct StageOptions {
  // eval: the models to evaluate, "base", "tuned", "sft" or "all" (base, then
  // tuned and sft when their adapters exist). Other stages ignore it.
  std::string models = "all";
};

// ---- eval: RUN/eval/<model>/<dataset>.jsonl and RUN/eval/<model>/summary.json
int run_eval_stage(const ExperimentConfig& config, const StageOptions& options = {});
// True when every model `options.models` selects (given the adapters present)
// has a complete summary.json for every configured dataset, made with the
// current settings.
bool eval_stage_complete(const ExperimentConfig& config, const StageOptions& options = {});

// ---- sft: RUN/sft/ (trajectories.jsonl, train/, train_metrics.jsonl,
// adapter/ when a trajectory was kept, summary.json)
int run_sft_stage(const ExperimentConfig& config, const StageOptions& options = {});
// True when RUN/sft/summary.json says the stage finished (with or without an
// adapter: "kept": 0 is a finished stage).
bool sft_stage_complete(const ExperimentConfig& config);

// ---- the tiny models (models.make_tiny = true; tiny_models.cpp): writes the
// tokenizer (when models.tiny.tokenizer is "", a 1024-token byte-level BPE
// learnt from data.train_file, at RUN/models/tiny-tokenizer), then the random
// expert and amateur ([models.tiny] shapes; weights drawn with std 0.6 and
// 0.3, so that their next-token distributions differ: KL of 3 to 9 nats per
// step), each unless already there with the same settings (a
// folder made with other settings is an error naming it). Each folder appears
// whole or not at all. Does nothing when make_tiny is false. On the ranks of
// a group rank 0 writes them and every rank waits for it (call it on all).
void ensure_tiny_models(const ExperimentConfig& config);

// ---- the models a run needs before its first stage: the random tiny ones
// (models.make_tiny), or the pretrained miniature's (models.pretrain); nothing
// for real checkpoints. What `run` and `sweep` call first (run.cpp).
void prepare_models(const ExperimentConfig& config);

// ---- sample: RUN/supervision.jsonl and RUN/supervision.stats.json (sample_stage.cpp);
// sample, eval and sft's rollouts shard their problems over the ranks of a
// group (distributed/sharding.h), with the same files as one process
int run_sample_stage(const ExperimentConfig& config);
// True when the statistics file exists and every configured training problem
// is done in the supervision file, written with the current sample settings.
bool sample_stage_complete(const ExperimentConfig& config);

// ---- diagnose: RUN/diagnostics.json (diagnose_stage.cpp): what explains a
// result, on the first diagnostics.problems problems of the first eval dataset
int run_diagnose_stage(const ExperimentConfig& config);
// True when RUN/diagnostics.json holds the current settings (models, dataset,
// problems, prompt, sample's kappa / beta / k / max_new_tokens / batch_size, stop ids).
bool diagnose_stage_complete(const ExperimentConfig& config);

// ---- train: RUN/train/ (checkpoint.safetensors, inputs.json, complete.json),
// RUN/adapter/ (PEFT), RUN/merged/ (train.export_merged), RUN/train_metrics.jsonl
// (train_stage.cpp)
int run_train_stage(const ExperimentConfig& config);
// True when RUN/train/complete.json records the configured updates and LoRA
// and train settings on the current supervision file, and the adapter exists
// (and the merged checkpoint, with train.export_merged).
bool train_stage_complete(const ExperimentConfig& config);

// ---- run: the tiny models when models.make_tiny, then each stage not yet
// complete, then the report (run.cpp). Returns the report's path ("" on a
// rank other than 0 of a distributed launch: rank 0 writes it); throws
// std::runtime_error("interrupted") after a Ctrl-C.
std::string run_experiment(const ExperimentConfig& config);

// RUN/stage_seconds.json: the wall time each stage has taken, summed over its
// calls (interrupted and resumed ones included), for the report's Table 2
// (stage_seconds.cpp).
void add_stage_seconds(const ExperimentConfig& config, const std::string& stage, double seconds);

}  // namespace lr::driver
