// config.json / generation_config.json of Hugging Face Qwen2 checkpoints.
#include "model_config.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <limits>

#include "json_util.h"
#include "safetensors.h"

namespace lr::driver {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

class Fields {
 public:
  Fields(const json& j, std::string path) : j_(j), path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw CheckpointError(path_ + ": field '" + key + "' " + what);
  }

  const json* get(const std::string& key) const {  // nullptr when absent or null
    const auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }

  std::optional<int64_t> opt_int(const std::string& key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    return to_int(key, *v);
  }

  int64_t to_int(const std::string& key, const json& v) const {
    if (v.is_number_unsigned()) {
      const uint64_t u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) fail(key, "is too large");
      return static_cast<int64_t>(u);
    }
    if (v.is_number_integer()) return v.get<int64_t>();
    fail(key, "must be an integer, not " + v.dump());
  }

  int64_t positive(const std::string& key) const {
    const std::optional<int64_t> v = opt_int(key);
    if (!v) fail(key, "is missing");
    if (*v <= 0) fail(key, "must be positive, not " + std::to_string(*v));
    return *v;
  }

  int64_t positive_or(const std::string& key, int64_t fallback) const {
    const std::optional<int64_t> v = opt_int(key);
    if (!v) return fallback;
    if (*v <= 0) fail(key, "must be positive, not " + std::to_string(*v));
    return *v;
  }

  double positive_number_or(const std::string& key, double fallback) const {
    const json* v = get(key);
    if (!v) return fallback;
    if (!v->is_number()) fail(key, "must be a number, not " + v->dump());
    const double d = v->get<double>();
    if (!(d > 0)) fail(key, "must be positive, not " + v->dump());
    return d;
  }

  bool bool_or(const std::string& key, bool fallback) const {
    const json* v = get(key);
    if (!v) return fallback;
    if (!v->is_boolean()) fail(key, "must be true or false, not " + v->dump());
    return v->get<bool>();
  }

  std::string string_or(const std::string& key, const std::string& fallback) const {
    const json* v = get(key);
    if (!v) return fallback;
    if (!v->is_string()) fail(key, "must be a string, not " + v->dump());
    return v->get<std::string>();
  }

  // An id or a list of ids (eos_token_id), absent/null -> empty.
  std::vector<int64_t> id_list(const std::string& key) const {
    const json* v = get(key);
    std::vector<int64_t> out;
    if (!v) return out;
    if (v->is_array()) {
      for (const json& e : *v) out.push_back(to_int(key, e));
    } else {
      out.push_back(to_int(key, *v));
    }
    for (int64_t id : out)
      if (id < 0) fail(key, "holds a negative id " + std::to_string(id));
    return out;
  }

  std::optional<int64_t> id(const std::string& key) const {
    const std::optional<int64_t> v = opt_int(key);
    if (v && *v < 0) fail(key, "must not be negative");
    return v;
  }

 private:
  const json& j_;
  std::string path_;
};

json load_object(const std::string& path) {
  const json j = detail::parse_json_strict(detail::read_text_file(path), path, "file");
  if (!j.is_object()) throw CheckpointError(path + ": not a JSON object");
  return j;
}

}  // namespace

Qwen2Config Qwen2Config::from_json_file(const std::string& path_or_dir) {
  std::error_code ec;
  const std::string path =
      fs::is_directory(path_or_dir, ec) ? (fs::path(path_or_dir) / "config.json").string() : path_or_dir;
  const json j = load_object(path);
  const Fields f(j, path);

  // Architecture: Qwen2ForCausalLM, or (without "architectures") model_type qwen2.
  std::vector<std::string> archs;
  if (const json* a = f.get("architectures")) {
    if (!a->is_array()) f.fail("architectures", "must be a list of names");
    for (const json& e : *a) {
      if (!e.is_string()) f.fail("architectures", "must be a list of names");
      archs.push_back(e.get<std::string>());
    }
  }
  const std::string model_type = f.string_or("model_type", "");
  bool has_qwen2 = false;
  std::string found;
  for (const std::string& a : archs) {
    has_qwen2 = has_qwen2 || a == "Qwen2ForCausalLM";
    found += (found.empty() ? "" : ", ") + a;
  }
  const bool ok = (model_type.empty() || model_type == "qwen2") &&
                  (archs.empty() ? model_type == "qwen2" : has_qwen2);
  if (!ok)
    throw CheckpointError(path + ": unsupported architecture " + (found.empty() ? "(none given)" : found) +
                          " with model_type '" + model_type +
                          "'; this driver runs Qwen2ForCausalLM (model_type \"qwen2\") only");

  Qwen2Config c;
  c.model_type = "qwen2";
  c.hidden_size = f.positive("hidden_size");
  c.num_hidden_layers = f.positive("num_hidden_layers");
  c.num_attention_heads = f.positive("num_attention_heads");
  c.num_key_value_heads = f.positive_or("num_key_value_heads", c.num_attention_heads);
  c.intermediate_size = f.positive("intermediate_size");
  c.vocab_size = f.positive("vocab_size");
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    f.fail("num_key_value_heads", "(" + std::to_string(c.num_key_value_heads) +
                                      ") must divide num_attention_heads (" +
                                      std::to_string(c.num_attention_heads) + ")");
  if (f.get("head_dim")) {
    c.head_dim = f.positive("head_dim");
  } else {
    if (c.hidden_size % c.num_attention_heads != 0)
      f.fail("num_attention_heads", "(" + std::to_string(c.num_attention_heads) + ") must divide hidden_size (" +
                                        std::to_string(c.hidden_size) + ") when head_dim is not given");
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.head_dim % 2 != 0) f.fail("head_dim", "must be even for rotary embeddings, not " + std::to_string(c.head_dim));
  c.rms_norm_eps = f.positive_number_or("rms_norm_eps", 1e-6);
  c.rope_theta = f.positive_number_or("rope_theta", 10000.0);
  c.max_position_embeddings = f.positive_or("max_position_embeddings", 32768);
  c.tie_word_embeddings = f.bool_or("tie_word_embeddings", false);
  c.bos_token_id = f.id("bos_token_id");
  c.eos_token_ids = f.id_list("eos_token_id");
  c.torch_dtype = f.string_or("torch_dtype", f.string_or("dtype", ""));

  // What this driver does not implement is refused rather than ignored.
  const std::string act = f.string_or("hidden_act", "silu");
  if (act != "silu") f.fail("hidden_act", "is '" + act + "'; only \"silu\" is supported");
  if (f.get("rope_scaling")) f.fail("rope_scaling", "is set; scaled rotary embeddings are not supported");
  if (f.bool_or("use_sliding_window", false))
    f.fail("use_sliding_window", "is true; sliding-window attention is not supported");
  return c;
}

std::string Qwen2Config::to_json() const {
  json j = json::object();
  j["architectures"] = {"Qwen2ForCausalLM"};
  j["model_type"] = "qwen2";
  j["attention_dropout"] = 0.0;
  j["hidden_act"] = "silu";
  j["hidden_size"] = hidden_size;
  j["initializer_range"] = 0.02;
  j["intermediate_size"] = intermediate_size;
  j["max_position_embeddings"] = max_position_embeddings;
  j["max_window_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_key_value_heads"] = num_key_value_heads > 0 ? num_key_value_heads : num_attention_heads;
  // Real Qwen2 configs leave head_dim out (hidden / heads); older transformers ignore it.
  if (head_dim > 0 && head_dim * num_attention_heads != hidden_size) j["head_dim"] = head_dim;
  j["rms_norm_eps"] = rms_norm_eps;
  j["rope_scaling"] = nullptr;
  j["rope_theta"] = rope_theta;
  j["sliding_window"] = max_position_embeddings;
  j["use_sliding_window"] = false;
  j["tie_word_embeddings"] = tie_word_embeddings;
  j["torch_dtype"] = torch_dtype.empty() ? "float32" : torch_dtype;
  j["use_cache"] = true;
  j["vocab_size"] = vocab_size;
  j["bos_token_id"] = bos_token_id ? json(*bos_token_id) : json(nullptr);
  if (eos_token_ids.empty())
    j["eos_token_id"] = nullptr;
  else if (eos_token_ids.size() == 1)
    j["eos_token_id"] = eos_token_ids.front();
  else
    j["eos_token_id"] = eos_token_ids;
  return j.dump(2) + "\n";
}

std::optional<GenerationConfig> GenerationConfig::from_dir(const std::string& dir) {
  const fs::path p = fs::path(dir) / "generation_config.json";
  std::error_code ec;
  if (!fs::exists(p, ec)) return std::nullopt;
  const std::string path = p.string();
  const json j = load_object(path);
  const Fields f(j, path);
  GenerationConfig g;
  g.eos_token_ids = f.id_list("eos_token_id");
  g.bos_token_id = f.id("bos_token_id");
  g.pad_token_id = f.id("pad_token_id");
  return g;
}

}  // namespace lr::driver
