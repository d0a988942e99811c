// make-tiny-model: a random Qwen2 checkpoint in the Hugging Face layout.
#include "tiny_model.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include "json_util.h"
#include "safetensors.h"
#include "torch_bridge.h"

namespace lr::driver {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int64_t kQwenEndOfText = 151643;  // <|endoftext|>
constexpr int64_t kQwenImEnd = 151645;      // <|im_end|>

struct TokenizerInfo {
  std::string json_path;
  int64_t max_id = -1;
  std::optional<int64_t> endoftext, im_end;
};

std::string tokenizer_json_of(const std::string& vocab_from) {
  std::error_code ec;
  if (fs::is_directory(vocab_from, ec)) return (fs::path(vocab_from) / "tokenizer.json").string();
  return vocab_from;
}

TokenizerInfo read_tokenizer_info(const std::string& vocab_from) {
  TokenizerInfo info;
  info.json_path = tokenizer_json_of(vocab_from);
  const std::string& path = info.json_path;
  const json j = detail::parse_json_strict(detail::read_text_file(path), path, "tokenizer");
  if (!j.is_object()) throw CheckpointError(path + ": not a JSON object");
  auto id_of = [&](const json& v, const std::string& what) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0)
      throw CheckpointError(path + ": " + what + " has an id that is not a non-negative integer: " + v.dump());
    return v.get<int64_t>();
  };
  const auto model = j.find("model");
  if (model == j.end() || !model->is_object() || !model->contains("vocab") || !(*model)["vocab"].is_object())
    throw CheckpointError(path + ": no model.vocab object (not a BPE tokenizer.json?)");
  for (auto it = (*model)["vocab"].begin(); it != (*model)["vocab"].end(); ++it)
    info.max_id = std::max(info.max_id, id_of(it.value(), "model.vocab entry '" + it.key() + "'"));
  if (const auto added = j.find("added_tokens"); added != j.end() && !added->is_null()) {
    if (!added->is_array()) throw CheckpointError(path + ": added_tokens is not a list");
    for (const json& t : *added) {
      if (!t.is_object() || !t.contains("id") || !t.contains("content") || !t["content"].is_string())
        throw CheckpointError(path + ": an added_tokens entry lacks id or content");
      const int64_t id = id_of(t["id"], "added token " + t["content"].dump());
      info.max_id = std::max(info.max_id, id);
      const std::string content = t["content"].get<std::string>();
      if (content == "<|endoftext|>") info.endoftext = id;
      if (content == "<|im_end|>") info.im_end = id;
    }
  }
  if (info.max_id < 0) throw CheckpointError(path + ": the vocabulary is empty");
  return info;
}

[[noreturn]] void refuse(const TinyModelOptions& o, const std::string& what) {
  throw CheckpointError("make-tiny-model " + o.out_dir + ": " + what);
}

struct Resolved {
  Qwen2Config config;
  std::optional<TokenizerInfo> tokenizer;
  std::vector<int64_t> eos;
  std::optional<int64_t> pad;
};

Resolved resolve(const TinyModelOptions& o) {
  if (o.layers <= 0 || o.hidden <= 0 || o.heads <= 0 || o.kv_heads <= 0)
    refuse(o, "layers, hidden, heads and kv_heads must be positive");
  if (o.heads % o.kv_heads != 0) refuse(o, "kv_heads must divide heads");
  if (o.hidden % o.heads != 0) refuse(o, "heads must divide hidden");
  if ((o.hidden / o.heads) % 2 != 0) refuse(o, "hidden / heads (the head size) must be even for rotary embeddings");
  if (o.intermediate < 0 || o.vocab < 0) refuse(o, "intermediate and vocab must not be negative");
  if (o.shards < 1) refuse(o, "shards must be at least 1");
  if (o.dtype != torch::kFloat32 && o.dtype != torch::kBFloat16 && o.dtype != torch::kFloat16)
    refuse(o, "dtype must be float32, bfloat16 or float16");
  if (!(o.init_std > 0) || !(o.rope_theta > 0) || !(o.rms_norm_eps > 0) || o.max_position_embeddings <= 0)
    refuse(o, "init_std, rope_theta, rms_norm_eps and max_position_embeddings must be positive");

  Resolved r;
  int64_t vocab = o.vocab;
  if (!o.vocab_from.empty()) {
    r.tokenizer = read_tokenizer_info(o.vocab_from);
    const int64_t need = r.tokenizer->max_id + 1;
    if (vocab == 0) vocab = need;
    if (vocab < need)
      refuse(o, "vocab " + std::to_string(vocab) + " is smaller than the tokenizer's " + std::to_string(need) +
                    " ids (" + r.tokenizer->json_path + ")");
  }
  if (vocab == 0) vocab = 1024;

  std::optional<int64_t> endoftext, im_end;
  if (r.tokenizer) {
    endoftext = r.tokenizer->endoftext;
    im_end = r.tokenizer->im_end;
  } else {
    if (kQwenEndOfText < vocab) endoftext = kQwenEndOfText;
    if (kQwenImEnd < vocab) im_end = kQwenImEnd;
  }
  for (const auto& id : o.endoftext_first ? std::array{endoftext, im_end} : std::array{im_end, endoftext})
    if (id) r.eos.push_back(*id);
  if (r.eos.empty()) r.eos.push_back(vocab - 1);
  r.pad = endoftext;

  Qwen2Config& c = r.config;
  c.hidden_size = o.hidden;
  c.num_hidden_layers = o.layers;
  c.num_attention_heads = o.heads;
  c.num_key_value_heads = o.kv_heads;
  c.head_dim = o.hidden / o.heads;
  c.intermediate_size = o.intermediate > 0 ? o.intermediate : 2 * o.hidden;
  c.vocab_size = vocab;
  c.rms_norm_eps = o.rms_norm_eps;
  c.rope_theta = o.rope_theta;
  c.max_position_embeddings = o.max_position_embeddings;
  c.tie_word_embeddings = o.tie_word_embeddings;
  c.bos_token_id = endoftext;
  c.eos_token_ids = {r.eos.front()};
  c.torch_dtype = o.dtype == torch::kBFloat16 ? "bfloat16" : o.dtype == torch::kFloat16 ? "float16" : "float32";
  return r;
}

std::string shard_name(int k, int n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05d-of-%05d.safetensors", k, n);
  return buf;
}

bool is_shard_name(const std::string& name) {
  static const std::regex re(R"(model-\d{5}-of-\d{5}\.safetensors)");
  return std::regex_match(name, re);
}

void copy_file_atomically(const std::string& from, const fs::path& to) {
  std::error_code ec;
  if (fs::exists(to, ec) && fs::equivalent(from, to, ec)) return;
  write_file_atomically(to.string(), detail::read_text_file(from));
}

}  // namespace

std::vector<std::pair<std::string, std::vector<int64_t>>> qwen2_parameter_shapes(const Qwen2Config& c) {
  const int64_t h = c.hidden_size;
  const int64_t hd = c.head_dim > 0 ? c.head_dim : h / c.num_attention_heads;
  const int64_t q = c.num_attention_heads * hd;
  const int64_t kv = (c.num_key_value_heads > 0 ? c.num_key_value_heads : c.num_attention_heads) * hd;
  const int64_t m = c.intermediate_size;
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  out.push_back({"model.embed_tokens.weight", {c.vocab_size, h}});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    out.push_back({p + "input_layernorm.weight", {h}});
    out.push_back({p + "self_attn.q_proj.weight", {q, h}});
    out.push_back({p + "self_attn.q_proj.bias", {q}});
    out.push_back({p + "self_attn.k_proj.weight", {kv, h}});
    out.push_back({p + "self_attn.k_proj.bias", {kv}});
    out.push_back({p + "self_attn.v_proj.weight", {kv, h}});
    out.push_back({p + "self_attn.v_proj.bias", {kv}});
    out.push_back({p + "self_attn.o_proj.weight", {h, q}});
    out.push_back({p + "post_attention_layernorm.weight", {h}});
    out.push_back({p + "mlp.gate_proj.weight", {m, h}});
    out.push_back({p + "mlp.up_proj.weight", {m, h}});
    out.push_back({p + "mlp.down_proj.weight", {h, m}});
  }
  out.push_back({"model.norm.weight", {h}});
  if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, h}});
  return out;
}

Qwen2Config tiny_qwen2_config(const TinyModelOptions& options) { return resolve(options).config; }

namespace {

using Params = std::vector<std::pair<std::string, torch::Tensor>>;

// Random weights, drawn in float32 in module order, then cast.
Params random_parameters(const Resolved& r, const TinyModelOptions& o) {
  const auto shapes = qwen2_parameter_shapes(r.config);
  torch::manual_seed(o.seed);
  Params params;
  params.reserve(shapes.size());
  torch::NoGradGuard no_grad;
  for (const auto& [name, shape] : shapes) {
    torch::Tensor t = torch::randn(shape, torch::kFloat32);
    const bool is_norm = name.size() > 11 && name.compare(name.size() - 11, 11, "norm.weight") == 0;
    t = is_norm ? 1.0 + 0.1 * t : o.init_std * t;
    params.emplace_back(name, t.to(o.dtype).contiguous());
  }
  return params;
}

// n_shards files of consecutive tensors, balanced by bytes, every shard
// non-empty, and their index. Returns the names written.
std::set<std::string> write_shards(const fs::path& dir, const Params& params, int n_shards,
                                   const std::map<std::string, std::string>& meta) {
  uint64_t total = 0;
  for (const auto& p : params) total += static_cast<uint64_t>(p.second.numel()) * p.second.element_size();
  std::vector<std::map<std::string, torch::Tensor>> shards(static_cast<size_t>(n_shards));
  json weight_map = json::object();
  size_t k = 0;
  uint64_t cum = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    if (i > 0 && k + 1 < shards.size()) {
      const size_t tensors_left = params.size() - i, shards_left = shards.size() - 1 - k;
      if (tensors_left == shards_left || cum * shards.size() >= (k + 1) * total) ++k;
    }
    shards[k].insert(params[i]);
    weight_map[params[i].first] = shard_name(static_cast<int>(k + 1), n_shards);
    cum += static_cast<uint64_t>(params[i].second.numel()) * params[i].second.element_size();
  }
  std::set<std::string> written;
  for (size_t s = 0; s < shards.size(); ++s) {
    const std::string name = shard_name(static_cast<int>(s + 1), n_shards);
    save_tensors((dir / name).string(), shards[s], meta);
    written.insert(name);
  }
  const json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  write_file_atomically((dir / "model.safetensors.index.json").string(), index.dump(2) + "\n");
  written.insert("model.safetensors.index.json");
  return written;
}

// The weights in one file or o.shards; weight files of an earlier layout,
// which would shadow or confuse the new one, are removed.
void write_weights(const fs::path& dir, const Params& params, const TinyModelOptions& o) {
  const std::map<std::string, std::string> meta{{"format", "pt"}};
  if (static_cast<size_t>(o.shards) > params.size())
    refuse(o, std::to_string(o.shards) + " shards for " + std::to_string(params.size()) + " tensors");
  std::set<std::string> written;
  if (o.shards == 1) {
    save_tensors((dir / "model.safetensors").string(), std::map<std::string, torch::Tensor>(params.begin(), params.end()),
                 meta);
    written.insert("model.safetensors");
  } else {
    written = write_shards(dir, params, o.shards, meta);
  }
  std::error_code ec;
  std::vector<fs::path> stale;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (written.count(name)) continue;
    if (name == "model.safetensors" || name == "model.safetensors.index.json" || is_shard_name(name))
      stale.push_back(e.path());
  }
  for (const fs::path& p : stale) fs::remove(p, ec);
}

// config.json, generation_config.json, and the tokenizer's files when one was given.
void write_configs(const fs::path& dir, const Resolved& r) {
  write_file_atomically((dir / "config.json").string(), r.config.to_json());
  json gen = json::object();
  if (r.config.bos_token_id) gen["bos_token_id"] = *r.config.bos_token_id;
  gen["eos_token_id"] = r.eos;
  if (r.pad) gen["pad_token_id"] = *r.pad;
  gen["do_sample"] = false;
  write_file_atomically((dir / "generation_config.json").string(), gen.dump(2) + "\n");
  if (!r.tokenizer) return;
  const fs::path src(r.tokenizer->json_path);
  copy_file_atomically(src.string(), dir / "tokenizer.json");
  const fs::path cfg = src.parent_path().empty() ? fs::path("tokenizer_config.json")
                                                 : src.parent_path() / "tokenizer_config.json";
  std::error_code ec;
  if (fs::is_regular_file(cfg, ec)) copy_file_atomically(cfg.string(), dir / "tokenizer_config.json");
}

}  // namespace

void write_tiny_qwen2(const TinyModelOptions& o) {
  if (o.out_dir.empty()) throw CheckpointError("make-tiny-model: no output folder given");
  const Resolved r = resolve(o);
  const fs::path dir(o.out_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir, ec))
    refuse(o, "cannot create the folder" + (ec ? ": " + ec.message() : std::string()));
  write_weights(dir, random_parameters(r, o), o);
  write_configs(dir, r);
}

}  // namespace lr::driver
