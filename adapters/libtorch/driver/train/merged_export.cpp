#include "train/merged_export.h"

#include <torch/torch.h>

#include <filesystem>
#include <stdexcept>

#include "checkpoint/json_util.h"
#include "checkpoint/safetensors.h"
#include "checkpoint/torch_bridge.h"
#include "train/lora.h"

namespace lr::driver {

namespace fs = std::filesystem;

namespace {

// The files of a Hugging Face folder other than the weights that a loader reads.
const char* const kCopiedFiles[] = {"config.json",    "generation_config.json", "tokenizer.json",
                                    "tokenizer_config.json", "vocab.json", "merges.txt",
                                    "special_tokens_map.json", "added_tokens.json"};

void create_dir(const std::string& dir, const char* who) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw CheckpointError(std::string(who) + ": cannot create " + dir + ": " + ec.message());
}

// Every tensor of the base, the adapted modules' weights merged.
std::map<std::string, torch::Tensor> merged_base_tensors(const Checkpoint& base, const Qwen2Model& model) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& name : base.names()) out[name] = to_tensor(base.at(name));
  torch::NoGradGuard no_grad;
  for (const auto& [path, adapter] : lora_adapters(model)) {
    const std::string key = path + ".weight";
    const auto it = out.find(key);
    if (it == out.end()) throw CheckpointError(base.dir() + ": no tensor " + key + " to merge the adapter into");
    const torch::Tensor delta = adapter->delta_weight().detach().to(torch::kCPU, torch::kFloat);
    if (!it->second.sizes().equals(delta.sizes()))
      throw CheckpointError(base.dir() + ": tensor " + key + " has shape " + c10::str(it->second.sizes()) +
                            ", the adapter's delta " + c10::str(delta.sizes()));
    it->second = (it->second.to(torch::kFloat) + delta).to(it->second.scalar_type());
  }
  return out;
}

}  // namespace

std::map<std::string, torch::Tensor> merged_state_dict(const Qwen2Model& model) {
  torch::NoGradGuard no_grad;
  std::map<std::string, torch::Tensor> out;
  out["model.embed_tokens.weight"] = model.embed_tokens();
  out["model.norm.weight"] = model.final_norm();
  if (!model.tied_lm_head()) out["lm_head.weight"] = model.lm_head_weight();
  const auto& layers = model.layers();
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto prefix = "model.layers." + std::to_string(i) + ".";
    out[prefix + "input_layernorm.weight"] = layers[i].input_layernorm;
    out[prefix + "post_attention_layernorm.weight"] = layers[i].post_attention_layernorm;
    for (const auto& m : lora_supported_modules()) {
      const auto& lin = linear_of(layers[i], m);
      const auto path = module_path(static_cast<int64_t>(i), m);
      auto w = lin.weight;
      if (auto a = std::dynamic_pointer_cast<LoraAdapter>(lin.adapter))
        w = (w.to(torch::kFloat) + a->delta_weight().to(w.device())).to(w.scalar_type());
      out[path + ".weight"] = w;
      if (lin.bias.defined()) out[path + ".bias"] = lin.bias;
    }
  }
  return out;
}

void save_merged_model(const std::string& dir, const Qwen2Model& model) {
  create_dir(dir, "save_merged_model");
  save_tensors((fs::path(dir) / "model.safetensors").string(), merged_state_dict(model));
  write_file_atomically((fs::path(dir) / "config.json").string(), model.config().to_json());
}

void export_merged_checkpoint(const std::string& dir, const Qwen2Model& model, const std::string& base_dir) {
  if (lora_adapters(model).empty())
    throw std::invalid_argument("export_merged_checkpoint: the model has no LoRA adapters");
  const Checkpoint base = Checkpoint::open_dir(base_dir);
  create_dir(dir, "export_merged_checkpoint");
  save_tensors((fs::path(dir) / "model.safetensors").string(), merged_base_tensors(base, model));
  for (const char* name : kCopiedFiles) {
    const fs::path from = fs::path(base_dir) / name;
    if (fs::exists(from))
      write_file_atomically((fs::path(dir) / name).string(), detail::read_text_file(from.string()));
  }
}

}  // namespace lr::driver
