#include "train/peft_export.h"

#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

#include "checkpoint/peft_adapter_config.h"
#include "checkpoint/safetensors.h"
#include "checkpoint/torch_bridge.h"

namespace lr::driver {

std::string peft_key(const std::string& module_path, const std::string& matrix) {
  return "base_model.model." + module_path + "." + matrix + ".weight";
}

void save_peft_adapter(const std::string& dir, const Qwen2Model& model, const LoraConfig& config,
                       const std::string& base_model_name_or_path) {
  const auto adapters = lora_adapters(model);
  if (adapters.empty()) throw std::invalid_argument("save_peft_adapter: the model has no LoRA adapters");
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& [path, a] : adapters) {
    tensors[peft_key(path, "lora_A")] = a->A.detach().to(torch::kCPU, torch::kFloat).contiguous();
    tensors[peft_key(path, "lora_B")] = a->B.detach().to(torch::kCPU, torch::kFloat).contiguous();
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw CheckpointError("save_peft_adapter: cannot create " + dir + ": " + ec.message());
  save_tensors((std::filesystem::path(dir) / kPeftWeightsFile).string(), tensors);
  write_file_atomically((std::filesystem::path(dir) / kPeftConfigFile).string(),
                        peft_adapter_config_json(config, base_model_name_or_path));
}

namespace {

// The model's adapters for config: attached now when it has none, else
// checked against it (modules and r) and given its scaling and dropout.
std::vector<std::pair<std::string, std::shared_ptr<LoraAdapter>>> adapters_for(Qwen2Model& model,
                                                                               const LoraConfig& config,
                                                                               const std::string& config_path) {
  auto adapters = lora_adapters(model);
  if (adapters.empty()) {
    attach_lora(model, config);
    return lora_adapters(model);
  }
  auto fail = [&](const std::string& what) { throw CheckpointError(config_path + ": " + what); };
  std::set<std::string> want(config.target_modules.begin(), config.target_modules.end());
  size_t expected = want.size() * model.layers().size();
  for (const auto& entry : adapters) {
    const auto& path = entry.first;
    const auto module = path.substr(path.rfind('.') + 1);
    if (!want.count(module) || entry.second->A.size(0) != config.r)
      fail("the model's adapters do not match the file's config (" + path + ")");
  }
  if (adapters.size() != expected) fail("the model's adapters do not cover the file's target modules");
  for (const auto& entry : adapters) {
    entry.second->scaling = config.alpha / static_cast<double>(config.r);
    entry.second->dropout = config.dropout;
  }
  return adapters;
}

}  // namespace

LoraConfig load_peft_adapter(const std::string& dir, Qwen2Model& model) {
  const auto config_path = (std::filesystem::path(dir) / kPeftConfigFile).string();
  const LoraConfig config = read_adapter_config(config_path);
  const auto adapters = adapters_for(model, config, config_path);
  const auto weights_path = (std::filesystem::path(dir) / kPeftWeightsFile).string();
  const auto file = SafetensorsFile::open(weights_path);
  std::set<std::string> used;
  torch::NoGradGuard no_grad;
  for (const auto& [path, a] : adapters) {
    for (const char* matrix : {"lora_A", "lora_B"}) {
      const auto key = peft_key(path, matrix);
      const auto* view = file.find(key);
      if (!view) throw CheckpointError(weights_path + ": missing tensor " + key);
      auto& dst = std::string(matrix) == "lora_A" ? a->A : a->B;
      if (view->shape != dst.sizes().vec())
        throw CheckpointError(weights_path + ": tensor " + key + " has shape " +
                              c10::str(c10::IntArrayRef(view->shape)) + ", expected " + c10::str(dst.sizes()));
      dst.copy_(to_tensor(*view, torch::kFloat));
      used.insert(key);
    }
  }
  for (const auto& t : file.tensors())
    if (!used.count(t.name)) throw CheckpointError(weights_path + ": unexpected tensor " + t.name);
  return config;
}

}  // namespace lr::driver
