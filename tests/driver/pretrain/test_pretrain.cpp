// Training from scratch (pretrain/pretrainer, documents) and the
// models.pretrain stage (stages/pretrained_models.cpp), on tiny budgets: the
// loss falls, a stopped and resumed run ends with the weights of an
// uninterrupted one, the written weights load to the same logits, complete
// folders are skipped and folders of other settings refused.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "checkpoint/tiny_model.h"
#include "config/experiment_config.h"
#include "model/trainable_weights.h"
#include "pretrain/pretrainer.h"
#include "pretrain/task_splits.h"
#include "stages/pretrained_models.h"
#include "stages/stage.h"
#include "tokenizer/small_bpe.h"

namespace fs = std::filesystem;
using namespace lr::driver;

namespace {

fs::path test_dir() {
  const char* env = std::getenv("LR_PRETRAIN_TEST_SCRATCH");
  const fs::path root = env ? fs::path(env) : fs::path(LR_PRETRAIN_TEST_SCRATCH);
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = root / (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

constexpr const char* kTemplate = "Question: {question}\nAnswer: ";

// A small tokenizer from the corpus and a random 1-layer model using it.
struct Fixture {
  fs::path dir;
  PretrainCorpus corpus{9, 0.5, {}};
  std::string init;
  std::optional<Tokenizer> tokenizer;

  explicit Fixture(const fs::path& d) : dir(d) {
    std::vector<std::string> texts;
    for (const WordProblem& p : corpus.tokenizer_sample(300)) texts.push_back(p.question + "\n" + p.answer);
    write_small_bpe_tokenizer((dir / "tok").string(), texts, 320);
    tokenizer.emplace(Tokenizer::from_file((dir / "tok/tokenizer.json").string()));
    TinyModelOptions o;
    o.out_dir = init = (dir / "init").string();
    o.layers = 1;
    o.hidden = 32;
    o.heads = 4;
    o.kv_heads = 2;
    o.vocab_from = (dir / "tok").string();
    o.seed = 3;
    write_tiny_qwen2(o);
  }
  DocumentEncoder encoder() const { return DocumentEncoder(*tokenizer, kTemplate, "", 96); }

  PretrainPlan plan(const std::string& state, int64_t general, int64_t total) const {
    TrainOptions o;
    o.learning_rate = 3e-3;
    o.warmup_updates = 2;
    o.batch_size = 6;
    o.total_updates = total;
    o.shuffle_seed = 1;
    o.checkpoint_every = 4;
    o.checkpoint_dir = (dir / state).string();
    return {state, init, o, {{general, CorpusPhase::general, nullptr}, {total, CorpusPhase::chains, nullptr}}};
  }
};

// The mean loss of a fixed set of held-aside chain documents (indices far past any trained one).
double held_aside_loss(const Qwen2Model& model, const Fixture& f) {
  torch::NoGradGuard no_grad;
  const DocumentEncoder enc = f.encoder();
  std::vector<SequenceSample> batch;
  for (int64_t i = 0; i < 24; ++i) batch.push_back(enc.encode(f.corpus.document(CorpusPhase::chains, 1000000 + i)));
  return sequence_ce_loss(model, batch).item<double>();
}

double max_weight_diff(const Qwen2Model& a, const Qwen2Model& b) {
  const auto wa = named_weights(a), wb = named_weights(b);
  EXPECT_EQ(wa.size(), wb.size());
  double d = 0;
  for (size_t i = 0; i < wa.size(); ++i) {
    EXPECT_EQ(wa[i].first, wb[i].first);
    d = std::max(d, (wa[i].second.to(torch::kDouble) - wb[i].second.to(torch::kDouble)).abs().max().item<double>());
  }
  return d;
}

}  // namespace

TEST(Pretrain, NamedWeightsFollowTheCheckpointsOrderAndShapes) {
  const Fixture f(test_dir());
  Qwen2Model model = Qwen2Model::load(f.init);
  const auto shapes = qwen2_parameter_shapes(model.config());
  const auto named = named_weights(model);
  ASSERT_EQ(named.size(), shapes.size());
  for (size_t i = 0; i < named.size(); ++i) {
    EXPECT_EQ(named[i].first, shapes[i].first);
    EXPECT_EQ(named[i].second.sizes().vec(), shapes[i].second);
  }
  const auto trainable = make_weights_trainable(model);
  ASSERT_EQ(trainable.size(), shapes.size());
  for (const auto& t : trainable) EXPECT_TRUE(t.requires_grad());
}

TEST(Pretrain, LossFallsOnHeldAsideDocuments) {
  const Fixture f(test_dir());
  const double before = held_aside_loss(Qwen2Model::load(f.init), f);
  const std::optional<Qwen2Model> trained = pretrain_model(f.plan("run", 20, 40), f.corpus, f.encoder());
  ASSERT_TRUE(trained);
  const double after = held_aside_loss(*trained, f);
  EXPECT_LT(after, 0.7 * before) << "before " << before << ", after " << after;
}

TEST(Pretrain, StoppedAndResumedEqualsUninterrupted) {
  const Fixture f(test_dir());
  const std::optional<Qwen2Model> straight = pretrain_model(f.plan("straight", 6, 14), f.corpus, f.encoder());
  ASSERT_TRUE(straight);
  // The same plan, stopped one update after the phase change (the flag is
  // raised when the general phase ends; the trainer stops after the next update).
  std::atomic<bool> stop{false};
  PretrainPlan plan = f.plan("resumed", 6, 14);
  plan.options.stop = &stop;
  int snapshots = 0;
  plan.phases[0].then = [&](const Qwen2Model&) {
    ++snapshots;
    stop = true;
  };
  EXPECT_FALSE(pretrain_model(plan, f.corpus, f.encoder()));
  EXPECT_EQ(snapshots, 1);
  stop = false;
  const std::optional<Qwen2Model> resumed = pretrain_model(plan, f.corpus, f.encoder());
  ASSERT_TRUE(resumed);
  EXPECT_EQ(snapshots, 1);  // the resumed run started past the general phase
  EXPECT_LE(max_weight_diff(*straight, *resumed), 1e-6);
}

TEST(Pretrain, WrittenWeightsLoadToTheSameLogits) {
  const Fixture f(test_dir());
  const std::optional<Qwen2Model> trained = pretrain_model(f.plan("run", 4, 8), f.corpus, f.encoder());
  ASSERT_TRUE(trained);
  const fs::path out = f.dir / "written";
  fs::create_directories(out);
  fs::copy_file(fs::path(f.init) / "config.json", out / "config.json");
  save_weights(*trained, (out / "model.safetensors").string());
  const Qwen2Model loaded = Qwen2Model::load(out.string());
  EXPECT_EQ(max_weight_diff(*trained, loaded), 0.0);
  const SequenceSample s = f.encoder().encode(f.corpus.document(CorpusPhase::chains, 77));
  torch::NoGradGuard no_grad;
  const auto ids = torch::tensor(s.ids, torch::kLong).reshape({1, -1});
  const auto pos = torch::arange(int64_t(s.ids.size()), torch::kLong).reshape({1, -1});
  const auto a = trained->logits_at(ids, torch::Tensor(), pos), b = loaded.logits_at(ids, torch::Tensor(), pos);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, Qwen2Model::load(f.init).logits_at(ids, torch::Tensor(), pos)));
}

// ------------------------------------------------------------ the stage

namespace {

// A config for models.pretrain on tiny splits, in `dir`.
fs::path write_config(const fs::path& dir, const std::string& extra = "") {
  write_task_splits((dir / "task").string(), make_task_splits(5, {30, 10, 10}));
  std::ofstream(dir / "config.toml") << "[run]\nout_dir = \"" << (dir / "run").string() << "\"\ndevice = \"cpu\"\n"
      << "dtype = \"float32\"\n[models]\npretrain = true\n[data]\ntrain_file = \"task/train.jsonl\"\n"
      << "[prompt]\nsystem = \"\"\ntemplate = \"Question: {question}\\nAnswer: \"\n"
      << "[eval]\ndatasets = [{ name = \"val\", file = \"task/val.jsonl\" }]\n"
      << "[pretrain]\nvocab = 300\nexpert_layers = 1\nexpert_hidden = 16\namateur_layers = 1\namateur_hidden = 8\n"
      << "heads = 2\nkv_heads = 1\ngeneral_steps = 3\nchain_steps = 2\nbatch_size = 4\nseq_len = 64\n"
      << "warmup_steps = 1\ncheckpoint_every = 2\n" << extra;
  return dir / "config.toml";
}

}  // namespace

TEST(PretrainStage, WritesCompleteFoldersSkipsThemAndRefusesOtherSettings) {
  const fs::path dir = test_dir();
  const ExperimentConfig c = load_config(write_config(dir).string());
  ASSERT_EQ(ensure_pretrained_models(c), 0);
  const fs::path models = dir / "run/models";
  for (const char* m : {"expert", "amateur", "expert-general"}) {
    for (const char* file : {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                             "tokenizer_config.json", "lightreasoner_pretrain.json"})
      EXPECT_TRUE(fs::exists(models / m / file)) << m << "/" << file;
    const Qwen2Model model = Qwen2Model::load((models / m).string());
    EXPECT_EQ(model.config().vocab_size, 300);
  }
  EXPECT_EQ(Qwen2Model::load((models / "expert").string()).config().hidden_size, 16);
  EXPECT_EQ(Qwen2Model::load((models / "amateur").string()).config().hidden_size, 8);
  EXPECT_FALSE(fs::exists(models / ".pretrain/expert"));  // the trainer's state goes once the model is written
  // expert-general is the expert after the general mix: not the final expert.
  EXPECT_GT(max_weight_diff(Qwen2Model::load((models / "expert").string()),
                            Qwen2Model::load((models / "expert-general").string())), 0.0);

  const auto written = fs::last_write_time(models / "expert/model.safetensors");
  ASSERT_EQ(ensure_pretrained_models(c), 0);  // complete: skipped
  EXPECT_EQ(fs::last_write_time(models / "expert/model.safetensors"), written);

  const ExperimentConfig other = load_config(write_config(dir, "").string(), {"pretrain.amateur_hidden=16"});
  try {
    ensure_pretrained_models(other);
    FAIL() << "other settings were accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find((models / "amateur").string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("other settings"), std::string::npos) << e.what();
  }
}
