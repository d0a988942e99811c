// make-tiny-model: a random Qwen2 checkpoint in the Hugging Face layout, the
// fixture the driver's tests use in place of real weights.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "model_config.h"

namespace lr::driver {

struct TinyModelOptions {
  std::string out_dir;  // created if needed; files are written atomically
  int64_t layers = 2;
  int64_t hidden = 64;
  int64_t heads = 4;
  int64_t kv_heads = 2;
  int64_t intermediate = 0;  // 0: 2 * hidden
  int64_t vocab = 0;         // 0: the tokenizer's max id + 1 with vocab_from, else 1024
  std::string vocab_from;    // a tokenizer.json or its folder: sets the vocabulary, copied into out_dir
  uint64_t seed = 0;
  bool tie_word_embeddings = false;
  int shards = 1;  // > 1: model-0000k-of-0000n.safetensors and model.safetensors.index.json
  torch::ScalarType dtype = torch::kFloat32;  // kFloat32, kBFloat16 or kFloat16
  double rope_theta = 1000000.0;
  double init_std = 0.02;  // weights ~ N(0, init_std); norm weights ~ 1 + N(0, 0.1)
  double rms_norm_eps = 1e-6;
  int64_t max_position_embeddings = 32768;
  // eos order: false <|im_end|> first (a chat model's), true <|endoftext|>
  // first (a base model's: models trained on documents ending with it, such as
  // the miniature's, so that "the first stop id" is the one they write).
  bool endoftext_first = false;
};

// Writes config.json, generation_config.json, the weights (model.safetensors
// or shards with their index; metadata "format": "pt") and, with vocab_from,
// tokenizer.json and tokenizer_config.json (when beside it). Same options and
// seed give the same file on one LibTorch version (torch::manual_seed is set:
// the global generator is reseeded). Stale weight files of the other layout
// (single vs sharded) are removed. Throws CheckpointError.
// eos ids: <|im_end|> and <|endoftext|> (endoftext_first: the other order) from the tokenizer when it has them,
// else 151645 and 151643 where the vocabulary covers them, else vocab - 1.
void write_tiny_qwen2(const TinyModelOptions& options);

// The config write_tiny_qwen2 would write for these options (vocab resolved).
Qwen2Config tiny_qwen2_config(const TinyModelOptions& options);

// The Hugging Face parameter names and shapes of a Qwen2ForCausalLM, in
// module order (lm_head.weight last, absent when the embeddings are tied).
std::vector<std::pair<std::string, std::vector<int64_t>>> qwen2_parameter_shapes(const Qwen2Config& config);

}  // namespace lr::driver
