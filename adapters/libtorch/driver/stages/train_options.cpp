#include "stages/train_options.h"

#include "distributed/process_group.h"

namespace lr::driver {

LoraConfig lora_config(const ExperimentConfig& c) {
  LoraConfig lora;
  lora.r = c.lora.r;
  lora.alpha = c.lora.alpha;
  lora.dropout = c.lora.dropout;
  lora.target_modules = c.lora.target_modules;
  lora.seed = uint64_t(c.run.seed);
  return lora;
}

TrainOptions shared_train_options(const ExperimentConfig& c) {
  TrainOptions opts;
  opts.weight_decay = c.train.weight_decay;
  opts.adam_beta1 = c.train.adam_beta1;
  opts.adam_beta2 = c.train.adam_beta2;
  opts.adam_eps = c.train.adam_eps;
  opts.max_grad_norm = c.train.grad_clip;
  opts.shuffle_seed = uint64_t(c.run.seed);
  opts.checkpoint_every = c.train.checkpoint_every;
  opts.schedule = c.train.schedule;
  opts.rank = dist::rank();
  opts.world_size = dist::world_size();
  if (dist::world_size() > 1) opts.sum_over_ranks = [](std::vector<torch::Tensor>& t) { dist::all_reduce_sum(t); };
  return opts;
}

}  // namespace lr::driver
