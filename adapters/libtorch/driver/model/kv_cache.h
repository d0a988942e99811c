// The key/value cache of batched decoding: per layer, keys and values
// preallocated as [B, kv_heads, capacity, head_dim]; each forward writes its
// new positions in place (no reallocation, no copy of the past) and attends
// over a view of the first length() positions. Every row of the batch has the
// same length: batches are left-padded and the padding is masked.
#pragma once

#include <torch/types.h>

#include <utility>
#include <vector>

namespace lr::driver {

class KVCache {
 public:
  KVCache() = default;
  KVCache(int64_t layers, int64_t batch, int64_t kv_heads, int64_t capacity, int64_t head_dim,
          torch::Device device, torch::ScalarType dtype);

  int64_t length() const { return length_; }      // positions already cached
  int64_t capacity() const { return capacity_; }  // positions it can hold
  int64_t batch() const { return batch_; }
  int64_t layers() const { return static_cast<int64_t>(keys_.size()); }

  // Writes k, v [B, kv_heads, T, D] of `layer` at positions [length, length+T)
  // and returns views of keys and values over [0, length+T). Throws when the
  // cache is full or the shapes differ. length() moves on only by advance().
  std::pair<torch::Tensor, torch::Tensor> append(int64_t layer, const torch::Tensor& k,
                                                 const torch::Tensor& v);
  // Called once per forward, after every layer has appended its T positions.
  void advance(int64_t t);
  void reset() { length_ = 0; }

 private:
  std::vector<torch::Tensor> keys_, values_;
  int64_t batch_ = 0, kv_heads_ = 0, capacity_ = 0, head_dim_ = 0, length_ = 0;
};

}  // namespace lr::driver
