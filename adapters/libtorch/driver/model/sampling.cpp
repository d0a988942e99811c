#include "model/sampling.h"

#include <stdexcept>

namespace lr::driver {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

double counter_uniform(uint64_t seed, uint64_t stream, uint64_t step) {
  uint64_t x = splitmix64(seed);
  x = splitmix64(x ^ splitmix64(stream + 0x632BE59BD9B4E019ull));
  x = splitmix64(x ^ splitmix64(step + 0x8CB92BA72F3D8DD7ull));
  return static_cast<double>(x >> 11) * 0x1.0p-53;
}

torch::Tensor choose_tokens(const torch::Tensor& logits, const SamplingParams& params,
                            const torch::Tensor& uniforms) {
  if (logits.dim() != 2) throw std::invalid_argument("choose_tokens: logits must be [B, V]");
  if (params.greedy) return logits.argmax(-1);
  if (!(params.temperature > 0.0)) throw std::invalid_argument("choose_tokens: temperature must be > 0");
  if (!(params.top_p >= 0.0 && params.top_p <= 1.0)) throw std::invalid_argument("choose_tokens: top_p must be in [0, 1]");
  const int64_t B = logits.size(0), V = logits.size(1);
  if (!uniforms.defined() || uniforms.dim() != 1 || uniforms.size(0) != B)
    throw std::invalid_argument("choose_tokens: uniforms must be [B]");
  auto z = logits.to(torch::kFloat) / params.temperature;
  auto u = uniforms.to(z.device(), torch::kFloat).unsqueeze(1);  // [B, 1]
  torch::Tensor order;  // [B, V] token ids in the order probs are laid out; undefined = identity
  torch::Tensor probs;
  if (params.top_p < 1.0) {
    auto sorted = z.sort(-1, /*descending=*/true);
    order = std::get<1>(sorted);
    probs = std::get<0>(sorted).softmax(-1);
    // Keep a token when the mass strictly before it is below top_p (the same
    // set as transformers' TopPLogitsWarper); the first is always kept.
    auto keep = (probs.cumsum(-1) - probs).lt(params.top_p);
    keep.select(1, 0).fill_(true);
    probs = probs * keep.to(probs.scalar_type());
  } else {
    probs = z.softmax(-1);
  }
  auto cum = probs.cumsum(-1);
  auto target = u * cum.narrow(1, V - 1, 1);                       // [B, 1]
  auto choice = cum.le(target).sum(-1, /*keepdim=*/true);  // the first index with cum > target
  // When rounding makes target reach the total, step back to the last token
  // with positive probability (never onto a dropped or underflowed tail).
  auto ids = torch::arange(V, torch::TensorOptions().device(z.device()).dtype(torch::kLong));
  auto last_positive = (probs.gt(0).to(torch::kLong) * ids).amax(-1, /*keepdim=*/true);
  choice = torch::minimum(choice, last_positive);
  if (order.defined()) choice = order.gather(1, choice);
  return choice.squeeze(1);
}

}  // namespace lr::driver
