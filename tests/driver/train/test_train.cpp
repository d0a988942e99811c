// Stage 2 (train) on tiny random checkpoints: LoRA, the PEFT export, merged
// weights and the merged checkpoint export, the per-prefix and packed
// objectives, max_seq_len's cut from the left, and the trainer (the loss
// falls; linear and constant schedules; resume equals an uninterrupted run).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "checkpoint/safetensors.h"
#include "checkpoint/tiny_model.h"
#include "checkpoint/torch_bridge.h"
#include "config/defaults.h"
#include "model/qwen2_model.h"
#include "train/length_limit.h"
#include "train/lora.h"
#include "train/merged_export.h"
#include "train/objective.h"
#include "train/peft_export.h"
#include "train/trainer.h"

namespace fs = std::filesystem;
using namespace lr::driver;

namespace {

fs::path scratch() {
  const char* env = std::getenv("LR_TRAIN_TEST_SCRATCH");
  return env ? fs::path(env) : fs::path(LR_TRAIN_TEST_SCRATCH);
}

// A folder of this test's own (tests run as parallel processes).
fs::path test_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = scratch() / (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// hidden 64, 4 heads, 2 kv heads (head_dim 16): q_proj [64, 64], v_proj [32, 64].
std::string tiny_checkpoint(const fs::path& dir, bool tied = false, double init_std = 0.02) {
  TinyModelOptions o;
  o.out_dir = (dir / "model").string();
  o.init_std = init_std;
  o.vocab = 256;
  o.seed = 7;
  o.tie_word_embeddings = tied;
  write_tiny_qwen2(o);
  return o.out_dir;
}

// All-position logits [1, T, V] in evaluation mode.
torch::Tensor all_logits(const Qwen2Model& model, const std::vector<int64_t>& ids) {
  torch::NoGradGuard no_grad;
  auto t = torch::tensor(ids, torch::kLong).reshape({1, -1});
  auto pos = torch::arange(static_cast<int64_t>(ids.size()), torch::kLong).reshape({1, -1});
  return model.logits_at(t, torch::Tensor(), pos);
}

const std::vector<int64_t> kIds = {3, 17, 42, 99, 5, 200, 31, 8, 77, 150};

void randomise_b(const Qwen2Model& model, uint64_t seed) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  for (const auto& entry : lora_adapters(model)) entry.second->B.normal_(0.0, 0.05);
}

SupervisionSample random_sample(std::mt19937_64& rng, int64_t vocab) {
  SupervisionSample s;
  const int len = 2 + static_cast<int>(rng() % 10);
  for (int i = 0; i < len; ++i) s.prefix_ids.push_back(static_cast<int64_t>(rng() % vocab));
  const int k = 1 + static_cast<int>(rng() % 3);
  float total = 0;
  for (int i = 0; i < k; ++i) {
    int32_t id;
    do id = static_cast<int32_t>(rng() % vocab);  // distinct ids (the loss refuses repeats)
    while (std::find(s.target_ids.begin(), s.target_ids.end(), id) != s.target_ids.end());
    s.target_ids.push_back(id);
    s.target_weights.push_back(1.0f + static_cast<float>(rng() % 4));
    total += s.target_weights.back();
  }
  for (auto& w : s.target_weights) w /= total;
  return s;
}

std::vector<SupervisionSample> random_samples(int n, uint64_t seed, int64_t vocab = 256) {
  std::mt19937_64 rng(seed);
  std::vector<SupervisionSample> out;
  for (int i = 0; i < n; ++i) out.push_back(random_sample(rng, vocab));
  return out;
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

}  // namespace

// ------------------------------------------------------------------ LoRA

TEST(Lora, FreshAdapterLeavesLogitsUnchanged) {
  auto model = Qwen2Model::load(tiny_checkpoint(test_dir()));
  const auto before = all_logits(model, kIds);
  LoraConfig cfg;
  cfg.target_modules = lora_supported_modules();
  const auto params = attach_lora(model, cfg);
  EXPECT_EQ(params.size(), 2u * 7u * model.layers().size());
  set_lora_training(model, false);
  EXPECT_TRUE(torch::equal(before, all_logits(model, kIds)));
}

TEST(Lora, InitialisationLikePeft) {
  auto model = Qwen2Model::load(tiny_checkpoint(test_dir()));
  LoraConfig cfg;
  cfg.seed = 3;
  attach_lora(model, cfg);
  const auto adapters = lora_adapters(model);
  ASSERT_EQ(adapters.size(), 2u * model.layers().size());
  EXPECT_EQ(adapters[0].first, "model.layers.0.self_attn.q_proj");
  EXPECT_EQ(adapters[1].first, "model.layers.0.self_attn.v_proj");
  const auto& q = *adapters[0].second;
  EXPECT_EQ(q.A.sizes().vec(), (std::vector<int64_t>{8, 64}));
  EXPECT_EQ(q.B.sizes().vec(), (std::vector<int64_t>{64, 8}));
  EXPECT_EQ(adapters[1].second->B.sizes().vec(), (std::vector<int64_t>{32, 8}));
  EXPECT_DOUBLE_EQ(q.scaling, 2.0);
  EXPECT_TRUE(q.A.requires_grad());
  EXPECT_TRUE(q.B.requires_grad());
  EXPECT_EQ(q.B.abs().max().item<float>(), 0.0f);
  EXPECT_LE(q.A.abs().max().item<float>(), 1.0f / 8.0f);  // 1 / sqrt(64)
  EXPECT_GT(q.A.abs().max().item<float>(), 0.1f);
  // The same seed gives the same A.
  auto model2 = Qwen2Model::load(tiny_checkpoint(scratch() / "Lora.InitialisationLikePeft"));
  attach_lora(model2, cfg);
  EXPECT_TRUE(torch::equal(lora_adapters(model2)[0].second->A, q.A));
}

TEST(Lora, RefusesUnknownRepeatedAndDoubleAttach) {
  auto model = Qwen2Model::load(tiny_checkpoint(test_dir()));
  LoraConfig bad;
  bad.target_modules = {"q_proj", "lm_head"};
  EXPECT_THROW(attach_lora(model, bad), std::invalid_argument);
  bad.target_modules = {"q_proj", "q_proj"};
  EXPECT_THROW(attach_lora(model, bad), std::invalid_argument);
  bad.target_modules = {"q_proj"};
  bad.r = 0;
  EXPECT_THROW(attach_lora(model, bad), std::invalid_argument);
  EXPECT_TRUE(lora_adapters(model).empty());
  attach_lora(model, LoraConfig{});
  EXPECT_THROW(attach_lora(model, LoraConfig{}), std::invalid_argument);
}

TEST(Lora, OnlyAdapterWeightsGetGradients) {
  auto model = Qwen2Model::load(tiny_checkpoint(test_dir()));
  LoraConfig cfg;
  cfg.dropout = 0;
  const auto params = attach_lora(model, cfg);
  randomise_b(model, 1);
  auto loss = per_prefix_loss(model, random_samples(4, 11));
  loss.backward();
  for (const auto& p : params) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_GT(p.grad().abs().max().item<float>(), 0.0f);
  }
  auto check_frozen = [](const torch::Tensor& t) {
    if (!t.defined()) return;
    EXPECT_FALSE(t.requires_grad());
    EXPECT_FALSE(t.grad().defined());
  };
  check_frozen(model.embed_tokens());
  check_frozen(model.lm_head_weight());
  check_frozen(model.final_norm());
  for (auto& layer : model.layers()) {
    check_frozen(layer.input_layernorm);
    for (const auto& m : lora_supported_modules()) {
      check_frozen(linear_of(layer, m).weight);
      check_frozen(linear_of(layer, m).bias);
    }
  }
}

TEST(Lora, Bfloat16ModelTrainsFloat32Adapters) {
  auto model = Qwen2Model::load(tiny_checkpoint(test_dir()), torch::kCPU, torch::kBFloat16);
  const auto params = attach_lora(model, LoraConfig{});
  randomise_b(model, 6);
  auto loss = per_prefix_loss(model, random_samples(4, 61));
  EXPECT_EQ(loss.scalar_type(), torch::kFloat);
  EXPECT_TRUE(std::isfinite(loss.item<double>()));
  loss.backward();
  for (const auto& p : params) {
    EXPECT_EQ(p.scalar_type(), torch::kFloat);
    ASSERT_TRUE(p.grad().defined());
    EXPECT_EQ(p.grad().scalar_type(), torch::kFloat);
    EXPECT_TRUE(std::isfinite(p.grad().abs().max().item<double>()));
  }
}

// ------------------------------------------------------------------ PEFT export

TEST(Peft, ConfigFieldsAndSafetensorsKeys) {
  const auto dir = test_dir();
  auto model = Qwen2Model::load(tiny_checkpoint(dir));
  LoraConfig cfg;  // r 8, alpha 16, dropout 0.05, q_proj + v_proj
  attach_lora(model, cfg);
  save_peft_adapter((dir / "adapter").string(), model, cfg, "Qwen/Qwen2.5-Math-1.5B");

  std::ifstream in(dir / "adapter" / "adapter_config.json");
  std::stringstream text;
  text << in.rdbuf();
  const auto j = nlohmann::json::parse(text.str());
  EXPECT_EQ(j.at("peft_type"), "LORA");
  EXPECT_EQ(j.at("task_type"), "CAUSAL_LM");
  EXPECT_EQ(j.at("r"), 8);
  EXPECT_TRUE(j.at("lora_alpha").is_number_integer());
  EXPECT_EQ(j.at("lora_alpha"), 16);
  EXPECT_DOUBLE_EQ(j.at("lora_dropout").get<double>(), 0.05);
  EXPECT_EQ(j.at("target_modules"), nlohmann::json({"q_proj", "v_proj"}));
  EXPECT_EQ(j.at("bias"), "none");
  EXPECT_EQ(j.at("fan_in_fan_out"), false);
  EXPECT_EQ(j.at("base_model_name_or_path"), "Qwen/Qwen2.5-Math-1.5B");
  EXPECT_EQ(j.at("inference_mode"), true);
  EXPECT_EQ(j.at("init_lora_weights"), true);
  EXPECT_TRUE(j.at("modules_to_save").is_null());
  EXPECT_EQ(j.at("use_rslora"), false);
  EXPECT_EQ(j.at("use_dora"), false);

  const auto file = SafetensorsFile::open((dir / "adapter" / "adapter_model.safetensors").string());
  std::set<std::string> names;
  for (const auto& t : file.tensors()) {
    names.insert(t.name);
    EXPECT_EQ(t.dtype, StDtype::F32) << t.name;
  }
  std::set<std::string> want;
  for (int i = 0; i < 2; ++i)
    for (const char* m : {"q_proj", "v_proj"})
      for (const char* ab : {"lora_A", "lora_B"})
        want.insert("base_model.model.model.layers." + std::to_string(i) + ".self_attn." + m + "." + ab + ".weight");
  EXPECT_EQ(names, want);
  EXPECT_EQ(file.find("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight")->shape,
            (std::vector<int64_t>{8, 64}));
  EXPECT_EQ(file.find("base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight")->shape,
            (std::vector<int64_t>{64, 8}));
  EXPECT_EQ(file.find("base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight")->shape,
            (std::vector<int64_t>{8, 64}));
  EXPECT_EQ(file.find("base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight")->shape,
            (std::vector<int64_t>{32, 8}));
  EXPECT_EQ(file.metadata().at("format"), "pt");
}

TEST(Peft, SaveLoadRoundTripGivesIdenticalLogits) {
  const auto dir = test_dir();
  const auto ckpt = tiny_checkpoint(dir);
  auto model = Qwen2Model::load(ckpt);
  LoraConfig cfg;
  cfg.target_modules = {"q_proj", "v_proj", "down_proj"};
  cfg.alpha = 12;
  attach_lora(model, cfg);
  randomise_b(model, 2);
  set_lora_training(model, false);
  const auto want = all_logits(model, kIds);
  save_peft_adapter((dir / "adapter").string(), model, cfg, ckpt);

  auto fresh = Qwen2Model::load(ckpt);
  const auto read = load_peft_adapter((dir / "adapter").string(), fresh);
  EXPECT_EQ(read.r, 8);
  EXPECT_DOUBLE_EQ(read.alpha, 12);
  EXPECT_EQ(read.target_modules, cfg.target_modules);
  set_lora_training(fresh, false);
  EXPECT_TRUE(torch::equal(want, all_logits(fresh, kIds)));

  // Adapters of another shape are refused.
  auto other = Qwen2Model::load(ckpt);
  attach_lora(other, LoraConfig{});
  EXPECT_THROW(load_peft_adapter((dir / "adapter").string(), other), CheckpointError);
}

TEST(Peft, MergedWeightsEqualTheAdapterForward) {
  const auto dir = test_dir();
  auto model = Qwen2Model::load(tiny_checkpoint(dir, /*tied=*/true));
  LoraConfig cfg;
  cfg.target_modules = lora_supported_modules();
  attach_lora(model, cfg);
  randomise_b(model, 3);
  set_lora_training(model, false);
  const auto want = all_logits(model, kIds);
  const auto base = all_logits(Qwen2Model::load((dir / "model").string()), kIds);
  EXPECT_GT(max_abs_diff(want, base), 1e-3);  // the adapter does something

  save_merged_model((dir / "merged").string(), model);
  EXPECT_LT(max_abs_diff(want, all_logits(Qwen2Model::load((dir / "merged").string()), kIds)), 1e-5);

  merge_lora(model);
  EXPECT_TRUE(lora_adapters(model).empty());
  EXPECT_LT(max_abs_diff(want, all_logits(model, kIds)), 1e-5);
}

// ------------------------------------------------------------------ objective

TEST(Objective, ReadsEachSamplesRealLastPosition) {
  auto model = Qwen2Model::load(tiny_checkpoint(test_dir()));
  attach_lora(model, LoraConfig{});
  set_lora_training(model, false);
  randomise_b(model, 4);
  const auto samples = random_samples(5, 21);
  torch::NoGradGuard no_grad;
  const double batched = per_prefix_loss(model, samples).item<double>();
  double mean = 0;
  for (const auto& s : samples) mean += per_prefix_loss(model, {s}).item<double>() / 5.0;
  EXPECT_NEAR(batched, mean, 1e-5);
  EXPECT_THROW(per_prefix_loss(model, {}), std::invalid_argument);
}

TEST(Objective, PackedEqualsPerPrefixLossAndGradients) {
  auto model = Qwen2Model::load(tiny_checkpoint(test_dir()));
  LoraConfig cfg;
  cfg.target_modules = {"q_proj", "k_proj", "v_proj", "o_proj"};
  const auto params = attach_lora(model, cfg);
  set_lora_training(model, false);
  randomise_b(model, 5);

  std::mt19937_64 rng(31);
  PackedRollout rollout;
  for (int i = 0; i < 24; ++i) rollout.ids.push_back(static_cast<int64_t>(rng() % 256));
  for (int64_t t : {4, 7, 8, 15, 22}) {
    rollout.positions.push_back(t);
    auto s = random_sample(rng, 256);
    rollout.target_ids.push_back(s.target_ids);
    rollout.target_weights.push_back(s.target_weights);
  }

  auto packed = packed_loss(model, rollout);
  packed.backward();
  std::vector<torch::Tensor> packed_grads;
  for (const auto& p : params) {
    packed_grads.push_back(p.grad().clone());
    p.grad().zero_();
  }
  auto prefix = per_prefix_loss(model, unpack(rollout));
  prefix.backward();
  EXPECT_NEAR(packed.item<double>(), prefix.item<double>(), 1e-5);
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_GT(packed_grads[i].abs().max().item<double>(), 0.0);
    EXPECT_LT(max_abs_diff(packed_grads[i], params[i].grad()), 1e-5) << "parameter " << i;
  }
}

PackedRollout random_rollout(std::mt19937_64& rng, int len, std::vector<int64_t> positions) {
  PackedRollout r;
  for (int i = 0; i < len; ++i) r.ids.push_back(static_cast<int64_t>(rng() % 256));
  for (int64_t t : positions) {
    r.positions.push_back(t);
    auto s = random_sample(rng, 256);
    r.target_ids.push_back(s.target_ids);
    r.target_weights.push_back(s.target_weights);
  }
  return r;
}

TEST(Objective, PackedBatchEqualsPerPrefixLossAndGradients) {
  auto model = Qwen2Model::load(tiny_checkpoint(test_dir()));
  const auto params = attach_lora(model, LoraConfig{});
  set_lora_training(model, false);
  randomise_b(model, 7);
  std::mt19937_64 rng(71);
  const std::vector<PackedRollout> rollouts = {random_rollout(rng, 9, {2, 8}), random_rollout(rng, 20, {0, 5, 11, 19}),
                                               random_rollout(rng, 14, {13})};
  auto packed = packed_loss(model, rollouts);
  packed.backward();
  std::vector<torch::Tensor> packed_grads;
  for (const auto& p : params) {
    packed_grads.push_back(p.grad().clone());
    p.grad().zero_();
  }
  std::vector<SupervisionSample> all;
  for (const auto& r : rollouts)
    for (auto& s : unpack(r)) all.push_back(s);
  ASSERT_EQ(all.size(), 7u);
  auto prefix = per_prefix_loss(model, all);
  prefix.backward();
  EXPECT_NEAR(packed.item<double>(), prefix.item<double>(), 1e-5);
  for (size_t i = 0; i < params.size(); ++i)
    EXPECT_LT(max_abs_diff(packed_grads[i], params[i].grad()), 1e-5) << "parameter " << i;
}

// ------------------------------------------------------------------ trainer

TEST(Trainer, LinearScheduleWithWarmup) {
  auto model = Qwen2Model::load(tiny_checkpoint(test_dir()));
  TrainOptions o;
  o.learning_rate = 1.0;
  o.warmup_updates = 2;
  o.total_updates = 10;
  Trainer trainer(model, attach_lora(model, LoraConfig{}), o);
  EXPECT_DOUBLE_EQ(trainer.learning_rate_at(0), 0.0);
  EXPECT_DOUBLE_EQ(trainer.learning_rate_at(1), 0.5);
  EXPECT_DOUBLE_EQ(trainer.learning_rate_at(2), 1.0);
  EXPECT_DOUBLE_EQ(trainer.learning_rate_at(6), 0.5);
  EXPECT_DOUBLE_EQ(trainer.learning_rate_at(10), 0.0);
  // Every epoch is a permutation.
  std::multiset<int64_t> seen;
  for (int64_t m = 0; m < 3; ++m)
    for (int64_t i : trainer.micro_batch_indices(m, 12)) seen.insert(i);
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(seen.count(i), 2u);
}

TEST(Trainer, LossFallsOnASmallSupervisionSet) {
  // init_std 0.2: with the default 0.02 the tiny lm_head bounds the logits'
  // range (|logit| <~ 1.3), so no adapter could fit the targets; at 0.2 the
  // q_proj/v_proj LoRA takes the loss to about 0.18 x its initial value.
  auto model = Qwen2Model::load(tiny_checkpoint(test_dir(), false, 0.2));
  const auto params = attach_lora(model, LoraConfig{});
  const auto samples = random_samples(8, 41);
  TrainOptions o;
  o.learning_rate = 1e-2;
  o.batch_size = 8;
  o.grad_accum = 1;
  o.total_updates = 30;
  Trainer trainer(model, params, o);
  set_lora_training(model, false);
  double initial;
  {
    torch::NoGradGuard no_grad;
    initial = per_prefix_loss(model, samples).item<double>();
  }
  int64_t calls = 0;
  trainer.train(samples, 0, [&](int64_t done, int64_t total, double loss) {
    ++calls;
    EXPECT_EQ(done, calls);
    EXPECT_EQ(total, 30);
    EXPECT_TRUE(std::isfinite(loss));
  });
  EXPECT_EQ(calls, 30);
  EXPECT_EQ(trainer.updates_done(), 30);
  set_lora_training(model, false);
  torch::NoGradGuard no_grad;
  const double final_loss = per_prefix_loss(model, samples).item<double>();
  std::printf("loss: initial %.4f, after 30 updates %.4f (ratio %.3f)\n", initial, final_loss, final_loss / initial);
  EXPECT_LT(final_loss, 0.5 * initial) << "initial " << initial << " final " << final_loss;
}

// Trains o.total_updates straight through, then again in two calls: the first
// `stop_at` updates checkpointed (checkpoint_every = stop_at), the rest by a
// fresh trainer that loads the checkpoint under another global RNG state and
// another LoRA init seed (the checkpoint must restore both).
struct ResumeRun {
  std::vector<torch::Tensor> straight, resumed;  // the two models' LoRA parameters
  bool checkpoint_written = false;
  int64_t updates_after_load = 0, updates_at_end = 0;
};

ResumeRun train_straight_and_resumed(const std::filesystem::path& dir, const std::string& ckpt,
                                     const std::vector<SupervisionSample>& samples, const TrainOptions& o,
                                     const LoraConfig& cfg, int64_t stop_at, uint64_t seed) {
  ResumeRun r;
  torch::manual_seed(seed);
  auto straight_model = Qwen2Model::load(ckpt);
  Trainer straight(straight_model, attach_lora(straight_model, cfg), o);
  straight.train(samples);
  r.straight = lora_parameters(straight_model);

  torch::manual_seed(seed);
  {
    auto model = Qwen2Model::load(ckpt);
    auto run = o;
    run.checkpoint_every = stop_at;
    run.checkpoint_dir = (dir / "ckpt").string();
    Trainer first(model, attach_lora(model, cfg), run);
    first.train(samples, stop_at);
    r.checkpoint_written = Trainer::has_checkpoint(run.checkpoint_dir);
  }
  torch::manual_seed(seed + 7919);  // a different global RNG state: the checkpoint restores it
  auto model = Qwen2Model::load(ckpt);
  LoraConfig other = cfg;
  other.seed = cfg.seed + 68;  // the checkpoint overwrites the initial weights
  Trainer second(model, attach_lora(model, other), o);
  second.load_checkpoint((dir / "ckpt").string());
  r.updates_after_load = second.updates_done();
  second.train(samples);
  r.updates_at_end = second.updates_done();
  r.resumed = lora_parameters(model);
  return r;
}

TEST(Trainer, ResumeEqualsUninterrupted) {
  const auto dir = test_dir();
  const auto ckpt = tiny_checkpoint(dir);
  const auto samples = random_samples(10, 51);
  TrainOptions o;
  o.learning_rate = 5e-3;
  o.weight_decay = 0.01;
  o.warmup_updates = 2;
  o.batch_size = 3;
  o.grad_accum = 2;
  o.total_updates = 6;
  o.max_grad_norm = 0.5;
  LoraConfig cfg;
  cfg.seed = 9;  // dropout 0.05 stays on: the RNG state must be restored too

  const ResumeRun r = train_straight_and_resumed(dir, ckpt, samples, o, cfg, 3, 1234);
  EXPECT_TRUE(r.checkpoint_written);
  EXPECT_EQ(r.updates_after_load, 3);
  EXPECT_EQ(r.updates_at_end, 6);

  const auto& a = r.straight;
  const auto& b = r.resumed;
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_LT(max_abs_diff(a[i], b[i]), 1e-6) << "parameter " << i;
  EXPECT_GT(max_abs_diff(a[1], torch::zeros_like(a[1])), 0.0);  // B moved

  // A trainer with other parameters refuses the checkpoint.
  auto small = Qwen2Model::load(ckpt);
  LoraConfig q_only = cfg;
  q_only.target_modules = {"q_proj"};
  Trainer mismatched(small, attach_lora(small, q_only), o);
  EXPECT_THROW(mismatched.load_checkpoint((dir / "ckpt").string()), std::runtime_error);
}

TEST(Trainer, PackedModeTrainsLikePerPrefix) {
  const auto ckpt = tiny_checkpoint(test_dir());
  std::mt19937_64 rng(81);
  const auto rollout = random_rollout(rng, 16, {3, 6, 9, 15});
  LoraConfig cfg;
  cfg.dropout = 0;
  TrainOptions o;
  o.learning_rate = 1e-3;
  o.grad_accum = 1;
  o.total_updates = 3;

  auto packed_model = Qwen2Model::load(ckpt);
  o.batch_size = 1;  // one rollout per micro-batch
  Trainer packed(packed_model, attach_lora(packed_model, cfg), o);
  const auto packed_losses = packed.train_packed({rollout});

  auto prefix_model = Qwen2Model::load(ckpt);
  o.batch_size = 4;  // its four samples per micro-batch
  Trainer prefix(prefix_model, attach_lora(prefix_model, cfg), o);
  const auto prefix_losses = prefix.train(unpack(rollout));

  ASSERT_EQ(packed_losses.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(packed_losses[i], prefix_losses[i], 1e-5);
  const auto a = lora_parameters(packed_model), b = lora_parameters(prefix_model);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_LT(max_abs_diff(a[i], b[i]), 1e-5) << "parameter " << i;
}

TEST(Trainer, StopFlagCheckpointsAndReturns) {
  const auto dir = test_dir();
  auto model = Qwen2Model::load(tiny_checkpoint(dir));
  std::atomic<bool> stop{false};
  TrainOptions o;
  o.batch_size = 2;
  o.grad_accum = 1;
  o.total_updates = 10;
  o.checkpoint_dir = (dir / "ckpt").string();
  o.stop = &stop;
  Trainer trainer(model, attach_lora(model, LoraConfig{}), o);
  const auto losses = trainer.train(random_samples(4, 91), 0, [&](int64_t done, int64_t, double) {
    if (done == 2) stop = true;
  });
  EXPECT_EQ(losses.size(), 2u);
  EXPECT_EQ(trainer.updates_done(), 2);
  ASSERT_TRUE(Trainer::has_checkpoint(o.checkpoint_dir));
  auto again = Qwen2Model::load((dir / "model").string());
  Trainer resumed(again, attach_lora(again, LoraConfig{}), o);
  resumed.load_checkpoint(o.checkpoint_dir);
  EXPECT_EQ(resumed.updates_done(), 2);
}

namespace {

// PATH rewritten with `edit` applied to its tensors and metadata (the bytes
// copied, so the edit may drop, add or reshape tensors).
using TensorEdit = std::function<void(std::vector<TensorToWrite>&, std::map<std::string, std::string>&)>;
void rewrite_checkpoint(const std::string& path, const TensorEdit& edit) {
  std::vector<TensorToWrite> tensors;
  std::map<std::string, std::string> metadata;
  std::vector<std::vector<char>> bytes;
  {
    const auto file = SafetensorsFile::open(path);
    metadata = file.metadata();
    bytes.reserve(file.tensors().size() + 1);
    for (const auto& t : file.tensors()) {
      bytes.emplace_back(static_cast<const char*>(t.data), static_cast<const char*>(t.data) + t.nbytes);
      tensors.push_back({t.name, t.dtype, t.shape, bytes.back().data(), t.nbytes});
    }
  }
  edit(tensors, metadata);
  write_safetensors(path, tensors, metadata);
}

TensorToWrite* named(std::vector<TensorToWrite>& ts, const std::string& name) {
  for (auto& t : ts)
    if (t.name == name) return &t;
  ADD_FAILURE() << "no tensor " << name;
  return nullptr;
}

}  // namespace

// A damaged or foreign checkpoint (training_state_file.h) is one error naming
// the file and what does not fit, and the trainer is left as it was.
TEST(Trainer, DamagedCheckpointsAreRefusedBeforeAnythingChanges) {
  const auto dir = test_dir();
  const auto ckpt = tiny_checkpoint(dir);
  TrainOptions o;
  o.batch_size = 2;
  o.grad_accum = 1;
  o.total_updates = 2;
  o.checkpoint_every = 2;
  o.checkpoint_dir = (dir / "good").string();
  {
    auto model = Qwen2Model::load(ckpt);
    Trainer trainer(model, attach_lora(model, LoraConfig{}), o);
    trainer.train(random_samples(4, 17));
  }
  const auto good = fs::path(o.checkpoint_dir) / "checkpoint.safetensors";
  ASSERT_TRUE(fs::exists(good));
  static const int64_t minus_one = -1;
  static const uint8_t ten_bytes[10] = {};
  const std::vector<std::pair<std::string, TensorEdit>> cases = {
      {"not a LightReasoner training state", [](auto&, auto& m) { m.erase("format"); }},
      {"training state version \"2\"", [](auto&, auto& m) { m["version"] = "2"; }},
      {"tensor param.0 is F32 [", [](auto& t, auto&) { named(t, "param.0")->shape = {named(t, "param.0")->shape[0] * named(t, "param.0")->shape[1]}; }},
      {"no tensor adam.exp_avg.1", [](auto& t, auto&) { t.erase(t.begin() + (named(t, "adam.exp_avg.1") - t.data())); }},
      {"unexpected tensor extra", [](auto& t, auto&) { t.push_back({"extra", StDtype::I64, {}, &minus_one, 8}); }},
      {"updates_done holds a negative count", [](auto& t, auto&) { named(t, "updates_done")->data = &minus_one; }},
      {"tensor adam.steps is I32", [](auto& t, auto&) { auto* s = named(t, "adam.steps"); s->dtype = StDtype::I32; s->shape[0] *= 2; }},
      {"tensor rng.0 holds 10 bytes", [](auto& t, auto&) { auto* r = named(t, "rng.0"); r->data = ten_bytes; r->nbytes = 10; r->shape = {10}; }},
  };
  auto model = Qwen2Model::load(ckpt);
  const auto params = attach_lora(model, LoraConfig{});
  Trainer fresh(model, params, o);
  std::vector<torch::Tensor> before;
  for (const auto& p : params) before.push_back(p.detach().clone());
  const auto cpu_rng = at::detail::getDefaultCPUGenerator().get_state();
  auto expect_refused = [&](const std::string& what, const std::string& folder) {
    try {
      fresh.load_checkpoint(folder);
      ADD_FAILURE() << what << ": accepted";
    } catch (const CheckpointError& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind((fs::path(folder) / "checkpoint.safetensors").string() + ": ", 0), 0u) << msg;
      EXPECT_NE(msg.find(what), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
    EXPECT_EQ(fresh.updates_done(), 0) << what;
    for (size_t i = 0; i < params.size(); ++i) EXPECT_TRUE(torch::equal(params[i], before[i])) << what << " " << i;
    EXPECT_TRUE(torch::equal(at::detail::getDefaultCPUGenerator().get_state(), cpu_rng)) << what;
  };
  for (size_t k = 0; k < cases.size(); ++k) {
    const auto folder = dir / ("case" + std::to_string(k));
    fs::create_directories(folder);
    fs::copy_file(good, folder / "checkpoint.safetensors");
    rewrite_checkpoint((folder / "checkpoint.safetensors").string(), cases[k].second);
    expect_refused(cases[k].first, folder.string());
  }
  // Cut short (a copy interrupted), and a LibTorch archive under the name.
  const auto cut = dir / "cut";
  fs::create_directories(cut);
  fs::copy_file(good, cut / "checkpoint.safetensors");
  fs::resize_file(cut / "checkpoint.safetensors", fs::file_size(good) / 2);
  expect_refused("", cut.string());
  const auto archive = dir / "archive";
  fs::create_directories(archive);
  torch::save(torch::ones({3}), (archive / "checkpoint.safetensors").string());
  expect_refused("", archive.string());
  // And the good one still loads.
  fresh.load_checkpoint(o.checkpoint_dir);
  EXPECT_EQ(fresh.updates_done(), 2);
}

// ------------------------------------------------------------------ merged checkpoint (train.export_merged)

namespace {

// The merged checkpoint of a base with every module adapted (B random): its
// tensors have the base's names, shapes and dtypes, its other files are the
// base's, and its logits equal the base + LoRA model's within tol.
void expect_merged_checkpoint_equals_adapter(torch::ScalarType dtype, double tol) {
  const auto dir = test_dir();
  TinyModelOptions o;
  o.out_dir = (dir / "model").string();
  o.vocab = 256;
  o.seed = 7;
  o.dtype = dtype;
  write_tiny_qwen2(o);
  const std::string tokenizer_text = "{\"model\": \"a stand-in tokenizer file, copied byte for byte\"}\n";
  std::ofstream(dir / "model" / "tokenizer.json", std::ios::binary) << tokenizer_text;

  auto model = Qwen2Model::load(o.out_dir, torch::kCPU, dtype);
  LoraConfig cfg;
  cfg.target_modules = lora_supported_modules();
  attach_lora(model, cfg);
  randomise_b(model, 13);
  set_lora_training(model, false);
  const std::vector<int64_t> ids = {9, 201, 4, 66, 130, 18, 255, 0, 77, 31, 12, 90};
  const auto want = all_logits(model, ids);
  EXPECT_GT(max_abs_diff(want, all_logits(Qwen2Model::load(o.out_dir, torch::kCPU, dtype), ids)), 1e-3);

  const std::string merged = (dir / "merged").string();
  export_merged_checkpoint(merged, model, o.out_dir);
  const auto base = Checkpoint::open_dir(o.out_dir), out = Checkpoint::open_dir(merged);
  ASSERT_EQ(out.names(), base.names());
  for (const auto& name : base.names()) {
    EXPECT_EQ(out.at(name).shape, base.at(name).shape) << name;
    EXPECT_EQ(out.at(name).dtype, base.at(name).dtype) << name;
  }
  // Adapted weights changed, the rest copied exactly.
  EXPECT_FALSE(torch::equal(to_tensor(out.at("model.layers.0.mlp.down_proj.weight")),
                            to_tensor(base.at("model.layers.0.mlp.down_proj.weight"))));
  EXPECT_TRUE(torch::equal(to_tensor(out.at("model.embed_tokens.weight")),
                           to_tensor(base.at("model.embed_tokens.weight"))));
  for (const char* file : {"config.json", "generation_config.json", "tokenizer.json"}) {
    std::ifstream a(dir / "model" / file, std::ios::binary), b(fs::path(merged) / file, std::ios::binary);
    std::stringstream sa, sb;
    sa << a.rdbuf();
    sb << b.rdbuf();
    EXPECT_FALSE(sa.str().empty()) << file;
    EXPECT_EQ(sa.str(), sb.str()) << file;
  }
  const auto got = all_logits(Qwen2Model::load(merged, torch::kCPU, dtype), ids);
  std::printf("merged vs base + LoRA (%s): max |logit difference| %.3g (tolerance %.3g)\n",
              c10::toString(dtype), max_abs_diff(want, got), tol);
  EXPECT_LT(max_abs_diff(want, got), tol);
}

}  // namespace

// float32: the merge is the adapter's forward up to float32 rounding.
TEST(MergedExport, Float32CheckpointHasTheBaseLayoutAndTheAdaptersLogits) {
  expect_merged_checkpoint_equals_adapter(torch::kFloat32, 1e-5);
}

// bfloat16: W + delta is rounded to bfloat16 once, the adapter's forward adds
// bfloat16 products; the logits (|logit| < ~1.5 here) agree to a few bfloat16 ulps.
TEST(MergedExport, Bfloat16CheckpointKeepsTheBaseDtype) {
  expect_merged_checkpoint_equals_adapter(torch::kBFloat16, 3e-2);
}

TEST(MergedExport, RefusesAModelWithoutAdapters) {
  const auto dir = test_dir();
  const auto ckpt = tiny_checkpoint(dir);
  auto model = Qwen2Model::load(ckpt);
  EXPECT_THROW(export_merged_checkpoint((dir / "merged").string(), model, ckpt), std::invalid_argument);
}

// ------------------------------------------------------------------ max_seq_len (cut from the left)

TEST(LengthLimit, CutKeepsTheLastTokensAndTheTargets) {
  SupervisionSample s;
  s.prefix_ids = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  s.target_ids = {11, 12};
  s.target_weights = {0.25f, 0.75f};
  const auto cut = cut_from_left(s, 4);
  EXPECT_EQ(cut.prefix_ids, (std::vector<int64_t>{7, 8, 9, 10}));  // the supervised last token kept
  EXPECT_EQ(cut.target_ids, s.target_ids);
  EXPECT_EQ(cut.target_weights, s.target_weights);
  EXPECT_EQ(cut_from_left(s, 10).prefix_ids, s.prefix_ids);
  EXPECT_EQ(cut_from_left(s, 0).prefix_ids, s.prefix_ids);  // no limit
  SupervisionSample short_one = s;
  short_one.prefix_ids = {1, 2, 3};
  EXPECT_EQ(count_cut(std::vector<SupervisionSample>{s, short_one, s}, 4), 2);
  EXPECT_EQ(count_cut(std::vector<SupervisionSample>{s, short_one}, 0), 0);

  PackedRollout r;
  r.ids = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  r.positions = {1, 3, 6, 9};
  r.target_ids = {{1}, {2}, {3}, {4}};
  r.target_weights = {{1}, {1}, {1}, {1}};
  EXPECT_EQ(count_cut(std::vector<PackedRollout>{r}, 4), 2);  // positions 6 and 9: prefixes of 7 and 10 ids
  const auto parts = cut_from_left(r, 4);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].ids, (std::vector<int64_t>{1, 2, 3, 4}));  // the head, positions 1 and 3
  EXPECT_EQ(parts[0].positions, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(parts[1].ids, (std::vector<int64_t>{4, 5, 6, 7}));
  EXPECT_EQ(parts[1].positions, (std::vector<int64_t>{3}));
  EXPECT_EQ(parts[1].target_ids, (std::vector<std::vector<int32_t>>{{3}}));
  EXPECT_EQ(parts[2].ids, (std::vector<int64_t>{7, 8, 9, 10}));
  EXPECT_EQ(cut_from_left(r, 10).size(), 1u);
}

TEST(LengthLimit, PackedCutEqualsPerPrefixCutLossAndGradients) {
  auto model = Qwen2Model::load(tiny_checkpoint(test_dir()));
  const auto params = attach_lora(model, LoraConfig{});
  set_lora_training(model, false);
  randomise_b(model, 17);
  std::mt19937_64 rng(101);
  const std::vector<PackedRollout> rollouts = {random_rollout(rng, 20, {2, 5, 11, 19}), random_rollout(rng, 9, {8})};
  const int64_t max_len = 6;
  std::vector<PackedRollout> parts;
  std::vector<SupervisionSample> cut;
  for (const auto& r : rollouts) {
    for (auto& p : cut_from_left(r, max_len)) parts.push_back(p);
    for (const auto& s : unpack(r)) cut.push_back(cut_from_left(s, max_len));
  }
  for (const auto& s : cut) EXPECT_LE(s.prefix_ids.size(), static_cast<size_t>(max_len));
  auto packed = packed_loss(model, parts);
  packed.backward();
  std::vector<torch::Tensor> packed_grads;
  for (const auto& p : params) {
    packed_grads.push_back(p.grad().clone());
    p.grad().zero_();
  }
  auto prefix = per_prefix_loss(model, cut);
  prefix.backward();
  EXPECT_NEAR(packed.item<double>(), prefix.item<double>(), 1e-5);
  for (size_t i = 0; i < params.size(); ++i)
    EXPECT_LT(max_abs_diff(packed_grads[i], params[i].grad()), 1e-5) << "parameter " << i;
  torch::NoGradGuard no_grad;
  EXPECT_GT(std::fabs(packed.item<double>() - packed_loss(model, rollouts).item<double>()), 1e-6);  // the cut matters
}

TEST(Trainer, MaxSeqLenCutsPrefixesInBothForms) {
  const auto ckpt = tiny_checkpoint(test_dir());
  std::mt19937_64 rng(111);
  const auto rollout = random_rollout(rng, 16, {3, 6, 9, 15});
  std::vector<SupervisionSample> cut;
  for (const auto& s : unpack(rollout)) cut.push_back(cut_from_left(s, 5));
  LoraConfig cfg;
  cfg.dropout = 0;
  TrainOptions o;
  o.learning_rate = 1e-3;
  o.grad_accum = 1;
  o.total_updates = 3;
  auto losses_of = [&](int64_t max_seq_len, int64_t batch, bool packed, const std::vector<SupervisionSample>& samples) {
    auto model = Qwen2Model::load(ckpt);
    TrainOptions run = o;
    run.max_seq_len = max_seq_len;
    run.batch_size = batch;
    Trainer trainer(model, attach_lora(model, cfg), run);
    return packed ? trainer.train_packed({rollout}) : trainer.train(samples);
  };
  const auto want = losses_of(0, 4, false, cut);  // cut beforehand, no limit in the trainer
  const auto prefix = losses_of(5, 4, false, unpack(rollout));
  const auto packed = losses_of(5, 1, true, {});
  const auto uncut = losses_of(0, 4, false, unpack(rollout));
  ASSERT_EQ(want.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(prefix[i], want[i], 1e-6);
    EXPECT_NEAR(packed[i], want[i], 1e-5);
  }
  EXPECT_GT(std::fabs(uncut[0] - want[0]), 1e-6);  // the limit changed what was trained on
}

// ------------------------------------------------------------------ schedules

TEST(Trainer, ConstantScheduleStaysAtTheLearningRateAfterWarmup) {
  auto model = Qwen2Model::load(tiny_checkpoint(test_dir()));
  const auto params = attach_lora(model, LoraConfig{});
  TrainOptions o;
  o.learning_rate = 0.01;
  o.warmup_updates = 2;
  o.total_updates = 6;
  o.batch_size = 2;
  o.grad_accum = 1;
  o.schedule = "constant";
  Trainer trainer(model, params, o);
  std::vector<double> lrs;  // as the stage's metrics log them: the rate of the update just done
  trainer.train(random_samples(4, 121), 0, [&](int64_t done, int64_t, double) {
    lrs.push_back(trainer.learning_rate_at(done - 1));
  });
  EXPECT_EQ(lrs, (std::vector<double>{0.0, 0.005, 0.01, 0.01, 0.01, 0.01}));

  TrainOptions linear = o;
  linear.schedule = "linear";
  Trainer decaying(model, params, linear);
  for (int64_t u = 3; u < 6; ++u) EXPECT_LT(decaying.learning_rate_at(u), decaying.learning_rate_at(u - 1));
  EXPECT_DOUBLE_EQ(decaying.learning_rate_at(5), 0.01 / 4);
  EXPECT_DOUBLE_EQ(decaying.learning_rate_at(6), 0.0);

  TrainOptions cosine = o;
  cosine.schedule = "cosine";
  EXPECT_THROW(Trainer bad(model, params, cosine), std::invalid_argument);
}

TEST(Trainer, ConstantScheduleResumeEqualsUninterrupted) {
  const auto dir = test_dir();
  const auto ckpt = tiny_checkpoint(dir);
  const auto samples = random_samples(6, 131);
  TrainOptions o;
  o.learning_rate = 5e-3;
  o.warmup_updates = 1;
  o.batch_size = 2;
  o.grad_accum = 1;
  o.total_updates = 4;
  o.schedule = "constant";
  LoraConfig cfg;
  cfg.seed = 3;

  const ResumeRun r = train_straight_and_resumed(dir, ckpt, samples, o, cfg, 2, 4321);
  const auto& a = r.straight;
  const auto& b = r.resumed;
  for (size_t i = 0; i < a.size(); ++i) EXPECT_LT(max_abs_diff(a[i], b[i]), 1e-6) << "parameter " << i;
}

// ------------------------------------------------------------------ defaults

TEST(Defaults, TrainerAndLoraOptionsReadTheDefaultsHome) {
  const TrainOptions t;
  EXPECT_EQ(t.learning_rate, defaults::train::lr);
  EXPECT_EQ(t.batch_size, defaults::train::batch_size);
  EXPECT_EQ(t.grad_accum, defaults::train::grad_accum);
  EXPECT_EQ(t.total_updates, defaults::train::updates);
  EXPECT_EQ(t.max_seq_len, defaults::train::max_seq_len);
  EXPECT_EQ(t.schedule, defaults::train::schedule);
  EXPECT_EQ(t.max_grad_norm, defaults::train::grad_clip);
  const LoraConfig l;
  EXPECT_EQ(l.r, defaults::lora::r);
  EXPECT_EQ(l.alpha, defaults::lora::alpha);
  EXPECT_EQ(l.dropout, defaults::lora::dropout);
  EXPECT_EQ(l.target_modules, (std::vector<std::string>{"q_proj", "v_proj"}));
}
