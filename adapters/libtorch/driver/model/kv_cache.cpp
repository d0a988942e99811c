#include "model/kv_cache.h"

#include <stdexcept>
#include <string>

namespace lr::driver {

KVCache::KVCache(int64_t layers, int64_t batch, int64_t kv_heads, int64_t capacity, int64_t head_dim,
                 torch::Device device, torch::ScalarType dtype)
    : batch_(batch), kv_heads_(kv_heads), capacity_(capacity), head_dim_(head_dim) {
  if (layers <= 0 || batch <= 0 || kv_heads <= 0 || capacity <= 0 || head_dim <= 0)
    throw std::invalid_argument("KVCache: every size must be positive");
  auto opts = torch::TensorOptions().device(device).dtype(dtype);
  keys_.reserve(static_cast<size_t>(layers));
  values_.reserve(static_cast<size_t>(layers));
  for (int64_t l = 0; l < layers; ++l) {
    keys_.push_back(torch::empty({batch, kv_heads, capacity, head_dim}, opts));
    values_.push_back(torch::empty({batch, kv_heads, capacity, head_dim}, opts));
  }
}

std::pair<torch::Tensor, torch::Tensor> KVCache::append(int64_t layer, const torch::Tensor& k,
                                                        const torch::Tensor& v) {
  if (layer < 0 || layer >= layers())
    throw std::out_of_range("KVCache::append: layer " + std::to_string(layer) + " out of range");
  const int64_t t = k.size(2);
  if (k.dim() != 4 || k.size(0) != batch_ || k.size(1) != kv_heads_ || k.size(3) != head_dim_ ||
      !v.sizes().equals(k.sizes()))
    throw std::invalid_argument("KVCache::append: keys/values shape does not match the cache");
  if (length_ + t > capacity_)
    throw std::length_error("KVCache::append: " + std::to_string(length_ + t) +
                            " positions exceed the capacity " + std::to_string(capacity_));
  auto& kc = keys_[static_cast<size_t>(layer)];
  auto& vc = values_[static_cast<size_t>(layer)];
  kc.narrow(2, length_, t).copy_(k);
  vc.narrow(2, length_, t).copy_(v);
  return {kc.narrow(2, 0, length_ + t), vc.narrow(2, 0, length_ + t)};
}

void KVCache::advance(int64_t t) {
  if (t < 0 || length_ + t > capacity_) throw std::length_error("KVCache::advance: beyond the capacity");
  length_ += t;
}

}  // namespace lr::driver
