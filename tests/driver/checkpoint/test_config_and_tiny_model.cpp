// config.json / generation_config.json, and make-tiny-model's checkpoints.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>

#include "model_config.h"
#include "safetensors.h"
#include "test_util.h"
#include "tiny_model.h"
#include "torch_bridge.h"

namespace lr::driver {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::expect_checkpoint_error;
using test::read_bytes;
using test::TempDir;
using test::write_bytes;

// Qwen2.5-Math-1.5B's config.json as published (tied embeddings).
const char* kQwenMath15B = R"({
  "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
  "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 1536, "initializer_range": 0.02,
  "intermediate_size": 8960, "max_position_embeddings": 4096, "max_window_layers": 21,
  "model_type": "qwen2", "num_attention_heads": 12, "num_hidden_layers": 28, "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06, "rope_theta": 10000, "sliding_window": 4096, "tie_word_embeddings": true,
  "torch_dtype": "bfloat16", "transformers_version": "4.37.0", "use_cache": true, "use_mrope": false,
  "use_sliding_window": false, "vocab_size": 151936})";

class ConfigTest : public ::testing::Test {
 protected:
  std::string write(const json& j, const std::string& name = "config.json") {
    const std::string path = tmp_.file(name);
    write_bytes(path, j.dump());
    return path;
  }
  json base() const { return json::parse(kQwenMath15B); }
  void expect_refused(const json& j, std::initializer_list<std::string> parts) {
    const std::string path = write(j);
    expect_checkpoint_error([&] { Qwen2Config::from_json_file(path); }, {path});
    expect_checkpoint_error([&] { Qwen2Config::from_json_file(path); }, parts);
  }
  TempDir tmp_;
};

TEST_F(ConfigTest, RealTiedConfig) {
  const Qwen2Config c = Qwen2Config::from_json_file(write(base()));
  EXPECT_EQ(c.model_type, "qwen2");
  EXPECT_EQ(c.hidden_size, 1536);
  EXPECT_EQ(c.num_hidden_layers, 28);
  EXPECT_EQ(c.num_attention_heads, 12);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.intermediate_size, 8960);
  EXPECT_EQ(c.vocab_size, 151936);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.max_position_embeddings, 4096);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, 151643);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{151643});
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  // A folder works too.
  EXPECT_EQ(Qwen2Config::from_json_file(tmp_.path()).hidden_size, 1536);
}

TEST_F(ConfigTest, UntiedAndDefaults) {
  json j = base();
  j.erase("tie_word_embeddings");  // Qwen2's default: untied
  j.erase("num_key_value_heads");  // default: one kv head per head
  j.erase("rope_theta");
  j.erase("rms_norm_eps");
  j.erase("max_position_embeddings");
  j.erase("bos_token_id");
  j.erase("eos_token_id");
  j.erase("torch_dtype");
  j["rope_scaling"] = nullptr;
  const Qwen2Config c = Qwen2Config::from_json_file(write(j));
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.num_key_value_heads, 12);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_EQ(c.max_position_embeddings, 32768);
  EXPECT_FALSE(c.bos_token_id.has_value());
  EXPECT_TRUE(c.eos_token_ids.empty());
  EXPECT_EQ(c.torch_dtype, "");
  j["tie_word_embeddings"] = false;
  EXPECT_FALSE(Qwen2Config::from_json_file(write(j)).tie_word_embeddings);
}

TEST_F(ConfigTest, HeadDim) {
  json j = base();
  EXPECT_EQ(Qwen2Config::from_json_file(write(j)).head_dim, 1536 / 12);
  j["head_dim"] = 64;
  EXPECT_EQ(Qwen2Config::from_json_file(write(j)).head_dim, 64);
  j["head_dim"] = nullptr;
  EXPECT_EQ(Qwen2Config::from_json_file(write(j)).head_dim, 128);
  j["head_dim"] = 63;
  expect_refused(j, {"'head_dim'", "even"});
  j.erase("head_dim");
  j["hidden_size"] = 1540;
  expect_refused(j, {"'num_attention_heads'", "hidden_size"});
}

TEST_F(ConfigTest, EosIntOrList) {
  json j = base();
  j["eos_token_id"] = {151645, 151643};
  EXPECT_EQ(Qwen2Config::from_json_file(write(j)).eos_token_ids, (std::vector<int64_t>{151645, 151643}));
  j["eos_token_id"] = 7;
  EXPECT_EQ(Qwen2Config::from_json_file(write(j)).eos_token_ids, std::vector<int64_t>{7});
  j["eos_token_id"] = nullptr;
  EXPECT_TRUE(Qwen2Config::from_json_file(write(j)).eos_token_ids.empty());
  j["eos_token_id"] = "</s>";
  expect_refused(j, {"'eos_token_id'"});
  j["eos_token_id"] = {1, "x"};
  expect_refused(j, {"'eos_token_id'"});
  j["eos_token_id"] = -1;
  expect_refused(j, {"'eos_token_id'", "negative"});
}

TEST_F(ConfigTest, Architectures) {
  json j = base();
  j.erase("architectures");  // model_type alone is enough
  EXPECT_EQ(Qwen2Config::from_json_file(write(j)).hidden_size, 1536);
  j = base();
  j.erase("model_type");  // and so is the architecture alone
  EXPECT_EQ(Qwen2Config::from_json_file(write(j)).hidden_size, 1536);

  j = base();
  j["architectures"] = {"LlamaForCausalLM"};
  j["model_type"] = "llama";
  expect_refused(j, {"LlamaForCausalLM", "llama", "Qwen2ForCausalLM"});
  j["architectures"] = {"Qwen3ForCausalLM"};
  j["model_type"] = "qwen3";
  expect_refused(j, {"Qwen3ForCausalLM", "unsupported architecture"});
  j["architectures"] = {"Qwen2ForSequenceClassification"};
  j["model_type"] = "qwen2";
  expect_refused(j, {"Qwen2ForSequenceClassification"});
  j.erase("architectures");
  j.erase("model_type");
  expect_refused(j, {"unsupported architecture"});
  j = base();
  j["architectures"] = "Qwen2ForCausalLM";
  expect_refused(j, {"'architectures'"});
}

TEST_F(ConfigTest, HeadsNotDivisibleByKvHeads) {
  json j = base();
  j["num_key_value_heads"] = 5;
  expect_refused(j, {"'num_key_value_heads'", "(5)", "divide", "(12)"});
}

TEST_F(ConfigTest, MissingOrBadFields) {
  for (const char* key : {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                          "vocab_size"}) {
    json j = base();
    j.erase(key);
    expect_refused(j, {std::string("'") + key + "'", "missing"});
    j[key] = 0;
    expect_refused(j, {std::string("'") + key + "'", "positive"});
    j[key] = 12.5;
    expect_refused(j, {std::string("'") + key + "'", "integer"});
    j[key] = "12";
    expect_refused(j, {std::string("'") + key + "'", "integer"});
  }
  json j = base();
  j["rms_norm_eps"] = -1;
  expect_refused(j, {"'rms_norm_eps'"});
  j = base();
  j["rope_theta"] = "big";
  expect_refused(j, {"'rope_theta'"});
  j = base();
  j["tie_word_embeddings"] = 1;
  expect_refused(j, {"'tie_word_embeddings'"});
  j = base();
  j["rope_scaling"] = {{"type", "yarn"}, {"factor", 4.0}};
  expect_refused(j, {"'rope_scaling'", "not supported"});
  j = base();
  j["use_sliding_window"] = true;
  expect_refused(j, {"'use_sliding_window'"});
  j = base();
  j["hidden_act"] = "gelu";
  expect_refused(j, {"'hidden_act'", "gelu"});
}

TEST_F(ConfigTest, MalformedFiles) {
  const std::string path = tmp_.file("config.json");
  write_bytes(path, "{\"hidden_size\": 1536,");
  expect_checkpoint_error([&] { Qwen2Config::from_json_file(path); }, {path, "not valid JSON"});
  write_bytes(path, "[1]");
  expect_checkpoint_error([&] { Qwen2Config::from_json_file(path); }, {path, "not a JSON object"});
  std::string dup = kQwenMath15B;
  dup.insert(dup.rfind('}'), ", \"hidden_size\": 64");
  write_bytes(path, dup);
  expect_checkpoint_error([&] { Qwen2Config::from_json_file(path); }, {path, "'hidden_size'", "twice"});
  expect_checkpoint_error([&] { Qwen2Config::from_json_file(tmp_.file("absent.json")); }, {"absent.json"});
}

TEST_F(ConfigTest, ToJsonRoundTrip) {
  Qwen2Config c = Qwen2Config::from_json_file(write(base()));
  c.eos_token_ids = {151645, 151643};
  const std::string text = c.to_json();
  const json j = json::parse(text);
  EXPECT_EQ(j["architectures"], json::array({"Qwen2ForCausalLM"}));
  EXPECT_EQ(j["model_type"], "qwen2");
  EXPECT_EQ(j["hidden_act"], "silu");
  EXPECT_EQ(j["use_sliding_window"], false);
  EXPECT_EQ(j["attention_dropout"], 0.0);
  EXPECT_EQ(j["torch_dtype"], "bfloat16");
  EXPECT_EQ(j["eos_token_id"], json::array({151645, 151643}));
  EXPECT_FALSE(j.contains("head_dim")) << "left out when it is hidden / heads, as in real Qwen2 configs";
  const Qwen2Config back = Qwen2Config::from_json_file(write(j));
  EXPECT_EQ(back.hidden_size, c.hidden_size);
  EXPECT_EQ(back.num_hidden_layers, c.num_hidden_layers);
  EXPECT_EQ(back.num_attention_heads, c.num_attention_heads);
  EXPECT_EQ(back.num_key_value_heads, c.num_key_value_heads);
  EXPECT_EQ(back.head_dim, c.head_dim);
  EXPECT_EQ(back.intermediate_size, c.intermediate_size);
  EXPECT_EQ(back.vocab_size, c.vocab_size);
  EXPECT_EQ(back.rms_norm_eps, c.rms_norm_eps);
  EXPECT_EQ(back.rope_theta, c.rope_theta);
  EXPECT_EQ(back.max_position_embeddings, c.max_position_embeddings);
  EXPECT_EQ(back.tie_word_embeddings, c.tie_word_embeddings);
  EXPECT_EQ(back.bos_token_id, c.bos_token_id);
  EXPECT_EQ(back.eos_token_ids, c.eos_token_ids);
  EXPECT_EQ(back.torch_dtype, c.torch_dtype);
  c.head_dim = 64;
  EXPECT_EQ(json::parse(c.to_json())["head_dim"], 64);
}

TEST_F(ConfigTest, GenerationConfig) {
  EXPECT_FALSE(GenerationConfig::from_dir(tmp_.path()).has_value());
  write(json{{"bos_token_id", 151643}, {"eos_token_id", {151645, 151643}}, {"pad_token_id", 151643},
             {"do_sample", true}, {"temperature", 0.7}},
        "generation_config.json");
  const std::optional<GenerationConfig> g = GenerationConfig::from_dir(tmp_.path());
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->eos_token_ids, (std::vector<int64_t>{151645, 151643}));
  EXPECT_EQ(g->bos_token_id, 151643);
  EXPECT_EQ(g->pad_token_id, 151643);
  write(json{{"eos_token_id", 2}}, "generation_config.json");
  const std::optional<GenerationConfig> g2 = GenerationConfig::from_dir(tmp_.path());
  EXPECT_EQ(g2->eos_token_ids, std::vector<int64_t>{2});
  EXPECT_FALSE(g2->bos_token_id.has_value());
  EXPECT_FALSE(g2->pad_token_id.has_value());
  const std::string path = write(json{{"eos_token_id", 2.5}}, "generation_config.json");
  expect_checkpoint_error([&] { GenerationConfig::from_dir(tmp_.path()); }, {path, "'eos_token_id'"});
}

// ------------------------------------------------------------ make-tiny-model

using Shapes = std::map<std::string, std::vector<int64_t>>;

// What a 2-layer Qwen2ForCausalLM with these sizes holds, written out by hand.
Shapes expected_shapes(int64_t V, int64_t H, int64_t q, int64_t kv, int64_t M, bool tied) {
  Shapes s{{"model.embed_tokens.weight", {V, H}}, {"model.norm.weight", {H}}};
  for (int i = 0; i < 2; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    s[p + "input_layernorm.weight"] = {H};
    s[p + "self_attn.q_proj.weight"] = {q, H};
    s[p + "self_attn.q_proj.bias"] = {q};
    s[p + "self_attn.k_proj.weight"] = {kv, H};
    s[p + "self_attn.k_proj.bias"] = {kv};
    s[p + "self_attn.v_proj.weight"] = {kv, H};
    s[p + "self_attn.v_proj.bias"] = {kv};
    s[p + "self_attn.o_proj.weight"] = {H, q};
    s[p + "post_attention_layernorm.weight"] = {H};
    s[p + "mlp.gate_proj.weight"] = {M, H};
    s[p + "mlp.up_proj.weight"] = {M, H};
    s[p + "mlp.down_proj.weight"] = {H, M};
  }
  if (!tied) s["lm_head.weight"] = {V, H};
  return s;
}

Shapes shapes_in(const Checkpoint& ck) {
  Shapes s;
  for (const std::string& n : ck.names()) s[n] = ck.at(n).shape;
  return s;
}

TEST(TinyModel, DefaultUntied) {
  TempDir tmp;
  TinyModelOptions o;
  o.out_dir = tmp.file("tiny");  // created
  write_tiny_qwen2(o);
  const Checkpoint ck = Checkpoint::open_dir(o.out_dir);
  EXPECT_EQ(shapes_in(ck), expected_shapes(1024, 64, 64, 32, 128, false));
  for (const std::string& n : ck.names()) EXPECT_EQ(ck.at(n).dtype, StDtype::F32) << n;
  EXPECT_EQ(ck.files().front().metadata().at("format"), "pt");
  EXPECT_FALSE(fs::exists(tmp.file("tiny/model.safetensors.index.json")));

  const Qwen2Config c = Qwen2Config::from_json_file(o.out_dir);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.num_hidden_layers, 2);
  EXPECT_EQ(c.num_attention_heads, 4);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.intermediate_size, 128);
  EXPECT_EQ(c.vocab_size, 1024);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1000000.0);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.torch_dtype, "float32");
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{1023});
  const std::optional<GenerationConfig> g = GenerationConfig::from_dir(o.out_dir);
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->eos_token_ids, std::vector<int64_t>{1023});

  // Weights look like an initializer's; norms near 1 but not exactly 1; biases non-zero.
  const torch::Tensor emb = to_tensor(ck.at("model.embed_tokens.weight"));
  EXPECT_NEAR(emb.std().item<double>(), 0.02, 0.002);
  EXPECT_NEAR(emb.mean().item<double>(), 0.0, 0.002);
  const torch::Tensor norm = to_tensor(ck.at("model.layers.0.input_layernorm.weight"));
  EXPECT_NEAR(norm.mean().item<double>(), 1.0, 0.05);
  EXPECT_GT(norm.std().item<double>(), 0.05);
  EXPECT_GT(to_tensor(ck.at("model.layers.1.self_attn.k_proj.bias")).abs().sum().item<double>(), 0.0);
  EXPECT_FALSE(torch::equal(to_tensor(ck.at("lm_head.weight")), emb));
}

TEST(TinyModel, TiedOmitsLmHeadAndOtherSizes) {
  TempDir tmp;
  TinyModelOptions o;
  o.out_dir = tmp.path();
  o.tie_word_embeddings = true;
  o.hidden = 48;
  o.heads = 6;
  o.kv_heads = 6;
  o.intermediate = 80;
  o.vocab = 300;
  write_tiny_qwen2(o);
  const Checkpoint ck = Checkpoint::open_dir(o.out_dir);
  EXPECT_EQ(ck.find("lm_head.weight"), nullptr);
  EXPECT_EQ(shapes_in(ck), expected_shapes(300, 48, 48, 48, 80, true));
  const Qwen2Config c = Qwen2Config::from_json_file(o.out_dir);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(tiny_qwen2_config(o).vocab_size, 300);
}

TEST(TinyModel, DeterministicSeedAndShards) {
  TempDir tmp;
  TinyModelOptions o;
  o.seed = 42;
  o.out_dir = tmp.file("a");
  write_tiny_qwen2(o);
  o.out_dir = tmp.file("b");
  write_tiny_qwen2(o);
  EXPECT_EQ(read_bytes(tmp.file("a/model.safetensors")), read_bytes(tmp.file("b/model.safetensors")));
  o.seed = 43;
  o.out_dir = tmp.file("c");
  write_tiny_qwen2(o);
  EXPECT_NE(read_bytes(tmp.file("a/model.safetensors")), read_bytes(tmp.file("c/model.safetensors")));

  o.seed = 42;
  o.shards = 3;
  o.out_dir = tmp.file("sharded");
  write_tiny_qwen2(o);
  const json index = json::parse(read_bytes(tmp.file("sharded/model.safetensors.index.json")));
  EXPECT_FALSE(fs::exists(tmp.file("sharded/model.safetensors")));
  std::set<std::string> shard_files;
  for (const auto& kv : index["weight_map"].items()) shard_files.insert(kv.value().get<std::string>());
  EXPECT_EQ(shard_files, (std::set<std::string>{"model-00001-of-00003.safetensors",
                                                "model-00002-of-00003.safetensors",
                                                "model-00003-of-00003.safetensors"}));
  const Checkpoint single = Checkpoint::open_dir(tmp.file("a"));
  const Checkpoint sharded = Checkpoint::open_dir(tmp.file("sharded"));
  EXPECT_EQ(sharded.files().size(), 3u);
  ASSERT_EQ(sharded.names(), single.names());
  int64_t total = 0;
  for (const std::string& n : single.names()) {
    EXPECT_TRUE(torch::equal(to_tensor(single.at(n)), to_tensor(sharded.at(n)))) << n;
    total += static_cast<int64_t>(single.at(n).nbytes);
  }
  EXPECT_EQ(index["metadata"]["total_size"], total);

  // Writing the single layout over the sharded one removes the stale shards.
  o.shards = 1;
  write_tiny_qwen2(o);
  EXPECT_FALSE(fs::exists(tmp.file("sharded/model.safetensors.index.json")));
  EXPECT_FALSE(fs::exists(tmp.file("sharded/model-00001-of-00003.safetensors")));
  EXPECT_EQ(read_bytes(tmp.file("a/model.safetensors")), read_bytes(tmp.file("sharded/model.safetensors")));
}

TEST(TinyModel, HalfPrecisionDtypes) {
  TempDir tmp;
  TinyModelOptions o;
  o.out_dir = tmp.path();
  o.dtype = torch::kBFloat16;
  o.seed = 5;
  write_tiny_qwen2(o);
  Checkpoint ck = Checkpoint::open_dir(o.out_dir);
  for (const std::string& n : ck.names()) EXPECT_EQ(ck.at(n).dtype, StDtype::BF16) << n;
  EXPECT_EQ(Qwen2Config::from_json_file(o.out_dir).torch_dtype, "bfloat16");
  const torch::Tensor bf = to_tensor(ck.at("model.norm.weight"), torch::kFloat32);
  o.dtype = torch::kFloat16;
  write_tiny_qwen2(o);
  ck = Checkpoint::open_dir(o.out_dir);
  EXPECT_EQ(ck.at("model.norm.weight").dtype, StDtype::F16);
  EXPECT_EQ(Qwen2Config::from_json_file(o.out_dir).torch_dtype, "float16");
  // Same seed: the same draws, rounded differently.
  EXPECT_TRUE(torch::allclose(bf, to_tensor(ck.at("model.norm.weight"), torch::kFloat32), 1e-2, 1e-2));
}

std::string small_tokenizer_json(bool with_specials) {
  json vocab = json::object();
  for (int i = 0; i < 10; ++i) vocab[std::string(1, static_cast<char>('a' + i))] = i;
  json added = json::array();
  if (with_specials) {
    added.push_back({{"id", 10}, {"content", "<|endoftext|>"}, {"special", true}});
    added.push_back({{"id", 12}, {"content", "<|im_end|>"}, {"special", true}});
  }
  return json{{"version", "1.0"}, {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}}},
              {"added_tokens", added}}
      .dump();
}

TEST(TinyModel, VocabFromTokenizer) {
  TempDir tmp;
  fs::create_directories(tmp.file("tok"));
  write_bytes(tmp.file("tok/tokenizer.json"), small_tokenizer_json(true));
  write_bytes(tmp.file("tok/tokenizer_config.json"), R"({"eos_token": "<|im_end|>"})");
  TinyModelOptions o;
  o.out_dir = tmp.file("m");
  o.vocab_from = tmp.file("tok");  // the folder
  write_tiny_qwen2(o);
  EXPECT_EQ(read_bytes(tmp.file("m/tokenizer.json")), read_bytes(tmp.file("tok/tokenizer.json")));
  EXPECT_EQ(read_bytes(tmp.file("m/tokenizer_config.json")), read_bytes(tmp.file("tok/tokenizer_config.json")));
  const Qwen2Config c = Qwen2Config::from_json_file(o.out_dir);
  EXPECT_EQ(c.vocab_size, 13);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{12});
  EXPECT_EQ(c.bos_token_id, 10);
  const std::optional<GenerationConfig> g = GenerationConfig::from_dir(o.out_dir);
  EXPECT_EQ(g->eos_token_ids, (std::vector<int64_t>{12, 10}));
  EXPECT_EQ(g->pad_token_id, 10);
  EXPECT_EQ(Checkpoint::open_dir(o.out_dir).at("lm_head.weight").shape, (std::vector<int64_t>{13, 64}));

  // The file itself, without specials, and without a tokenizer_config.json beside it.
  write_bytes(tmp.file("plain.json"), small_tokenizer_json(false));
  o.out_dir = tmp.file("m2");
  o.vocab_from = tmp.file("plain.json");
  write_tiny_qwen2(o);
  EXPECT_EQ(Qwen2Config::from_json_file(o.out_dir).vocab_size, 10);
  EXPECT_EQ(GenerationConfig::from_dir(o.out_dir)->eos_token_ids, std::vector<int64_t>{9});
  EXPECT_TRUE(fs::exists(tmp.file("m2/tokenizer.json")));
  EXPECT_FALSE(fs::exists(tmp.file("m2/tokenizer_config.json")));

  // A larger explicit vocabulary is fine; a smaller one is refused.
  o.vocab = 64;
  EXPECT_EQ(tiny_qwen2_config(o).vocab_size, 64);
  o.vocab = 5;
  expect_checkpoint_error([&] { write_tiny_qwen2(o); }, {"vocab 5", "plain.json"});
  o.vocab = 0;
  o.vocab_from = tmp.file("absent/tokenizer.json");
  expect_checkpoint_error([&] { write_tiny_qwen2(o); }, {"absent/tokenizer.json"});
}

// With LR_QWEN_TOKENIZER_JSON naming a real Qwen tokenizer.json (Qwen2.5: 151643
// BPE tokens + 22 added = 151665 ids; Qwen3's adds 4 more), the vocabulary and
// stop ids come from it.
TEST(TinyModel, RealQwenTokenizerIfGiven) {
  const char* env = std::getenv("LR_QWEN_TOKENIZER_JSON");
  if (!env || !*env) GTEST_SKIP() << "LR_QWEN_TOKENIZER_JSON not set";
  if (!fs::exists(env)) GTEST_SKIP() << env << " is absent (the tokenizer tests fetch it)";
  TempDir tmp;
  TinyModelOptions o;
  o.out_dir = tmp.path();
  o.vocab_from = env;
  o.tie_word_embeddings = true;
  write_tiny_qwen2(o);
  const json tok = json::parse(read_bytes(env));
  int64_t ids = 0;
  for (const auto& kv : tok["model"]["vocab"].items()) ids = std::max(ids, kv.value().get<int64_t>() + 1);
  for (const json& t : tok["added_tokens"]) ids = std::max(ids, t["id"].get<int64_t>() + 1);
  EXPECT_GE(ids, 151665);
  const Qwen2Config c = Qwen2Config::from_json_file(o.out_dir);
  EXPECT_EQ(c.vocab_size, ids);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{151645});
  EXPECT_EQ(c.bos_token_id, 151643);
  EXPECT_EQ(GenerationConfig::from_dir(o.out_dir)->eos_token_ids, (std::vector<int64_t>{151645, 151643}));
  EXPECT_EQ(Checkpoint::open_dir(o.out_dir).at("model.embed_tokens.weight").shape,
            (std::vector<int64_t>{ids, 64}));
  EXPECT_EQ(read_bytes(tmp.file("tokenizer.json")), read_bytes(env));
}

TEST(TinyModel, QwenIdsWhenTheVocabularyCoversThem) {
  TinyModelOptions o;
  o.vocab = 151646;
  const Qwen2Config c = tiny_qwen2_config(o);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{151645});
  EXPECT_EQ(c.bos_token_id, 151643);
  o.vocab = 151644;
  EXPECT_EQ(tiny_qwen2_config(o).eos_token_ids, std::vector<int64_t>{151643});
}

TEST(TinyModel, RefusesBadOptions) {
  TempDir tmp;
  TinyModelOptions o;
  o.out_dir = tmp.path();
  o.kv_heads = 3;
  expect_checkpoint_error([&] { write_tiny_qwen2(o); }, {"kv_heads must divide heads"});
  o.kv_heads = 2;
  o.hidden = 66;
  expect_checkpoint_error([&] { write_tiny_qwen2(o); }, {"heads must divide hidden"});
  o.hidden = 64;
  o.dtype = torch::kInt32;
  expect_checkpoint_error([&] { write_tiny_qwen2(o); }, {"dtype"});
  o.dtype = torch::kFloat32;
  o.shards = 1000;
  expect_checkpoint_error([&] { write_tiny_qwen2(o); }, {"1000 shards"});
  o.shards = 1;
  o.out_dir = "";
  expect_checkpoint_error([&] { write_tiny_qwen2(o); }, {"no output folder"});
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

// ------------------------------------------------------------ fixture for the Python reader

json describe(const std::string& path) {
  const SafetensorsFile f = SafetensorsFile::open(path);
  json tensors = json::object();
  for (const TensorView& v : f.tensors()) {
    const torch::Tensor t = to_tensor(v).to(torch::kFloat64).flatten();
    std::vector<double> first;
    for (int64_t i = 0; i < std::min<int64_t>(4, t.numel()); ++i) first.push_back(t[i].item<double>());
    tensors[v.name] = {{"dtype", st_dtype_name(v.dtype)},
                       {"shape", v.shape},
                       {"sum", t.sum().item<double>()},
                       {"abs_sum", t.abs().sum().item<double>()},
                       {"first", first}};
  }
  return {{"metadata", f.metadata()}, {"tensors", tensors}};
}

// Writes files for read_safetensors.py and the C++ view of them (expected.json).
// With LR_CKPT_FIXTURE_DIR set, into that folder (kept); else into a temporary one.
TEST(PythonFixture, Write) {
  std::optional<TempDir> tmp;
  const char* env = std::getenv("LR_CKPT_FIXTURE_DIR");
  std::string dir;
  if (env && *env) {
    dir = env;
    fs::create_directories(dir);
  } else {
    tmp.emplace();
    dir = tmp->path();
  }
  torch::manual_seed(11);
  save_tensors(dir + "/dtypes.safetensors",
               {{"f64", torch::randn({3, 4}, torch::kFloat64)},
                {"f32", torch::randn({2, 3, 5})},
                {"f16", torch::randn({7}).to(torch::kFloat16)},
                {"bf16", torch::randn({3, 3}).to(torch::kBFloat16)},
                {"i64", torch::randint(-100000, 100000, {5}, torch::kInt64)},
                {"i32", torch::randint(-100000, 100000, {2, 2}, torch::kInt32)},
                {"i16", torch::randint(-1000, 1000, {3}, torch::kInt16)},
                {"i8", torch::randint(-100, 100, {5}, torch::kInt8)},
                {"u8", torch::randint(0, 255, {3}, torch::kUInt8)},
                {"bool", torch::randint(0, 2, {9}, torch::kInt64).to(torch::kBool)},
                {"scalar", torch::tensor(2.5f)},
                {"empty", torch::zeros({2, 0})}},
               {{"note", "fixture"}});
  TinyModelOptions o;
  o.out_dir = dir + "/tiny_f32";
  o.seed = 3;
  o.shards = 2;
  write_tiny_qwen2(o);
  o.out_dir = dir + "/tiny_bf16_tied";
  o.shards = 1;
  o.dtype = torch::kBFloat16;
  o.tie_word_embeddings = true;
  write_tiny_qwen2(o);

  json expected = json::object();
  std::vector<std::string> files = {"dtypes.safetensors", "tiny_bf16_tied/model.safetensors",
                                    "tiny_f32/model-00001-of-00002.safetensors",
                                    "tiny_f32/model-00002-of-00002.safetensors"};
  for (const std::string& f : files) expected[f] = describe(dir + "/" + f);
  write_bytes(dir + "/expected.json", expected.dump(1));
  EXPECT_EQ(expected.size(), 4u);
}

}  // namespace
}  // namespace lr::driver
