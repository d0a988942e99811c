#include "train/training_state.h"

#include <torch/torch.h>

#include <map>
#include <mutex>
#include <sstream>
#include <type_traits>

#include "checkpoint/torch_bridge.h"
#include "checkpoint/training_state_file.h"

namespace lr::driver {

namespace {

// The key AdamW files a parameter's state under: its TensorImpl's address,
// as text in LibTorch 1.x, as the pointer itself in 2.x (a template, so only
// the installed LibTorch's branch is compiled).
template <class Optimizer>
auto adam_state_key(Optimizer& optimizer, const torch::Tensor& p) {
  using Key = typename std::decay_t<decltype(optimizer.state())>::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream text;
    text << static_cast<const void*>(p.unsafeGetTensorImpl());
    return text.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

torch::optim::AdamWParamState* adam_state_of(torch::optim::AdamW& optimizer, const torch::Tensor& p) {
  auto& states = optimizer.state();
  auto it = states.find(adam_state_key(optimizer, p));
  return it == states.end() ? nullptr : static_cast<torch::optim::AdamWParamState*>(it->second.get());
}

torch::Tensor generator_state(const at::Generator& generator) {
  at::Generator g = generator;
  std::lock_guard<std::mutex> lock(g.mutex());
  return g.get_state();
}

}  // namespace

void save_training_state(const std::string& path, const std::vector<torch::Tensor>& params,
                         torch::optim::AdamW& optimizer, const std::vector<at::Generator>& generators,
                         int64_t updates_done) {
  std::map<std::string, torch::Tensor> tensors;
  auto steps = torch::zeros({static_cast<int64_t>(params.size())}, torch::kLong);
  for (size_t i = 0; i < params.size(); ++i) {
    const torch::Tensor& p = params[i];
    const auto* adam = adam_state_of(optimizer, p);
    tensors[param_tensor_name(i)] = p.detach();
    tensors[exp_avg_tensor_name(i)] = adam ? adam->exp_avg() : torch::zeros_like(p);
    tensors[exp_avg_sq_tensor_name(i)] = adam ? adam->exp_avg_sq() : torch::zeros_like(p);
    steps[static_cast<int64_t>(i)] = adam ? adam->step() : 0;
  }
  tensors[kAdamStepsTensor] = steps;
  tensors[kUpdatesDoneTensor] = torch::tensor(updates_done, torch::kLong).reshape({});
  for (size_t j = 0; j < generators.size(); ++j) tensors[generator_tensor_name(j)] = generator_state(generators[j]);
  save_tensors(path, tensors, {{"format", kTrainingStateFormat}, {"version", kTrainingStateVersion}});
}

int64_t restore_training_state(const std::string& path, const std::vector<torch::Tensor>& params,
                               torch::optim::AdamW& optimizer, const std::vector<at::Generator>& generators) {
  std::vector<ParameterLayout> layout;
  for (const auto& p : params) layout.push_back({st_dtype_of(p.scalar_type()), p.sizes().vec()});
  const TrainingState state = read_training_state(path, layout);
  const size_t restored_generators = std::min(generators.size(), state.generator_states.size());
  for (size_t j = 0; j < restored_generators; ++j) {
    const auto want = generator_state(generators[j]).numel();
    if (static_cast<int64_t>(state.generator_states[j].nbytes) != want)
      throw CheckpointError(path + ": tensor " + state.generator_states[j].name + " holds " +
                            std::to_string(state.generator_states[j].nbytes) + " bytes, this generator's state " +
                            std::to_string(want));
  }
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) {
    const ParameterState& s = state.params[i];
    params[i].copy_(to_tensor(s.value));
    auto adam = std::make_unique<torch::optim::AdamWParamState>();
    adam->step(s.adam_step);
    const auto device = params[i].device();  // copies: the views are over the file's mapping
    adam->exp_avg(to_tensor(s.exp_avg).to(device, /*non_blocking=*/false, /*copy=*/true));
    adam->exp_avg_sq(to_tensor(s.exp_avg_sq).to(device, /*non_blocking=*/false, /*copy=*/true));
    optimizer.state()[adam_state_key(optimizer, params[i])] = std::move(adam);
  }
  for (size_t j = 0; j < restored_generators; ++j) {
    at::Generator g = generators[j];
    std::lock_guard<std::mutex> lock(g.mutex());
    g.set_state(to_tensor(state.generator_states[j]).clone());
  }
  return state.updates_done;
}

}  // namespace lr::driver
