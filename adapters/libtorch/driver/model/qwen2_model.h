// The Qwen2 decoder (Qwen2ForCausalLM) in LibTorch, loaded from a Hugging Face
// checkpoint folder. Inference and scoring; the q_proj / v_proj layers are
// separate Linear objects with an optional adapter hook, so LoRA can wrap them.
//
//   x = embed_tokens[ids]
//   per layer:  h = RMSNorm(x);  x += o_proj(Attention(q_proj h, k_proj h, v_proj h))
//               h = RMSNorm(x);  x += down_proj(silu(gate_proj h) * up_proj h)
//   hidden = RMSNorm(x);  logits = hidden @ lm_head^T (lm_head = embed_tokens when tied)
//
// Attention: rotary embeddings on q and k (config rope_theta), grouped-query
// (query head h reads kv head h / (heads / kv_heads)), scale 1/sqrt(head_dim),
// causal mask combined with the padding mask, softmax in float32.
// Shapes: B batch, T tokens, H hidden size, V vocab rows.
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "checkpoint/model_config.h"
#include "model/kv_cache.h"
#include "model/rope.h"

namespace lr::driver {

// Something added to a Linear's output, computed from the same input: the
// hook a LoRA adapter uses (out = x W^T + b + adapter(x)).
struct LinearAdapter {
  virtual ~LinearAdapter() = default;
  virtual torch::Tensor forward(const torch::Tensor& x) const = 0;
};

struct Linear {
  torch::Tensor weight;                   // [out, in]
  torch::Tensor bias;                     // [out] or undefined
  std::shared_ptr<LinearAdapter> adapter;  // null unless something wraps the layer
  torch::Tensor forward(const torch::Tensor& x) const;
};

struct Qwen2Attention {
  Linear q_proj, k_proj, v_proj;  // with biases
  Linear o_proj;                  // no bias
};

struct Qwen2Mlp {
  Linear gate_proj, up_proj, down_proj;  // no biases
};

struct Qwen2Layer {
  torch::Tensor input_layernorm;           // [H]
  Qwen2Attention self_attn;
  torch::Tensor post_attention_layernorm;  // [H]
  Qwen2Mlp mlp;
};

// RMSNorm as transformers computes it: in float32, x * rsqrt(mean(x^2) + eps),
// cast back to x's dtype, then times the weight.
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// Position ids of a padded batch from its 0/1 attention mask [B, T], as
// transformers' generate makes them: cumsum(mask) - 1, and 1 at padding.
// Left- and right-padded rows both get 0, 1, 2, ... on their real tokens.
torch::Tensor position_ids_from_mask(const torch::Tensor& attention_mask);

class Qwen2Model {
 public:
  // Reads DIR/config.json and DIR/model.safetensors (or the sharded index),
  // checks every tensor's shape against the config, and places the weights on
  // `device` in `dtype` (kFloat32, kBFloat16 or kFloat16). On CPU with the
  // checkpoint's own dtype the weights are views into the mapped file (no copy).
  // Throws CheckpointError (missing/misshapen tensors) or std::invalid_argument.
  static Qwen2Model load(const std::string& dir, torch::Device device = torch::kCPU,
                         torch::ScalarType dtype = torch::kFloat32);

  const Qwen2Config& config() const { return config_; }
  torch::Device device() const { return device_; }
  torch::ScalarType dtype() const { return dtype_; }
  bool tied_lm_head() const { return tied_; }

  // Final-norm hidden states [B, T, H] in dtype().
  //  input_ids       [B, T] int64 (any device; moved to device())
  //  attention_mask  [B, T] 0/1 without a cache; with a cache [B, past + T],
  //                  covering the cached positions too (as transformers).
  //                  Undefined means all ones.
  //  position_ids    [B, T] int64; undefined means position_ids_from_mask(mask)
  //                  (its last T columns when there is a cache).
  //  cache           when given: attends over the cached keys/values plus the
  //                  new ones, appends the new ones, and advances it by T.
  // Gradients flow as usual (nothing here disables autograd); wrap calls in
  // torch::NoGradGuard when scoring.
  torch::Tensor hidden_states(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                              const torch::Tensor& position_ids, KVCache* cache = nullptr) const;

  // lm_head applied to hidden states [..., H] -> logits [..., V] in dtype().
  torch::Tensor lm_head(const torch::Tensor& hidden) const;

  // The batched teacher-forced forward: logits [B, P, V] float32 at the chosen
  // positions only (positions [B, P] int64, indices into T; lm_head runs on the
  // gathered hidden states, so no [B, T, V] tensor is ever made). Position ids
  // come from the attention mask, so left- and right-padded rows give the same
  // logits as the unpadded sequence. Undefined attention_mask means all ones.
  torch::Tensor logits_at(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                          const torch::Tensor& positions) const;

  // A cache sized for this model: batch rows, capacity positions.
  KVCache make_cache(int64_t batch, int64_t capacity) const;

  // The weights, for adapters (e.g. LoRA on layers()[i].self_attn.q_proj).
  std::vector<Qwen2Layer>& layers() { return layers_; }
  const std::vector<Qwen2Layer>& layers() const { return layers_; }
  const torch::Tensor& embed_tokens() const { return embed_tokens_; }
  const torch::Tensor& final_norm() const { return norm_; }
  const torch::Tensor& lm_head_weight() const { return lm_head_; }

 private:
  torch::Tensor attention(const Qwen2Attention& attn, const torch::Tensor& h, const torch::Tensor& cos,
                          const torch::Tensor& sin, const torch::Tensor& allowed, KVCache* cache,
                          int64_t layer) const;

  Qwen2Config config_;
  torch::Device device_ = torch::kCPU;
  torch::ScalarType dtype_ = torch::kFloat32;
  bool tied_ = false;
  torch::Tensor embed_tokens_;  // [V, H]
  std::vector<Qwen2Layer> layers_;
  torch::Tensor norm_;     // [H]
  torch::Tensor lm_head_;  // [V, H], the same tensor as embed_tokens_ when tied
  RotaryEmbedding rope_;
};

}  // namespace lr::driver
