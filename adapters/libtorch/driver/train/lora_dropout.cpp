#include "train/lora_dropout.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <torch/torch.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <string>

namespace lr::driver {

namespace {
uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A generator of `device`'s kind (CPU: mt19937, CUDA: Philox) seeded with `seed`.
// On the CPU a fresh one: LibTorch 1.13's Generator::clone() leaks 2.6 kB a call
// (LeakSanitizer), and a made generator seeded alike gives the same stream.
at::Generator seeded_generator(torch::Device device, uint64_t seed) {
  if (device.is_cpu()) return at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Generator base = at::globalContext().defaultGenerator(device);
  at::Generator g;
  {
    std::lock_guard<std::mutex> lock(base.mutex());
    g = base.clone();
  }
  g.set_current_seed(seed);
  return g;
}
}  // namespace

uint64_t mix_seed(uint64_t a, uint64_t b) { return splitmix64(splitmix64(a) ^ b); }

uint64_t sample_dropout_seed(uint64_t run_seed, int64_t stream_position, int64_t sample) {
  return mix_seed(mix_seed(run_seed, static_cast<uint64_t>(stream_position)), static_cast<uint64_t>(sample));
}

torch::Tensor row_dropout(const torch::Tensor& x, double p, const std::vector<DropoutRow>& rows, uint64_t salt) {
  if (x.dim() != 3 || x.size(0) != static_cast<int64_t>(rows.size()))
    throw std::invalid_argument("row_dropout: " + std::to_string(rows.size()) + " row seeds for an input of shape " +
                                c10::str(x.sizes()));
  const int64_t T = x.size(1), in = x.size(2);
  auto keep = torch::zeros(x.sizes(), x.options());
  const auto uniform = torch::TensorOptions().dtype(torch::kFloat).device(x.device());
  for (size_t b = 0; b < rows.size(); ++b) {
    const int64_t len = std::min(rows[b].length, T);
    if (len <= 0) continue;
    at::Generator g = seeded_generator(x.device(), mix_seed(rows[b].seed, salt));
    auto u = torch::rand({len, in}, g, uniform);
    keep[static_cast<int64_t>(b)].narrow(0, 0, len).copy_(u >= p);
  }
  return x * keep.div_(1 - p);
}

}  // namespace lr::driver
