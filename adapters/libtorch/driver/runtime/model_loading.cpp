#include "runtime/model_loading.h"

#include <torch/cuda.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "distributed/process_group.h"

namespace lr::driver {

Tokenizer tokenizer_in(const std::string& dir) {
  const std::filesystem::path json = std::filesystem::path(dir) / "tokenizer.json";
  if (!std::filesystem::exists(json)) throw std::runtime_error(dir + ": no tokenizer.json in the model folder");
  const std::filesystem::path config = std::filesystem::path(dir) / "tokenizer_config.json";
  return Tokenizer::from_file(json.string(), std::filesystem::exists(config) ? config.string() : "");
}

std::vector<int64_t> stop_ids_for(const std::string& dir, const Qwen2Config& config, const Tokenizer& tokenizer) {
  if (auto gen = GenerationConfig::from_dir(dir); gen && !gen->eos_token_ids.empty()) return gen->eos_token_ids;
  if (!config.eos_token_ids.empty()) return config.eos_token_ids;
  if (auto eos = tokenizer.eos_id()) return {*eos};
  return {};
}

std::vector<int64_t> chat_stop_ids_for(const std::string& dir, const Qwen2Config& config, const Tokenizer& tokenizer) {
  std::vector<int64_t> ids = stop_ids_for(dir, config, tokenizer);
  for (const char* special : {"<|im_end|>", "<|endoftext|>"})
    if (const auto id = tokenizer.token_to_id(special))
      if (std::find(ids.begin(), ids.end(), int64_t{*id}) == ids.end()) ids.push_back(*id);
  return ids;
}

torch::Device device_from(const std::string& name, const std::string& what) {
  if (name == "cpu") return torch::kCPU;
  if (!torch::cuda::is_available()) throw std::runtime_error(what + " " + name + ": no CUDA device is available");
  // Each rank of a distributed launch computes on its own GPU, as torchrun's LOCAL_RANK says.
  if (name == "cuda" && dist::joined()) return torch::Device(torch::kCUDA, static_cast<int8_t>(dist::local_rank()));
  return torch::Device(name);
}

torch::ScalarType dtype_from(const std::string& name) {
  return name == "bfloat16" ? torch::kBFloat16 : torch::kFloat32;
}

}  // namespace lr::driver
