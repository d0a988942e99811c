// config.json and generation_config.json of a Hugging Face Qwen2 checkpoint.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lr::driver {

struct Qwen2Config {
  std::string model_type = "qwen2";  // also accepted: architectures ["Qwen2ForCausalLM"]
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // hidden_size / num_attention_heads when absent
  int64_t intermediate_size = 0;
  int64_t vocab_size = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  int64_t max_position_embeddings = 32768;
  bool tie_word_embeddings = false;
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;  // config's eos_token_id (int or list)
  std::string torch_dtype;             // as written, e.g. "bfloat16"

  // Reads and validates DIR/config.json; refuses other architectures, missing
  // or inconsistent sizes (heads not dividing, kv heads not dividing heads),
  // with a message naming the file and the field. Throws CheckpointError.
  static Qwen2Config from_json_file(const std::string& path);
  std::string to_json() const;  // the config.json we write for our own checkpoints
};

struct GenerationConfig {
  std::vector<int64_t> eos_token_ids;
  std::optional<int64_t> bos_token_id;
  std::optional<int64_t> pad_token_id;
  // Reads DIR/generation_config.json if present (nullopt otherwise).
  static std::optional<GenerationConfig> from_dir(const std::string& dir);
};

}  // namespace lr::driver
