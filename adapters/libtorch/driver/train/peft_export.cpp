#include "train/peft_export.h"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

#include "checkpoint/json_util.h"
#include "checkpoint/safetensors.h"
#include "checkpoint/torch_bridge.h"

namespace lr::driver {

namespace {

const char* kConfigFile = "adapter_config.json";
const char* kWeightsFile = "adapter_model.safetensors";

nlohmann::json number_json(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) return static_cast<int64_t>(v);
  return v;
}

}  // namespace

std::string peft_key(const std::string& module_path, const std::string& matrix) {
  return "base_model.model." + module_path + "." + matrix + ".weight";
}

std::string peft_adapter_config_json(const LoraConfig& config, const std::string& base_model_name_or_path) {
  nlohmann::ordered_json j;
  j["alpha_pattern"] = nlohmann::json::object();
  j["auto_mapping"] = nullptr;
  j["base_model_name_or_path"] = base_model_name_or_path;
  j["bias"] = "none";
  j["fan_in_fan_out"] = false;
  j["inference_mode"] = true;
  j["init_lora_weights"] = true;
  j["layer_replication"] = nullptr;
  j["layers_pattern"] = nullptr;
  j["layers_to_transform"] = nullptr;
  j["loftq_config"] = nlohmann::json::object();
  j["lora_alpha"] = number_json(config.alpha);
  j["lora_dropout"] = config.dropout;
  j["megatron_config"] = nullptr;
  j["megatron_core"] = "megatron.core";
  j["modules_to_save"] = nullptr;
  j["peft_type"] = "LORA";
  j["r"] = config.r;
  j["rank_pattern"] = nlohmann::json::object();
  j["revision"] = nullptr;
  j["target_modules"] = config.target_modules;
  j["task_type"] = "CAUSAL_LM";
  j["use_dora"] = false;
  j["use_rslora"] = false;
  return j.dump(2) + "\n";
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
  save_tensors((std::filesystem::path(dir) / kWeightsFile).string(), tensors);
  write_file_atomically((std::filesystem::path(dir) / kConfigFile).string(),
                        peft_adapter_config_json(config, base_model_name_or_path));
}

namespace {

// DIR/adapter_config.json as a LoraConfig (seed 0); refuses what PEFT
// options the loader does not implement.
LoraConfig read_adapter_config(const std::string& config_path) {
  const auto j = detail::parse_json_strict(detail::read_text_file(config_path), config_path, "adapter config");
  auto fail = [&](const std::string& what) { throw CheckpointError(config_path + ": " + what); };
  if (!j.is_object()) fail("not a JSON object");
  if (j.value("peft_type", std::string()) != "LORA") fail("peft_type is not \"LORA\"");
  LoraConfig config;
  try {
    config.r = j.at("r").get<int64_t>();
    config.alpha = j.at("lora_alpha").get<double>();
    config.dropout = j.value("lora_dropout", 0.0);
    const auto& tm = j.at("target_modules");
    if (!tm.is_array()) fail("target_modules must be a list of module names (a regex is not supported)");
    config.target_modules = tm.get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("bad field: ") + e.what());
  }
  if (j.contains("bias") && j["bias"] != "none") fail("only bias \"none\" is supported");
  if (j.value("fan_in_fan_out", false)) fail("fan_in_fan_out true is not supported");
  if (j.value("use_dora", false)) fail("DoRA is not supported");
  if (j.value("use_rslora", false)) fail("rsLoRA is not supported");
  return config;
}

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
  const auto config_path = (std::filesystem::path(dir) / kConfigFile).string();
  const LoraConfig config = read_adapter_config(config_path);
  const auto adapters = adapters_for(model, config, config_path);
  const auto weights_path = (std::filesystem::path(dir) / kWeightsFile).string();
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
