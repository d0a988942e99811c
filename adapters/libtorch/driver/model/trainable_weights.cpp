#include "model/trainable_weights.h"

#include <torch/torch.h>

namespace lr::driver {

std::vector<std::pair<std::string, torch::Tensor>> named_weights(const Qwen2Model& model) {
  std::vector<std::pair<std::string, torch::Tensor>> out{{"model.embed_tokens.weight", model.embed_tokens()}};
  const auto& layers = model.layers();
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    const Qwen2Layer& L = layers[i];
    out.emplace_back(p + "input_layernorm.weight", L.input_layernorm);
    out.emplace_back(p + "self_attn.q_proj.weight", L.self_attn.q_proj.weight);
    out.emplace_back(p + "self_attn.q_proj.bias", L.self_attn.q_proj.bias);
    out.emplace_back(p + "self_attn.k_proj.weight", L.self_attn.k_proj.weight);
    out.emplace_back(p + "self_attn.k_proj.bias", L.self_attn.k_proj.bias);
    out.emplace_back(p + "self_attn.v_proj.weight", L.self_attn.v_proj.weight);
    out.emplace_back(p + "self_attn.v_proj.bias", L.self_attn.v_proj.bias);
    out.emplace_back(p + "self_attn.o_proj.weight", L.self_attn.o_proj.weight);
    out.emplace_back(p + "post_attention_layernorm.weight", L.post_attention_layernorm);
    out.emplace_back(p + "mlp.gate_proj.weight", L.mlp.gate_proj.weight);
    out.emplace_back(p + "mlp.up_proj.weight", L.mlp.up_proj.weight);
    out.emplace_back(p + "mlp.down_proj.weight", L.mlp.down_proj.weight);
  }
  out.emplace_back("model.norm.weight", model.final_norm());
  if (!model.tied_lm_head()) out.emplace_back("lm_head.weight", model.lm_head_weight());
  return out;
}

std::vector<torch::Tensor> make_weights_trainable(const Qwen2Model& model) {
  std::vector<torch::Tensor> out;
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : named_weights(model)) {
    // set_ repoints the model's own tensor (the handle shares its TensorImpl)
    // at the copy, so the model computes with, and the optimiser updates, the copy.
    t.set_(t.detach().clone().contiguous());
    t.requires_grad_(true);
    out.push_back(t);
  }
  return out;
}

}  // namespace lr::driver
