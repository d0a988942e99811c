#include "train/lora.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <set>
#include <stdexcept>

namespace lr::driver {

LoraAdapter::LoraAdapter(int64_t in_features, int64_t out_features, const LoraConfig& config,
                         torch::Device device, torch::Generator& generator)
    : scaling(config.alpha / static_cast<double>(config.r)), dropout(config.dropout) {
  // kaiming_uniform_(a = sqrt(5)): gain sqrt(2 / (1 + 5)), bound gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in).
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  auto a = torch::rand({config.r, in_features}, generator, torch::TensorOptions().dtype(torch::kFloat));
  A = (a * (2 * bound) - bound).to(device).detach().requires_grad_(true);
  B = torch::zeros({out_features, config.r}, torch::TensorOptions().dtype(torch::kFloat).device(device))
          .requires_grad_(true);
}

torch::Tensor LoraAdapter::forward(const torch::Tensor& x) const {
  torch::Tensor h = x;
  if (training && dropout > 0)
    h = rows.empty() ? torch::dropout(x, dropout, /*train=*/true)
                     : row_dropout(x, dropout, rows, static_cast<uint64_t>(index));
  auto dt = x.scalar_type();
  return torch::matmul(torch::matmul(h, A.to(dt).t()), B.to(dt).t()) * scaling;
}

torch::Tensor LoraAdapter::delta_weight() const { return torch::matmul(B, A) * scaling; }

Linear& linear_of(Qwen2Layer& layer, const std::string& module) {
  if (module == "q_proj") return layer.self_attn.q_proj;
  if (module == "k_proj") return layer.self_attn.k_proj;
  if (module == "v_proj") return layer.self_attn.v_proj;
  if (module == "o_proj") return layer.self_attn.o_proj;
  if (module == "gate_proj") return layer.mlp.gate_proj;
  if (module == "up_proj") return layer.mlp.up_proj;
  if (module == "down_proj") return layer.mlp.down_proj;
  throw std::invalid_argument("LoRA: unknown target module '" + module +
                              "' (supported: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)");
}

const Linear& linear_of(const Qwen2Layer& layer, const std::string& module) {
  return linear_of(const_cast<Qwen2Layer&>(layer), module);
}

std::string module_path(int64_t layer, const std::string& module) {
  const bool attn = module == "q_proj" || module == "k_proj" || module == "v_proj" || module == "o_proj";
  return "model.layers." + std::to_string(layer) + (attn ? ".self_attn." : ".mlp.") + module;
}

namespace {
void freeze(const torch::Tensor& t) {
  if (t.defined() && t.requires_grad()) const_cast<torch::Tensor&>(t).requires_grad_(false);
}
}  // namespace

std::vector<torch::Tensor> attach_lora(Qwen2Model& model, const LoraConfig& config) {
  if (config.r < 1) throw std::invalid_argument("LoRA: r must be >= 1, got " + std::to_string(config.r));
  if (!(config.dropout >= 0 && config.dropout < 1))
    throw std::invalid_argument("LoRA: dropout must lie in [0, 1), got " + std::to_string(config.dropout));
  if (config.target_modules.empty()) throw std::invalid_argument("LoRA: no target modules");
  std::set<std::string> seen;
  for (const auto& m : config.target_modules) {
    (void)linear_of(model.layers().at(0), m);  // throws for an unknown name
    if (!seen.insert(m).second) throw std::invalid_argument("LoRA: target module '" + m + "' given twice");
  }
  for (const auto& m : config.target_modules)
    for (size_t i = 0; i < model.layers().size(); ++i)
      if (linear_of(model.layers()[i], m).adapter)
        throw std::invalid_argument("LoRA: " + module_path(static_cast<int64_t>(i), m) + " already has an adapter");

  freeze(model.embed_tokens());
  freeze(model.final_norm());
  freeze(model.lm_head_weight());
  for (auto& layer : model.layers()) {
    freeze(layer.input_layernorm);
    freeze(layer.post_attention_layernorm);
    for (const auto& m : lora_supported_modules()) {
      auto& lin = linear_of(layer, m);
      freeze(lin.weight);
      freeze(lin.bias);
    }
  }

  torch::NoGradGuard no_grad;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(config.seed);
  int64_t index = 0;  // lora_adapters()'s order: layer by layer, modules in supported order
  for (auto& layer : model.layers()) {
    for (const auto& m : lora_supported_modules()) {
      if (!seen.count(m)) continue;
      auto& lin = linear_of(layer, m);
      auto adapter = std::make_shared<LoraAdapter>(lin.weight.size(1), lin.weight.size(0), config,
                                                   lin.weight.device(), generator);
      adapter->index = index++;
      lin.adapter = std::move(adapter);
    }
  }
  return lora_parameters(model);
}

std::vector<std::pair<std::string, std::shared_ptr<LoraAdapter>>> lora_adapters(const Qwen2Model& model) {
  std::vector<std::pair<std::string, std::shared_ptr<LoraAdapter>>> out;
  const auto& layers = model.layers();
  for (size_t i = 0; i < layers.size(); ++i)
    for (const auto& m : lora_supported_modules())
      if (auto a = std::dynamic_pointer_cast<LoraAdapter>(linear_of(layers[i], m).adapter))
        out.emplace_back(module_path(static_cast<int64_t>(i), m), a);
  return out;
}

std::vector<torch::Tensor> lora_parameters(const Qwen2Model& model) {
  std::vector<torch::Tensor> params;
  for (const auto& [name, a] : lora_adapters(model)) {
    params.push_back(a->A);
    params.push_back(a->B);
  }
  return params;
}

void set_lora_training(const Qwen2Model& model, bool training) {
  for (const auto& entry : lora_adapters(model)) entry.second->training = training;
}

void set_lora_dropout_rows(const Qwen2Model& model, const std::vector<DropoutRow>& rows) {
  for (const auto& entry : lora_adapters(model)) entry.second->rows = rows;
}

LoraDropoutRows::LoraDropoutRows(const Qwen2Model& model, const std::vector<uint64_t>& seeds,
                                 const std::vector<int64_t>& lengths)
    : model_(model) {
  if (seeds.empty()) return;
  if (seeds.size() != lengths.size())
    throw std::invalid_argument("LoRA dropout: " + std::to_string(seeds.size()) + " row seeds for " +
                                std::to_string(lengths.size()) + " rows");
  std::vector<DropoutRow> rows(seeds.size());
  for (size_t i = 0; i < seeds.size(); ++i) rows[i] = {seeds[i], lengths[i]};
  set_lora_dropout_rows(model_, rows);
  set_ = true;
}

LoraDropoutRows::~LoraDropoutRows() {
  if (set_) set_lora_dropout_rows(model_, {});
}

void merge_lora(Qwen2Model& model) {
  torch::NoGradGuard no_grad;
  for (auto& layer : model.layers()) {
    for (const auto& m : lora_supported_modules()) {
      auto& lin = linear_of(layer, m);
      if (auto a = std::dynamic_pointer_cast<LoraAdapter>(lin.adapter)) {
        lin.weight = (lin.weight.to(torch::kFloat) + a->delta_weight().to(lin.weight.device()))
                         .to(lin.weight.scalar_type());
        lin.adapter.reset();
      }
    }
  }
}

}  // namespace lr::driver
