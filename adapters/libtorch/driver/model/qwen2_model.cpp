#include "model/qwen2_model.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "checkpoint/safetensors.h"
#include "checkpoint/torch_bridge.h"

namespace lr::driver {

namespace {

std::string shape_string(c10::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// One tensor of the checkpoint, shape-checked, on `device` in `dtype`.
torch::Tensor load_tensor(const Checkpoint& ckpt, const std::string& dir, const std::string& name,
                          std::vector<int64_t> shape, torch::Device device, torch::ScalarType dtype) {
  const TensorView& view = ckpt.at(name);
  if (view.shape != shape)
    throw CheckpointError(dir + ": tensor " + name + " has shape " + shape_string(view.shape) +
                          ", the config implies " + shape_string(shape));
  return to_tensor(view, dtype).to(device);
}

}  // namespace

torch::Tensor Linear::forward(const torch::Tensor& x) const {
  auto y = torch::linear(x, weight, bias);
  if (adapter) y = y + adapter->forward(x);
  return y;
}

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  auto xf = x.to(torch::kFloat);
  auto variance = xf.pow(2).mean(-1, /*keepdim=*/true);
  xf = xf * torch::rsqrt(variance + eps);
  return weight * xf.to(x.scalar_type());
}

torch::Tensor position_ids_from_mask(const torch::Tensor& attention_mask) {
  auto m = attention_mask.to(torch::kLong);
  return (m.cumsum(-1) - 1).masked_fill(m.eq(0), 1);
}

Qwen2Model Qwen2Model::load(const std::string& dir, torch::Device device, torch::ScalarType dtype) {
  if (dtype != torch::kFloat32 && dtype != torch::kBFloat16 && dtype != torch::kFloat16)
    throw std::invalid_argument("Qwen2Model::load: compute dtype must be float32, bfloat16 or float16");
  Qwen2Model m;
  m.config_ = Qwen2Config::from_json_file(dir + "/config.json");
  m.device_ = device;
  m.dtype_ = dtype;
  const Qwen2Config& c = m.config_;
  const int64_t H = c.hidden_size;
  const int64_t D = c.head_dim > 0 ? c.head_dim : H / c.num_attention_heads;
  m.config_.head_dim = D;
  const int64_t qdim = c.num_attention_heads * D, kvdim = c.num_key_value_heads * D;
  const int64_t I = c.intermediate_size, V = c.vocab_size;

  const Checkpoint ckpt = Checkpoint::open_dir(dir);
  auto get = [&](const std::string& name, std::vector<int64_t> shape) {
    return load_tensor(ckpt, dir, name, std::move(shape), device, dtype);
  };

  m.embed_tokens_ = get("model.embed_tokens.weight", {V, H});
  m.layers_.resize(static_cast<size_t>(c.num_hidden_layers));
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    Qwen2Layer& L = m.layers_[static_cast<size_t>(i)];
    L.input_layernorm = get(p + "input_layernorm.weight", {H});
    L.post_attention_layernorm = get(p + "post_attention_layernorm.weight", {H});
    L.self_attn.q_proj = {get(p + "self_attn.q_proj.weight", {qdim, H}), get(p + "self_attn.q_proj.bias", {qdim}), {}};
    L.self_attn.k_proj = {get(p + "self_attn.k_proj.weight", {kvdim, H}), get(p + "self_attn.k_proj.bias", {kvdim}), {}};
    L.self_attn.v_proj = {get(p + "self_attn.v_proj.weight", {kvdim, H}), get(p + "self_attn.v_proj.bias", {kvdim}), {}};
    L.self_attn.o_proj = {get(p + "self_attn.o_proj.weight", {H, qdim}), {}, {}};
    L.mlp.gate_proj = {get(p + "mlp.gate_proj.weight", {I, H}), {}, {}};
    L.mlp.up_proj = {get(p + "mlp.up_proj.weight", {I, H}), {}, {}};
    L.mlp.down_proj = {get(p + "mlp.down_proj.weight", {H, I}), {}, {}};
  }
  m.norm_ = get("model.norm.weight", {H});
  // transformers ties lm_head to the embedding when the config says so; a
  // checkpoint without lm_head.weight is tied whatever the config says.
  m.tied_ = c.tie_word_embeddings || ckpt.find("lm_head.weight") == nullptr;
  m.lm_head_ = m.tied_ ? m.embed_tokens_ : get("lm_head.weight", {V, H});
  m.rope_ = RotaryEmbedding::make(D, c.rope_theta, device);
  return m;
}

KVCache Qwen2Model::make_cache(int64_t batch, int64_t capacity) const {
  return KVCache(config_.num_hidden_layers, batch, config_.num_key_value_heads, capacity, config_.head_dim,
                 device_, dtype_);
}

torch::Tensor Qwen2Model::attention(const Qwen2Attention& attn, const torch::Tensor& h, const torch::Tensor& cos,
                                    const torch::Tensor& sin, const torch::Tensor& allowed, KVCache* cache,
                                    int64_t layer) const {
  const int64_t B = h.size(0), T = h.size(1);
  const int64_t nH = config_.num_attention_heads, kvH = config_.num_key_value_heads, D = config_.head_dim;
  const int64_t G = nH / kvH;
  auto q = attn.q_proj.forward(h).view({B, T, nH, D}).transpose(1, 2);  // [B, nH, T, D]
  auto k = attn.k_proj.forward(h).view({B, T, kvH, D}).transpose(1, 2);  // [B, kvH, T, D]
  auto v = attn.v_proj.forward(h).view({B, T, kvH, D}).transpose(1, 2);
  q = apply_rotary(q, cos, sin);
  k = apply_rotary(k, cos, sin);
  if (cache) std::tie(k, v) = cache->append(layer, k, v);  // now [B, kvH, S, D]
  const int64_t S = k.size(2);
  // Grouped-query attention without copying K/V: query heads h = kv*G + g
  // share kv head kv, so [B, nH, T, D] -> [B, kvH, G*T, D] against [B, kvH, S, D].
  auto qg = q.reshape({B, kvH, G * T, D});
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  auto scores = torch::matmul(qg, k.transpose(-1, -2)) * scale;  // [B, kvH, G*T, S]
  scores = scores.view({B, kvH, G, T, S})
               .to(torch::kFloat)
               .masked_fill(allowed.logical_not(), std::numeric_limits<float>::lowest());
  auto probs = scores.softmax(-1).to(q.scalar_type()).view({B, kvH, G * T, S});
  auto out = torch::matmul(probs, v);  // [B, kvH, G*T, D]
  out = out.view({B, nH, T, D}).transpose(1, 2).reshape({B, T, nH * D});
  return attn.o_proj.forward(out);
}

torch::Tensor Qwen2Model::hidden_states(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                        const torch::Tensor& position_ids, KVCache* cache) const {
  if (input_ids.dim() != 2) throw std::invalid_argument("Qwen2Model: input_ids must be [B, T]");
  auto ids = input_ids.to(device_, torch::kLong);
  const int64_t B = ids.size(0), T = ids.size(1);
  if (B == 0 || T == 0) throw std::invalid_argument("Qwen2Model: empty batch");
  const int64_t past = cache ? cache->length() : 0;
  const int64_t S = past + T;
  if (cache && cache->batch() != B)
    throw std::invalid_argument("Qwen2Model: cache batch " + std::to_string(cache->batch()) +
                                " differs from input batch " + std::to_string(B));
  auto lopts = torch::TensorOptions().device(device_).dtype(torch::kLong);

  torch::Tensor mask;
  if (attention_mask.defined()) {
    mask = attention_mask.to(device_, torch::kLong);
    if (mask.dim() != 2 || mask.size(0) != B || mask.size(1) != S)
      throw std::invalid_argument("Qwen2Model: attention_mask must be [B, past + T] = [" + std::to_string(B) +
                                  ", " + std::to_string(S) + "], got " + shape_string(mask.sizes()));
  } else {
    mask = torch::ones({B, S}, lopts);
  }
  torch::Tensor pos;
  if (position_ids.defined()) {
    pos = position_ids.to(device_, torch::kLong);
    if (pos.dim() != 2 || pos.size(0) != B || pos.size(1) != T)
      throw std::invalid_argument("Qwen2Model: position_ids must be [B, T]");
  } else {
    pos = position_ids_from_mask(mask).narrow(1, past, T);
  }

  // allowed[b, 0, 0, i, j]: query i (absolute position past + i) may read key j.
  auto key_ok = mask.ne(0).reshape({B, 1, 1, 1, S});
  auto qpos = torch::arange(past, S, lopts).view({T, 1});
  auto kpos = torch::arange(0, S, lopts).view({1, S});
  auto allowed = key_ok.logical_and(kpos.le(qpos).view({1, 1, 1, T, S}));

  auto [cos_t, sin_t] = rope_.cos_sin(pos, dtype_);
  auto x = torch::embedding(embed_tokens_, ids);  // [B, T, H]
  const double eps = config_.rms_norm_eps;
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Qwen2Layer& L = layers_[l];
    x = x + attention(L.self_attn, rms_norm(x, L.input_layernorm, eps), cos_t, sin_t, allowed, cache,
                      static_cast<int64_t>(l));
    auto h = rms_norm(x, L.post_attention_layernorm, eps);
    x = x + L.mlp.down_proj.forward(torch::silu(L.mlp.gate_proj.forward(h)) * L.mlp.up_proj.forward(h));
  }
  if (cache) cache->advance(T);
  return rms_norm(x, norm_, eps);
}

torch::Tensor Qwen2Model::lm_head(const torch::Tensor& hidden) const { return torch::linear(hidden, lm_head_); }

torch::Tensor Qwen2Model::logits_at(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                    const torch::Tensor& positions) const {
  if (input_ids.dim() != 2) throw std::invalid_argument("Qwen2Model::logits_at: input_ids must be [B, T]");
  const int64_t B = input_ids.size(0), T = input_ids.size(1);
  if (positions.dim() != 2 || positions.size(0) != B)
    throw std::invalid_argument("Qwen2Model::logits_at: positions must be [B, P] with B = " + std::to_string(B));
  auto pos = positions.to(device_, torch::kLong);
  if (pos.numel() > 0) {
    const int64_t lo = pos.min().item<int64_t>(), hi = pos.max().item<int64_t>();
    if (lo < 0 || hi >= T)
      throw std::out_of_range("Qwen2Model::logits_at: positions must lie in [0, " + std::to_string(T) +
                              "), got [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  auto h = hidden_states(input_ids, attention_mask, torch::Tensor(), nullptr);  // [B, T, H]
  const int64_t P = pos.size(1), H = h.size(2);
  auto picked = h.gather(1, pos.unsqueeze(-1).expand({B, P, H}));  // [B, P, H]
  return lm_head(picked).to(torch::kFloat);
}

}  // namespace lr::driver
