// Rotary position embeddings, Hugging Face Qwen2 convention ("rotate_half"):
// dimension i < D/2 is paired with i + D/2 and both are rotated by the angle
// position * inv_freq[i], inv_freq[i] = 1 / theta^(2i / D).
#pragma once

#include <torch/types.h>

#include <utility>

namespace lr::driver {

struct RotaryEmbedding {
  torch::Tensor inv_freq;  // [D/2] float32, on the model's device

  static RotaryEmbedding make(int64_t head_dim, double theta, torch::Device device);

  // cos and sin [B, T, D] in `dtype` for integer position ids [B, T]; the
  // angles are computed in float32 (as transformers does) and then cast.
  std::pair<torch::Tensor, torch::Tensor> cos_sin(const torch::Tensor& position_ids,
                                                  torch::ScalarType dtype) const;
};

// x [B, heads, T, D] rotated by cos/sin [B, T, D]: x*cos + rotate_half(x)*sin,
// rotate_half(x) = cat(-x[..., D/2:], x[..., :D/2]).
torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

}  // namespace lr::driver
