#include "model/rope.h"

namespace lr::driver {

RotaryEmbedding RotaryEmbedding::make(int64_t head_dim, double theta, torch::Device device) {
  TORCH_CHECK(head_dim > 0 && head_dim % 2 == 0, "rotary embedding: head_dim must be even, got ", head_dim);
  // 1 / theta^(arange(0, D, 2) / D), in float32 like transformers.
  auto exponents = torch::arange(0, head_dim, 2, torch::dtype(torch::kLong)).to(torch::kFloat) /
                   static_cast<double>(head_dim);
  auto inv_freq = 1.0 / torch::pow(torch::scalar_tensor(theta, torch::kFloat), exponents);
  return RotaryEmbedding{inv_freq.to(device)};
}

std::pair<torch::Tensor, torch::Tensor> RotaryEmbedding::cos_sin(const torch::Tensor& position_ids,
                                                                 torch::ScalarType dtype) const {
  // [B, T, 1] * [D/2] -> [B, T, D/2]; emb = cat(freqs, freqs) -> [B, T, D].
  auto freqs = position_ids.to(torch::kFloat).unsqueeze(-1) * inv_freq;
  auto emb = torch::cat({freqs, freqs}, -1);
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  auto x1 = x.narrow(-1, 0, half);
  auto x2 = x.narrow(-1, half, half);
  auto rotated = torch::cat({-x2, x1}, -1);
  auto c = cos.unsqueeze(1);  // [B, 1, T, D], broadcast over heads
  auto s = sin.unsqueeze(1);
  return x * c + rotated * s;
}

}  // namespace lr::driver
