#include "peft_adapter_config.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "json_util.h"
#include "safetensors.h"

namespace lr::driver {

namespace {

// A float that is a whole number is written as an integer, as Python writes 16 (not 16.0).
nlohmann::json number_json(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) return static_cast<int64_t>(v);
  return v;
}

// The value of a field that must be a JSON number within [lo, hi] (hi_open: < hi).
double number_field(const nlohmann::json& j, const char* key, double fallback, double lo, bool lo_open,
                    double hi, bool hi_open, const std::string& path) {
  if (!j.contains(key)) return fallback;
  const auto& v = j[key];
  const double x = v.is_number() ? v.get<double>() : std::nan("");
  if (!(lo_open ? x > lo : x >= lo) || !(hi_open ? x < hi : x <= hi))
    throw CheckpointError(path + ": " + key + " must be a number in " + (lo_open ? "(" : "[") + number_json(lo).dump() +
                          ", " + (std::isinf(hi) ? std::string("inf") : number_json(hi).dump()) +
                          (hi_open ? ")" : "]") + ", got " + v.dump());
  return x;
}

int64_t rank_field(const nlohmann::json& j, const std::string& path) {
  const auto it = j.find("r");
  if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() < 1 ||
      it->get<int64_t>() > defaults::lora::max_r)
    throw CheckpointError(path + ": r must be an integer in [1, " + std::to_string(defaults::lora::max_r) + "], got " +
                          (it == j.end() ? std::string("nothing") : it->dump()));
  return it->get<int64_t>();
}

std::vector<std::string> target_modules_field(const nlohmann::json& j, const std::string& path) {
  const auto it = j.find("target_modules");
  if (it == j.end() || !it->is_array() || it->empty())
    throw CheckpointError(path + ": target_modules must be a non-empty list of module names (a regex is not supported)");
  const auto& supported = lora_supported_modules();
  std::vector<std::string> out;
  for (const auto& m : *it) {
    if (!m.is_string() || std::find(supported.begin(), supported.end(), m.get<std::string>()) == supported.end())
      throw CheckpointError(path + ": target_modules: " + m.dump() + " is not a module LoRA attaches to here");
    if (std::find(out.begin(), out.end(), m.get<std::string>()) != out.end())
      throw CheckpointError(path + ": target_modules: " + m.dump() + " is listed twice");
    out.push_back(m.get<std::string>());
  }
  return out;
}

// PEFT options the loader does not implement, refused rather than ignored.
void refuse_unsupported(const nlohmann::json& j, const std::string& path) {
  auto fail = [&](const std::string& what) { throw CheckpointError(path + ": " + what); };
  if (j.contains("bias") && j["bias"] != "none") fail("only bias \"none\" is supported");
  for (const char* key : {"fan_in_fan_out", "use_dora", "use_rslora"})  // DoRA, rsLoRA: other methods
    if (j.contains(key) && j[key] != false && !j[key].is_null())
      fail(std::string(key) + " " + j[key].dump() + " is not supported (only false)");
}

}  // namespace

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

LoraConfig read_adapter_config(const std::string& path) {
  const auto j = detail::parse_json_strict(detail::read_text_file(path), path, "adapter config");
  if (!j.is_object()) throw CheckpointError(path + ": not a JSON object");
  if (!j.contains("peft_type") || j["peft_type"] != "LORA") throw CheckpointError(path + ": peft_type is not \"LORA\"");
  refuse_unsupported(j, path);
  LoraConfig config;
  config.r = rank_field(j, path);
  if (!j.contains("lora_alpha")) throw CheckpointError(path + ": no lora_alpha");
  config.alpha = number_field(j, "lora_alpha", 0, 0, true, INFINITY, true, path);
  config.dropout = number_field(j, "lora_dropout", 0, 0, false, 1, true, path);
  config.target_modules = target_modules_field(j, path);
  return config;
}

}  // namespace lr::driver
