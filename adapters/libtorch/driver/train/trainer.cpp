#include "train/trainer.h"

#include <ATen/Context.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <stdexcept>

#include "checkpoint/training_state_file.h"
#include "train/data_parallel.h"
#include "train/length_limit.h"
#include "train/lora.h"
#include "train/lora_dropout.h"
#include "train/training_state.h"

namespace lr::driver {

namespace {
std::vector<at::Generator> generators_of(torch::Device device) {
  std::vector<at::Generator> gens{at::detail::getDefaultCPUGenerator()};
  if (!device.is_cpu()) gens.push_back(at::globalContext().defaultGenerator(device));
  return gens;
}
}  // namespace

Trainer::Trainer(const Qwen2Model& model, std::vector<torch::Tensor> params, TrainOptions options)
    : model_(model), params_(std::move(params)), options_(std::move(options)) {
  if (params_.empty()) throw std::invalid_argument("Trainer: no trainable parameters");
  if (options_.batch_size < 1 || options_.grad_accum < 1 || options_.total_updates < 1 ||
      options_.samples_per_pass < 1)
    throw std::invalid_argument("Trainer: batch_size, grad_accum, samples_per_pass and total_updates must be >= 1");
  if (options_.warmup_updates < 0 || options_.learning_rate <= 0)
    throw std::invalid_argument("Trainer: warmup must be >= 0 and the learning rate > 0");
  if (options_.schedule != "linear" && options_.schedule != "constant")
    throw std::invalid_argument("Trainer: schedule must be \"linear\" or \"constant\", got \"" + options_.schedule +
                                "\"");
  if (options_.world_size < 1 || options_.rank < 0 || options_.rank >= options_.world_size)
    throw std::invalid_argument("Trainer: rank " + std::to_string(options_.rank) + " of world size " +
                                std::to_string(options_.world_size));
  if (options_.world_size > 1 && !options_.sum_over_ranks)
    throw std::invalid_argument("Trainer: world size > 1 without sum_over_ranks");
  auto opts = torch::optim::AdamWOptions(options_.learning_rate)
                  .betas({options_.adam_beta1, options_.adam_beta2})
                  .eps(options_.adam_eps)
                  .weight_decay(options_.weight_decay);
  optimizer_ = std::make_unique<torch::optim::AdamW>(params_, opts);
  gradient_sums_.resize(params_.size());
}

Trainer::~Trainer() = default;

double Trainer::learning_rate_at(int64_t update) const {
  const int64_t warm = options_.warmup_updates, total = options_.total_updates;
  double factor;
  if (update < warm)
    factor = static_cast<double>(update) / static_cast<double>(std::max<int64_t>(1, warm));
  else if (options_.schedule == "constant")
    factor = 1.0;
  else
    factor = std::max(0.0, static_cast<double>(total - update) / static_cast<double>(std::max<int64_t>(1, total - warm)));
  return options_.learning_rate * factor;
}

const std::vector<int64_t>& Trainer::epoch_order(int64_t epoch, int64_t n) const {
  if (cached_epoch_ != epoch || static_cast<int64_t>(cached_order_.size()) != n) {
    cached_order_.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) cached_order_[static_cast<size_t>(i)] = i;
    std::mt19937_64 rng(options_.shuffle_seed + static_cast<uint64_t>(epoch));
    for (int64_t i = n - 1; i > 0; --i) {  // Fisher-Yates; mt19937_64's output is fixed by the standard
      const auto j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
      std::swap(cached_order_[static_cast<size_t>(i)], cached_order_[static_cast<size_t>(j)]);
    }
    cached_epoch_ = epoch;
  }
  return cached_order_;
}

std::vector<int64_t> Trainer::micro_batch_indices(int64_t m, int64_t n) const {
  std::vector<int64_t> out;
  for (int64_t j = 0; j < options_.batch_size; ++j) {
    const int64_t s = m * options_.batch_size + j;
    out.push_back(epoch_order(s / n, n)[static_cast<size_t>(s % n)]);
  }
  return out;
}

std::vector<double> Trainer::train(const std::vector<SupervisionSample>& samples, int64_t until,
                                   const TrainProgress& progress) {
  if (samples.empty()) throw std::invalid_argument("Trainer::train: no samples");
  const int64_t max_len = options_.max_seq_len;
  return run(
      static_cast<int64_t>(samples.size()),
      [&](const TrainingPass& mb) {
        std::vector<SupervisionSample> batch;
        for (int64_t i : mb.indices) batch.push_back(cut_from_left(samples[static_cast<size_t>(i)], max_len));
        return per_prefix_loss(model_, batch, mb.objective);
      },
      [&](int64_t i) {
        const SupervisionSample& s = samples[static_cast<size_t>(i)];
        const auto len = static_cast<int64_t>(s.prefix_ids.size());
        return SampleSize{loss_units(s), is_cut(len, max_len) ? max_len : len};
      },
      until, progress);
}

std::vector<double> Trainer::train_packed(const std::vector<PackedRollout>& rollouts, int64_t until,
                                          const TrainProgress& progress) {
  if (rollouts.empty()) throw std::invalid_argument("Trainer::train_packed: no rollouts");
  const int64_t max_len = options_.max_seq_len;
  return run(
      static_cast<int64_t>(rollouts.size()),
      [&](const TrainingPass& mb) {
        std::vector<PackedRollout> batch;
        ObjectiveOptions o = mb.objective;
        o.dropout_seeds.clear();  // a rollout cut into parts: one seed per part
        for (size_t k = 0; k < mb.indices.size(); ++k) {
          uint64_t part = 0;
          for (auto& piece : cut_from_left(rollouts[static_cast<size_t>(mb.indices[k])], max_len)) {
            batch.push_back(std::move(piece));
            o.dropout_seeds.push_back(mix_seed(mb.objective.dropout_seeds[k], part++));
          }
        }
        return packed_loss(model_, batch, o);
      },
      [&](int64_t i) {
        const PackedRollout& r = rollouts[static_cast<size_t>(i)];
        int64_t tokens = 0;
        for (const auto& piece : cut_from_left(r, max_len)) tokens = std::max(tokens, int64_t(piece.ids.size()));
        return SampleSize{loss_units(r), tokens};  // the cut keeps each supervised position once
      },
      until, progress);
}

std::vector<double> Trainer::train_with(int64_t n, const BatchLoss& loss_of, const SampleSizes& size_of,
                                        int64_t until, const TrainProgress& progress) {
  if (n < 1) throw std::invalid_argument("Trainer::train_with: no samples");
  if (!loss_of || !size_of) throw std::invalid_argument("Trainer::train_with: no loss or sample size function");
  return run(n, loss_of, size_of, until, progress);
}

// Micro-batch a of the current update: its passes that are this rank's, each
// its summed loss over the whole micro-batch's units, backward, its gradients
// added to the update's float64 sums. Returns those passes' part of the
// micro-batch's mean loss (0 without one).
double Trainer::accumulate(int64_t a, int64_t n, const BatchLoss& loss_of, const SampleSizes& size_of) {
  const int64_t m = updates_done_ * options_.grad_accum + a;
  const std::vector<int64_t> all = micro_batch_indices(m, n);
  std::vector<SampleSize> sizes;
  int64_t units = 0;
  for (int64_t i : all) {
    sizes.push_back(size_of(i));
    units += sizes.back().units;
  }
  if (units == 0) return 0;
  const int64_t batch = options_.batch_size, per_pass = std::min(options_.samples_per_pass, batch);
  const int64_t passes_per_micro_batch = (batch + per_pass - 1) / per_pass;
  double loss = 0;
  for (int64_t first = 0; first < batch; first += per_pass) {
    if (!is_my_pass(a * passes_per_micro_batch + first / per_pass, options_.rank, options_.world_size)) continue;
    TrainingPass pass;
    pass.objective.sum = true;
    for (int64_t j = first; j < std::min(first + per_pass, batch); ++j) {
      pass.indices.push_back(all[static_cast<size_t>(j)]);
      pass.objective.dropout_seeds.push_back(sample_dropout_seed(options_.shuffle_seed, m * batch + j, all[static_cast<size_t>(j)]));
      pass.objective.pad_to = std::max(pass.objective.pad_to, sizes[static_cast<size_t>(j)].tokens);
    }
    auto part = share_of_mean(loss_of(pass), units);
    (part / static_cast<double>(options_.grad_accum)).backward();
    add_pass_gradients();
    loss += part.item<double>();
  }
  return loss;
}

// Moves the pass's gradients into the update's float64 sums (and clears them
// for the next pass).
void Trainer::add_pass_gradients() {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor& grad = params_[i].mutable_grad();
    if (!grad.defined()) continue;
    gradient_sums_[i].add_(grad.to(torch::kDouble));
    grad.zero_();
  }
}

// The one exchange of an update: the float64 gradient sums, the loss and the
// stop votes summed over the ranks in one bucket; then the sums, rounded to
// the parameters' dtype, become their gradients. Returns whether any rank
// votes to stop.
bool Trainer::sum_update_over_ranks(double& loss) {
  bool stop_vote = options_.stop && options_.stop->load();
  if (options_.world_size > 1) {
    std::vector<torch::Tensor> bucket = gradient_sums_;
    bucket.push_back(torch::tensor({loss, stop_vote ? 1.0 : 0.0}, torch::kDouble).to(params_[0].device()));
    options_.sum_over_ranks(bucket);
    const auto scalars = bucket.back().to(torch::kCPU);
    loss = scalars[0].item<double>();
    stop_vote = scalars[1].item<double>() > 0;
  }
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) params_[i].mutable_grad() = gradient_sums_[i].to(params_[i].dtype());
  return stop_vote;
}

std::vector<double> Trainer::run(int64_t n, const BatchLoss& loss_of, const SampleSizes& size_of, int64_t until,
                                 const TrainProgress& progress) {
  if (until <= 0 || until > options_.total_updates) until = options_.total_updates;
  struct TrainingMode {  // dropout on for the loop, off again however it ends
    const Qwen2Model& model;
    explicit TrainingMode(const Qwen2Model& m) : model(m) { set_lora_training(model, true); }
    ~TrainingMode() { set_lora_training(model, false); }
  } mode(model_);
  std::vector<double> losses;
  while (updates_done_ < until) {
    const double lr = learning_rate_at(updates_done_);
    for (auto& group : optimizer_->param_groups())
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    optimizer_->zero_grad();
    for (size_t i = 0; i < params_.size(); ++i) gradient_sums_[i] = torch::zeros_like(params_[i], torch::kDouble);
    double loss_sum = 0;
    for (int64_t a = 0; a < options_.grad_accum; ++a) loss_sum += accumulate(a, n, loss_of, size_of);
    bool stopping = sum_update_over_ranks(loss_sum);
    if (options_.max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params_, options_.max_grad_norm);
    optimizer_->step();
    ++updates_done_;
    const double loss = loss_sum / static_cast<double>(options_.grad_accum);
    losses.push_back(loss);
    if (progress) progress(updates_done_, options_.total_updates, loss);
    // One process also stops for a flag raised during this update; ranks agree through their votes.
    if (options_.world_size == 1) stopping = options_.stop && options_.stop->load();
    if (options_.rank == 0 && !options_.checkpoint_dir.empty() &&
        (stopping || (options_.checkpoint_every > 0 && updates_done_ % options_.checkpoint_every == 0)))
      save_checkpoint(options_.checkpoint_dir);
    if (stopping) break;
  }
  return losses;
}

void Trainer::save_checkpoint(const std::string& dir) const {
  std::filesystem::create_directories(dir);
  save_training_state((std::filesystem::path(dir) / kTrainingStateFile).string(), params_, *optimizer_,
                      generators_of(model_.device()), updates_done_);
}

bool Trainer::has_checkpoint(const std::string& dir) {
  return std::filesystem::exists(std::filesystem::path(dir) / kTrainingStateFile);
}

void Trainer::load_checkpoint(const std::string& dir) {
  updates_done_ = restore_training_state((std::filesystem::path(dir) / kTrainingStateFile).string(), params_,
                                         *optimizer_, generators_of(model_.device()));
}

}  // namespace lr::driver
