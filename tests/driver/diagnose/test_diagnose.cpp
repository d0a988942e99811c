// lr_diagnose and the diagnose stage on tiny random Qwen2 checkpoints (expert
// vocab 296, amateur 320: the amateur's padded rows are dropped) and a small
// byte-level tokenizer written here. Every figure is checked against a
// brute-force recomputation in double precision from unbatched forwards of
// the two models (the softmaxes, KL, supports and target tops computed here
// with LibTorch double ops, never with the library calls under test).
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "checkpoint/tiny_model.h"
#include "config/experiment_config.h"
#include "diagnose/diagnostics.h"
#include "diagnose/gold_walk.h"
#include "diagnose/rollout_statistics.h"
#include "diagnose/target_decoding.h"
#include "grading/grading.h"
#include "io/run_layout.h"
#include "model/generate.h"
#include "model/qwen2_model.h"
#include "prompt/chat_prompt.h"
#include "report/report.h"
#include "stages/stage.h"
#include "support/process_scratch.h"
#include "support/small_tokenizer.h"
#include "tokenizer.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace lr::driver;

namespace {

const std::string kScratch = lrtest::process_scratch(LR_DIAGNOSE_TEST_SCRATCH);
constexpr int64_t kShared = lr_test::kSmallVocab;  // min(296, 320, 296)
const std::vector<int64_t> kStops = {lr_test::kSmallImEnd, lr_test::kSmallEndOfText};

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ------------------------------------------------------------------ brute force

// One position, in double precision over the shared ids.
struct Brute {
  double kl = 0;
  int64_t support = 0, target_top = -1, expert_top = -1, amateur_top = -1;
};

// The target's top id: the largest log p_E - log p_A over the support, cut
// (as the C library documents) to the K ids of largest p_E when larger.
Brute brute(const at::Tensor& expert_row, const at::Tensor& amateur_row, double beta, int64_t k = 4) {
  const at::Tensor lpe = torch::log_softmax(expert_row.narrow(0, 0, kShared).to(torch::kFloat64), 0);
  const at::Tensor lpa = torch::log_softmax(amateur_row.narrow(0, 0, kShared).to(torch::kFloat64), 0);
  Brute b;
  b.kl = (lpe.exp() * (lpe - lpa)).sum().item<double>();
  const at::Tensor in_support = lpe >= lpe.max() + std::log(beta);
  b.support = in_support.sum().item<int64_t>();
  const at::Tensor by_expert = std::get<1>(lpe.sort(/*stable=*/true, 0, /*descending=*/true));
  const at::Tensor slots = by_expert.narrow(0, 0, std::min(b.support, k));  // the support's K most likely ids
  const at::Tensor ratio = (lpe - lpa).index_select(0, slots);
  b.target_top = slots[ratio.argmax().item<int64_t>()].item<int64_t>();
  b.expert_top = lpe.argmax().item<int64_t>();
  b.amateur_top = lpa.argmax().item<int64_t>();
  return b;
}

// Unbatched teacher-forced forwards of ids[0 .. first + count - 1], scored at
// positions first .. first + count - 1.
std::vector<Brute> brute_span(const Qwen2Model& expert, const Qwen2Model& amateur, const std::vector<int64_t>& ids,
                              int64_t first, int64_t count, double beta) {
  torch::NoGradGuard ng;
  const auto input = torch::tensor(std::vector<int64_t>(ids.begin(), ids.begin() + first + count)).unsqueeze(0);
  const auto pos = torch::arange(first, first + count, torch::kInt64).unsqueeze(0);
  const auto le = expert.logits_at(input, {}, pos)[0];
  const auto la = amateur.logits_at(input, {}, pos)[0];
  std::vector<Brute> out;
  for (int64_t j = 0; j < count; ++j) out.push_back(brute(le[j], la[j], beta));
  return out;
}

// The gold walk of METHOD.md "Diagnostics", written out again: counts over
// all positions [0] and kept ones [1], in the order correct, overturned,
// first errors, fixed, amateur right.
using WalkCounts = std::array<std::array<int64_t, 5>, 2>;

void brute_walk(const std::vector<Brute>& s, const std::vector<int64_t>& gold, double kappa, WalkCounts& c) {
  for (size_t j = 0; j < gold.size(); ++j) {
    for (int kept = 0; kept < 2; ++kept) {
      if (kept && !(s[j].kl > kappa)) continue;
      auto& n = c[size_t(kept)];
      if (s[j].expert_top == gold[j]) {
        n[0] += 1;
        n[1] += s[j].target_top != gold[j];
      } else {
        n[2] += 1;
        n[3] += s[j].target_top == gold[j];
        n[4] += s[j].amateur_top == gold[j];
      }
    }
    if (s[j].expert_top != gold[j]) return;
  }
}

// ------------------------------------------------------------------ fixture

class DiagnoseTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fs::remove_all(kScratch);
    fs::create_directories(kScratch);
    write_text(kScratch + "/tokenizer.json", lr_test::small_tokenizer().dump());
    TinyModelOptions e;
    e.out_dir = kScratch + "/expert";
    e.layers = 2;
    e.hidden = 32;
    e.vocab = 296;
    e.seed = 1;
    e.init_std = 0.6;
    write_tiny_qwen2(e);
    TinyModelOptions a = e;
    a.out_dir = kScratch + "/amateur";
    a.layers = 1;
    a.vocab = 320;
    a.seed = 2;
    a.init_std = 0.3;
    write_tiny_qwen2(a);
    tokenizer_ = new Tokenizer(Tokenizer::from_file(kScratch + "/tokenizer.json"));
    expert_ = new Qwen2Model(Qwen2Model::load(e.out_dir));
    amateur_ = new Qwen2Model(Qwen2Model::load(a.out_dir));
    // An amateur whose logits are all 0 (a copy in bfloat16, its lm_head zeroed): p_A is uniform.
    flat_ = new Qwen2Model(Qwen2Model::load(a.out_dir, torch::kCPU, torch::kBFloat16));
    flat_->lm_head_weight().zero_();
    const std::vector<std::string> qs = {"What is 2 + 3?", "A train goes at 60 km/h for 2 hours. How far?",
                                         "tea in a tin at noon", "Tom has 5 apples and eats 2.", "Add 17 and 25."};
    for (size_t i = 0; i < qs.size(); ++i) {
      EvalProblem p;
      p.id = int64_t(i);
      p.question = qs[i];
      p.gold = std::to_string(i + 3);
      p.kind = AnswerKind::kGsm8k;
      p.answer_text = "We add them: " + std::to_string(i) + " + 3 = " + std::to_string(i + 3) + ".\n#### " + p.gold;
      problems_.push_back(p);
    }
    for (const EvalProblem& p : problems_) {
      const auto ids = tokenizer_->encode(render_chat_prompt(kDefaultSystemPrompt, p.question));
      prompts_.emplace_back(ids.begin(), ids.end());
    }
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    delete expert_;
    delete amateur_;
    delete flat_;
  }

  static DiagnoseOptions options(float kappa) {
    DiagnoseOptions o;
    o.prompt = [](const std::string& q) { return render_chat_prompt(kDefaultSystemPrompt, q); };
    o.max_new_tokens = 10;
    o.kl_threshold = kappa;
    o.beta = 0.2f;
    o.k = 4;
    o.batch_size = 3;  // two batches, the second one short
    o.stop_ids = kStops;
    return o;
  }
  static ContrastOptions contrast(float kappa) { return {kappa, 0.2f, 4, kShared}; }

  // The expert's unbatched greedy rollout of problem i (generated ids only).
  static std::vector<int64_t> direct_rollout(size_t i, int64_t max_new_tokens) {
    GenerateOptions g;
    g.max_new_tokens = max_new_tokens;
    g.stop_ids = kStops;
    return generate(*expert_, {prompts_[i]}, g)[0];
  }

  static Tokenizer* tokenizer_;
  static Qwen2Model *expert_, *amateur_, *flat_;
  static std::vector<EvalProblem> problems_;
  static std::vector<std::vector<int64_t>> prompts_;
};

Tokenizer* DiagnoseTest::tokenizer_ = nullptr;
Qwen2Model* DiagnoseTest::expert_ = nullptr;
Qwen2Model* DiagnoseTest::amateur_ = nullptr;
Qwen2Model* DiagnoseTest::flat_ = nullptr;
std::vector<EvalProblem> DiagnoseTest::problems_;
std::vector<std::vector<int64_t>> DiagnoseTest::prompts_;

double at_path(const nlohmann::ordered_json& j, const std::string& path) {
  return j.at(nlohmann::ordered_json::json_pointer(path)).get<double>();
}

}  // namespace

// ------------------------------------------------------------------ (a)

TEST(LinearQuantile, NumpyLinearRule) {
  // numpy.quantile([1, 2, 4, 8], [0, 0.1, 0.5, 0.9, 1]) = 1, 1.3, 3, 6.8, 8
  const std::vector<double> v = {1, 2, 4, 8};
  EXPECT_DOUBLE_EQ(linear_quantile(v, 0.0), 1.0);
  EXPECT_NEAR(linear_quantile(v, 0.1), 1.3, 1e-12);
  EXPECT_DOUBLE_EQ(linear_quantile(v, 0.5), 3.0);
  EXPECT_NEAR(linear_quantile(v, 0.9), 6.8, 1e-12);
  EXPECT_DOUBLE_EQ(linear_quantile(v, 1.0), 8.0);
  EXPECT_DOUBLE_EQ(linear_quantile({5}, 0.3), 5.0);
}

TEST_F(DiagnoseTest, RolloutStatisticsMatchBruteForce) {
  // Every generated position of the unbatched rollouts, brute force.
  std::vector<Brute> all;
  for (size_t i = 0; i < prompts_.size(); ++i) {
    std::vector<int64_t> ids = prompts_[i];
    const auto gen = direct_rollout(i, 10);
    ids.insert(ids.end(), gen.begin(), gen.end());
    const auto b = brute_span(*expert_, *amateur_, ids, int64_t(prompts_[i].size()) - 1, int64_t(gen.size()), 0.2);
    all.insert(all.end(), b.begin(), b.end());
  }
  ASSERT_GE(all.size(), 10u);
  std::vector<double> kl;
  for (const Brute& b : all) kl.push_back(b.kl);
  std::sort(kl.begin(), kl.end());
  const float kappa = float(0.5 * (kl[kl.size() / 2 - 1] + kl[kl.size() / 2]));  // between two values: no ties
  const auto d = run_diagnostics(*expert_, *amateur_, *tokenizer_, problems_, options(kappa));

  const at::Tensor t = torch::tensor(kl, torch::kFloat64);
  const std::map<std::string, double> quantiles = {{"p10", .1}, {"p25", .25}, {"p50", .5}, {"p75", .75}, {"p90", .9}};
  for (const auto& [name, q] : quantiles)
    EXPECT_NEAR(at_path(d, "/rollouts/kl/" + name), torch::quantile(t, q).item<double>(), 1e-4) << name;
  EXPECT_NEAR(at_path(d, "/rollouts/kl/mean"), t.mean().item<double>(), 1e-4);
  EXPECT_EQ(at_path(d, "/rollouts/positions"), double(all.size()));

  int64_t kept = 0, single = 0, differs = 0, differs_kept = 0, support_sum = 0, kept_support_sum = 0;
  std::map<int64_t, int64_t> histogram;
  for (const Brute& b : all) {
    const bool k = b.kl > kappa, differ = b.target_top != b.expert_top;
    kept += k;
    single += b.support == 1;
    support_sum += b.support;
    kept_support_sum += k ? b.support : 0;
    ++histogram[b.support];
    differs += differ;
    differs_kept += k && differ;
  }
  EXPECT_EQ(at_path(d, "/rollouts/kept"), double(kept));
  EXPECT_NEAR(at_path(d, "/rollouts/kept_fraction"), double(kept) / double(all.size()), 1e-12);
  EXPECT_NEAR(at_path(d, "/rollouts/support/mean"), double(support_sum) / double(all.size()), 1e-12);
  EXPECT_NEAR(at_path(d, "/rollouts/support/single_fraction"), double(single) / double(all.size()), 1e-12);
  EXPECT_NEAR(at_path(d, "/rollouts/support_kept/mean"), double(kept_support_sum) / double(kept), 1e-12);
  for (const auto& [size, n] : histogram) EXPECT_EQ(d["rollouts"]["support"]["histogram"][std::to_string(size)], n);
  EXPECT_EQ(d["rollouts"]["support"]["histogram"].size(), histogram.size());
  EXPECT_EQ(at_path(d, "/rollouts/target_top_differs/all"), double(differs));
  EXPECT_EQ(at_path(d, "/rollouts/target_top_differs/kept"), double(differs_kept));
  EXPECT_GT(differs, 0) << "a comparison that cannot fail";
}

TEST_F(DiagnoseTest, SameModelTwiceHasNoContrast) {
  const auto d = run_diagnostics(*expert_, *expert_, *tokenizer_, problems_, options(0.01f));
  EXPECT_GT(at_path(d, "/rollouts/positions"), 0);
  for (const char* q : {"p10", "p50", "p90", "mean"}) EXPECT_NEAR(at_path(d, std::string("/rollouts/kl/") + q), 0.0, 1e-5);
  EXPECT_EQ(at_path(d, "/rollouts/kept"), 0);
  EXPECT_EQ(at_path(d, "/rollouts/kept_fraction"), 0);
  for (const char* c : {"correct_tokens", "overturned", "first_errors", "fixed", "amateur_right"})
    EXPECT_EQ(at_path(d, std::string("/gold/kept/") + c), 0) << c;
  // The amateur is the expert: at each first error its top is the expert's, never the gold token.
  EXPECT_EQ(at_path(d, "/gold/all/amateur_right"), 0);
}

// ------------------------------------------------------------------ (b)

TEST_F(DiagnoseTest, TargetDecodingWithUniformAmateurIsTheExpertsGreedy) {
  // p_A uniform: on the support the target is proportional to p_E, so its top is the expert's.
  TargetDecodingOptions o;
  o.contrast = contrast(0.4f);
  o.max_new_tokens = 10;
  o.batch_size = 3;
  o.stop_ids = kStops;
  const TargetDecoding t = decode_from_targets(*expert_, *flat_, prompts_, o);
  ASSERT_EQ(t.outputs.size(), prompts_.size());
  for (size_t i = 0; i < prompts_.size(); ++i) EXPECT_EQ(t.outputs[i], direct_rollout(i, 10)) << "problem " << i;
  EXPECT_EQ(t.steps_off_expert, 0);
  const auto d = run_diagnostics(*expert_, *flat_, *tokenizer_, problems_, options(0.4f));
  EXPECT_EQ(d["decoding"]["target_greedy"]["correct"], d["decoding"]["expert_greedy"]["correct"]);
}

TEST_F(DiagnoseTest, TargetDecodingMatchesStepsByHand) {
  TargetDecodingOptions o;
  o.contrast = contrast(0.4f);
  o.max_new_tokens = 5;
  o.batch_size = 3;
  o.stop_ids = kStops;
  const TargetDecoding t = decode_from_targets(*expert_, *amateur_, prompts_, o);
  int64_t off_expert = 0, steps = 0;
  for (size_t i = 0; i < prompts_.size(); ++i) {
    std::vector<int64_t> seq = prompts_[i], by_hand;
    for (int step = 0; step < 5; ++step) {
      const Brute b = brute_span(*expert_, *amateur_, seq, int64_t(seq.size()) - 1, 1, 0.2)[0];
      by_hand.push_back(b.target_top);
      seq.push_back(b.target_top);
      off_expert += b.target_top != b.expert_top;
      ++steps;
      if (std::find(kStops.begin(), kStops.end(), b.target_top) != kStops.end()) break;
    }
    EXPECT_EQ(t.outputs[i], by_hand) << "problem " << i;
  }
  EXPECT_EQ(t.steps, steps);
  EXPECT_EQ(t.steps_off_expert, off_expert);
  EXPECT_GT(off_expert, 0) << "the target should differ from the expert somewhere";
}

// ------------------------------------------------------------------ (c)

TEST(GoldWalk, Definition) {
  // expert right, right, wrong (the walk ends there), right.
  auto s = [](double kl, bool kept, int64_t target, int64_t expert, int64_t amateur) {
    PositionScore p;
    p.kl = kl;
    p.kept = kept;
    p.target_top = target;
    p.expert_top = expert;
    p.amateur_top = amateur;
    return p;
  };
  GoldWalk w;
  add_gold_walk({s(1, true, 9, 1, 0), s(0, false, 2, 2, 0), s(1, true, 3, 7, 3), s(1, true, 0, 4, 0)}, {1, 2, 3, 4}, w);
  add_gold_walk({s(0, false, 5, 5, 5)}, {5}, w);  // no error at all
  EXPECT_EQ(w.problems, 2);
  EXPECT_EQ(w.walked, 4);
  EXPECT_EQ(w.all.correct_tokens, 3);
  EXPECT_EQ(w.all.overturned, 1);
  EXPECT_EQ(w.all.first_errors, 1);
  EXPECT_EQ(w.all.fixed, 1);
  EXPECT_EQ(w.all.amateur_right, 1);
  EXPECT_EQ(w.kept.correct_tokens, 1);
  EXPECT_EQ(w.kept.overturned, 1);
  EXPECT_EQ(w.kept.first_errors, 1);
  EXPECT_EQ(w.kept.fixed, 1);
  EXPECT_EQ(w.kept.amateur_right, 1);
}

TEST(GoldWalk, AnyStopIdEndsTheSolution) {
  // The gold ends with stop id 8; the expert puts stop id 9 there, the target 5,
  // the amateur 8. With stop ids {8, 9} the expert is right to the end and
  // the target overturns that last token; without them 9 is a first error.
  auto s = [](int64_t target, int64_t expert, int64_t amateur) {
    PositionScore p;
    p.kl = 1;
    p.kept = true;
    p.target_top = target;
    p.expert_top = expert;
    p.amateur_top = amateur;
    return p;
  };
  const std::vector<PositionScore> scores = {s(3, 3, 0), s(5, 9, 8)};
  GoldWalk with_stops, exact;
  add_gold_walk(scores, {3, 8}, with_stops, {8, 9});
  add_gold_walk(scores, {3, 8}, exact);
  EXPECT_EQ(with_stops.all.correct_tokens, 2);
  EXPECT_EQ(with_stops.all.first_errors, 0);
  EXPECT_EQ(with_stops.all.overturned, 1);
  EXPECT_EQ(exact.all.correct_tokens, 1);
  EXPECT_EQ(exact.all.first_errors, 1);
  EXPECT_EQ(exact.all.fixed, 0);
  EXPECT_EQ(exact.all.amateur_right, 1);
  // A stop id where the gold is not a stop is never a match.
  GoldWalk early;
  add_gold_walk({s(9, 8, 9)}, {3}, early, {8, 9});
  EXPECT_EQ(early.all.first_errors, 1);
  EXPECT_EQ(early.all.fixed, 0);
}

TEST_F(DiagnoseTest, GoldWalkMatchesBruteForce) {
  // Gold = the expert's own first tokens (so the walk has correct tokens),
  // then a few fixed bytes, then <|im_end|>.
  std::vector<std::vector<int64_t>> golds;
  for (size_t i = 0; i < prompts_.size(); ++i) {
    std::vector<int64_t> g = direct_rollout(i, 1 + int64_t(i % 3));
    while (!g.empty() && std::find(kStops.begin(), kStops.end(), g.back()) != kStops.end()) g.pop_back();
    for (char ch : std::string(" 7 = x")) g.push_back(int64_t(uint8_t(ch)));
    g.push_back(lr_test::kSmallImEnd);
    golds.push_back(g);
  }
  std::vector<double> kls;
  WalkCounts want{};
  std::vector<std::vector<Brute>> brutes;
  for (size_t i = 0; i < prompts_.size(); ++i) {
    std::vector<int64_t> ids = prompts_[i];
    ids.insert(ids.end(), golds[i].begin(), golds[i].end());
    brutes.push_back(brute_span(*expert_, *amateur_, ids, int64_t(prompts_[i].size()) - 1, int64_t(golds[i].size()), 0.2));
    for (const Brute& b : brutes.back()) kls.push_back(b.kl);
  }
  std::sort(kls.begin(), kls.end());
  const float kappa = float(0.5 * (kls[kls.size() / 3] + kls[kls.size() / 3 + 1]));
  for (size_t i = 0; i < golds.size(); ++i) brute_walk(brutes[i], golds[i], kappa, want);
  const GoldWalk w = walk_gold(*expert_, *amateur_, prompts_, golds, contrast(kappa), 3);
  const std::array<const GoldCounts*, 2> got = {&w.all, &w.kept};
  for (size_t k = 0; k < 2; ++k) {
    const GoldCounts& c = *got[k];
    EXPECT_EQ(c.correct_tokens, want[k][0]) << k;
    EXPECT_EQ(c.overturned, want[k][1]) << k;
    EXPECT_EQ(c.first_errors, want[k][2]) << k;
    EXPECT_EQ(c.fixed, want[k][3]) << k;
    EXPECT_EQ(c.amateur_right, want[k][4]) << k;
    EXPECT_LE(c.overturned, c.correct_tokens);
    EXPECT_LE(c.fixed, c.first_errors);
    EXPECT_LE(c.first_errors, w.problems);
  }
  EXPECT_GT(w.all.correct_tokens, 0) << "a walk without correct tokens tests little";
  EXPECT_GT(w.all.first_errors, 0);
}

TEST_F(DiagnoseTest, DiagnosticsWalkTheEncodedSolutions) {
  const auto d = run_diagnostics(*expert_, *amateur_, *tokenizer_, problems_, options(3.0f));
  std::vector<std::vector<int64_t>> golds;
  for (const EvalProblem& p : problems_) {
    const auto ids = tokenizer_->encode(p.answer_text);
    golds.emplace_back(ids.begin(), ids.end());
    golds.back().push_back(kStops.front());
  }
  const auto want = walk_gold(*expert_, *amateur_, prompts_, golds, contrast(3.0f), 1).to_json();
  for (const char* part : {"all", "kept"})
    for (const auto& [key, value] : want[part].items()) EXPECT_EQ(d["gold"][part][key], value) << part << " " << key;
  EXPECT_EQ(d["gold"]["problems"], problems_.size());
  EXPECT_EQ(d["problems"], problems_.size());
  // Invariants of the whole file.
  for (const char* part : {"all", "kept"}) {
    const auto& g = d["gold"][part];
    EXPECT_LE(g["overturned"], g["correct_tokens"]);
    EXPECT_LE(g["fixed"], g["first_errors"]);
    EXPECT_LE(g["amateur_right"], g["first_errors"]);
  }
  EXPECT_LE(d["rollouts"]["kept"], d["rollouts"]["positions"]);
  EXPECT_LE(d["decoding"]["target_greedy"]["correct"], d["problems"]);
}

// ------------------------------------------------------------------ the stage

namespace {

std::string stage_config(const std::string& dir) {
  fs::create_directories(dir);
  const std::string path = dir + "/diag.toml";
  write_text(path, "[run]\nout_dir = \"" + dir + "/run\"\ndevice = \"cpu\"\n"
                   "[models]\nmake_tiny = true\n"
                   "[models.tiny]\ntokenizer = \"" + kScratch + "/tokenizer.json\"\n"
                   "expert_layers = 1\nexpert_hidden = 32\namateur_layers = 1\namateur_hidden = 16\n"
                   "[sample]\nmax_new_tokens = 6\nbatch_size = 2\nkl_threshold = 1.0\n"
                   "[eval]\ndatasets = [\"gsm8k\"]\n"
                   "[diagnostics]\nenabled = true\nproblems = 3\n"
                   "[report]\nplots = false\n");
  return path;
}

}  // namespace

TEST_F(DiagnoseTest, StageWritesFileSkipsWhenCompleteAndReports) {
  const std::string dir = kScratch + "/stage";
  const std::string path = stage_config(dir);
  const ExperimentConfig c = load_config(path);
  EXPECT_FALSE(diagnose_stage_complete(c));
  const std::string report_before = read_text(write_report(c));
  EXPECT_NE(report_before.find("## Diagnostics\n\n—"), std::string::npos) << report_before;
  ASSERT_EQ(run_diagnose_stage(c), 0);
  const RunLayout run(c.run.out_dir);
  const json d = json::parse(read_text(run.diagnostics().string()));
  EXPECT_EQ(d["problems"], 3);
  EXPECT_EQ(d["settings"]["problems"], 3);
  EXPECT_EQ(d["gold"]["problems"], 3);  // GSM8K test answers are worked solutions
  EXPECT_EQ(d["gold"]["problems_without_solution"], 0);
  EXPECT_TRUE(diagnose_stage_complete(c));
  EXPECT_FALSE(diagnose_stage_complete(load_config(path, {"sample.kl_threshold=2.0"})));
  EXPECT_FALSE(diagnose_stage_complete(load_config(path, {"diagnostics.problems=2"})));
  EXPECT_FALSE(diagnose_stage_complete(load_config(path, {"prompt.system=\"Think.\""})));
  const std::string report = read_text(write_report(c));
  const auto at = report.find("## Diagnostics");
  ASSERT_NE(at, std::string::npos);
  EXPECT_NE(report.find("| greedy accuracy: expert / decoding from the target |", at), std::string::npos) << report;
  EXPECT_NE(report.find("On 3 validation problems", at), std::string::npos) << report;
}
