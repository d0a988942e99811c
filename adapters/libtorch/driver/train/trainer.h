// The stage-2 training loop: AdamW on the LoRA weights, a linear schedule
// with warmup (transformers' get_linear_schedule_with_warmup) or a constant
// one after warmup (get_constant_schedule_with_warmup), grad-norm clipping,
// gradient accumulation, prefixes cut from the left to max_seq_len
// (length_limit.h), a deterministic seeded shuffle, periodic checkpoints and
// exact resume. Every default is the config's (config/defaults.h).
//
// Sample order: micro-batches draw batch_size samples at a time from an endless
// stream of epochs, each epoch a permutation of the samples (Fisher-Yates over
// std::mt19937_64 seeded with shuffle_seed + epoch), so the samples of update u
// depend only on u: a resumed run sees the samples an uninterrupted one would.
// LoRA dropout masks are drawn per sample from seeds made of shuffle_seed, the
// sample's place in that stream and its index (lora_dropout.h): they too
// depend on nothing else.
//
// Each micro-batch's loss is the sum over its samples' units (samples,
// supervised positions, target tokens) divided by the micro-batch's units. It
// runs in passes of samples_per_pass consecutive samples, each pass one
// forward and backward with its rows padded to the pass's longest; the
// passes' gradients are summed in float64 and the update steps with their sum
// rounded to the parameters' dtype.
//
// Data parallel (data_parallel.h): with world_size > 1 every rank runs the
// same loop over the same samples and runs its share of the passes (pass q on
// rank q % world_size); one bucketed float64 sum over the ranks per update
// (the gradients, the loss, the stop votes); then the same clipping (on the
// global norm) and the same AdamW step everywhere. A pass's arithmetic does
// not depend on the rank that runs it, and float64 sums in another order
// round to the same float32 (but for ties once in ~2^29), so the parameters
// stay identical on every rank and equal the one-process run's, whatever the
// world size: a checkpoint resumes on any world size. Only rank 0 writes
// checkpoints. samples_per_pass trades speed (bigger matrices) for balance
// (an update has ceil(batch_size / samples_per_pass) * grad_accum passes to
// share out).
#pragma once

#include <torch/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/defaults.h"
#include "model/qwen2_model.h"
#include "train/objective.h"

namespace torch::optim {
class AdamW;
}

namespace lr::driver {

struct TrainOptions {
  double learning_rate = defaults::train::lr;
  double weight_decay = defaults::train::weight_decay;
  double adam_beta1 = defaults::train::adam_beta1;
  double adam_beta2 = defaults::train::adam_beta2;
  double adam_eps = defaults::train::adam_eps;
  int64_t warmup_updates = defaults::train::warmup_steps;
  // After warmup: "linear" (decay to 0 at the last update) or "constant" (stays
  // at learning_rate); train.schedule's values. Others are refused.
  std::string schedule = defaults::train::schedule;
  double max_grad_norm = defaults::train::grad_clip;  // <= 0: no clipping
  int64_t batch_size = defaults::train::batch_size;   // samples per micro-batch
  int64_t grad_accum = defaults::train::grad_accum;   // micro-batches per update
  int64_t samples_per_pass = defaults::train::samples_per_pass;  // per forward/backward; capped at batch_size
  int64_t total_updates = defaults::train::updates;
  // train() and train_packed() cut longer prefixes from the left (length_limit.h);
  // <= 0: no limit. train_with() leaves its samples to its caller.
  int64_t max_seq_len = defaults::train::max_seq_len;
  uint64_t shuffle_seed = 0;  // the sample order's and the LoRA dropout masks' seed
  int64_t checkpoint_every = 0;  // updates; 0: never (save_checkpoint can still be called)
  std::string checkpoint_dir;    // where periodic checkpoints go (DIR/checkpoint.safetensors)
  // Polled after each update (e.g. set by a SIGINT handler): when true, the
  // loop writes a checkpoint (when checkpoint_dir is set) and returns early.
  // With world_size > 1, any rank's flag stops every rank after the same update.
  const std::atomic<bool>* stop = nullptr;
  // Data parallel: this process is rank `rank` of `world_size`; sum_over_ranks
  // sums the tensors over the ranks in place (required when world_size > 1).
  int rank = 0;
  int world_size = 1;
  std::function<void(std::vector<torch::Tensor>&)> sum_over_ranks;
};

// What the trainer knows of a sample before its micro-batch runs: the units
// its loss sums over (objective.h's loss_units, target_tokens) and its
// longest row's tokens as the objective sees them (after any cut).
struct SampleSize {
  int64_t units = 1;
  int64_t tokens = 0;
};

// The samples of one pass (indices into the n samples) and how to run the
// objective on them: one dropout seed per index, pad_to the pass's longest
// row, sum = true.
struct TrainingPass {
  std::vector<int64_t> indices;
  ObjectiveOptions objective;
};

// After each update: updates done, total updates, that update's loss (mean over its micro-batches).
using TrainProgress = std::function<void(int64_t done, int64_t total, double loss)>;

class Trainer {
 public:
  // params: the trainable tensors (lora_parameters(model)), in a fixed order
  // (checkpoints store them by index). Throws std::invalid_argument for bad options.
  Trainer(const Qwen2Model& model, std::vector<torch::Tensor> params, TrainOptions options);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // The learning rate of update u (0-based): lr * u / warmup during warmup,
  // then lr * (total - u) / (total - warmup), never below 0 ("linear"), or lr
  // ("constant").
  double learning_rate_at(int64_t update) const;

  // Runs updates until `until` (<= 0: total_updates) updates are done in all,
  // writing a checkpoint every checkpoint_every updates when checkpoint_dir is
  // set, or until options.stop is raised (then a checkpoint is written too).
  // LoRA dropout is on (training mode) during the loop. Returns the loss of
  // each update run now.
  std::vector<double> train(const std::vector<SupervisionSample>& samples, int64_t until = 0,
                            const TrainProgress& progress = {});

  // The packed mode: micro-batches of batch_size rollouts, each micro-batch one
  // forward pass (packed_loss), its loss the mean over all its supervised positions.
  std::vector<double> train_packed(const std::vector<PackedRollout>& rollouts, int64_t until = 0,
                                   const TrainProgress& progress = {});

  // Any other objective (e.g. sequence_objective.h's cross-entropy for SFT):
  // loss_of(batch) returns the loss SUMMED over the units of the samples
  // batch.indices (into n samples), run with batch.objective; size_of(i) says
  // sample i's units and tokens. Same schedule, order, clipping, checkpoints,
  // stop flag and data parallelism as train().
  using BatchLoss = std::function<torch::Tensor(const TrainingPass& batch)>;
  using SampleSizes = std::function<SampleSize(int64_t index)>;
  std::vector<double> train_with(int64_t n, const BatchLoss& loss_of, const SampleSizes& size_of, int64_t until = 0,
                                 const TrainProgress& progress = {});

  // The indices of the samples (or rollouts) of micro-batch m (global count) for n of them.
  std::vector<int64_t> micro_batch_indices(int64_t m, int64_t n) const;

  // DIR/checkpoint.safetensors (written atomically; the format:
  // checkpoint/training_state_file.h): the parameters, the AdamW state, the
  // update count and the global RNG state (CPU, and the model's device's).
  void save_checkpoint(const std::string& dir) const;
  // Restores what save_checkpoint wrote; the parameters are copied in place.
  // Throws CheckpointError naming the file when it does not fit (format,
  // count, dtypes, shapes), before anything is changed.
  void load_checkpoint(const std::string& dir);
  // Whether DIR/checkpoint.safetensors exists.
  static bool has_checkpoint(const std::string& dir);

  int64_t updates_done() const { return updates_done_; }
  const TrainOptions& options() const { return options_; }

 private:
  std::vector<double> run(int64_t n, const BatchLoss& loss_of, const SampleSizes& size_of, int64_t until,
                          const TrainProgress& progress);
  double accumulate(int64_t a, int64_t n, const BatchLoss& loss_of, const SampleSizes& size_of);
  void add_pass_gradients();
  bool sum_update_over_ranks(double& loss);
  const std::vector<int64_t>& epoch_order(int64_t epoch, int64_t n) const;

  const Qwen2Model& model_;
  std::vector<torch::Tensor> params_;
  TrainOptions options_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  int64_t updates_done_ = 0;
  std::vector<torch::Tensor> gradient_sums_;  // float64, one per parameter: the update's passes so far
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<int64_t> cached_order_;
};

}  // namespace lr::driver
