// Stage 3 (lr_evaluate) and the SFT baseline's pieces (stages/sft_samples, the sequence
// cross-entropy in lr_train): dataset loading (every bundled set, faults
// naming file and line), prompts, the resumable results file, the evaluation
// loop on a tiny random checkpoint (complete outputs; an interrupted and
// resumed run equals an uninterrupted one), the CE objective's gradient
// against a LibTorch autograd composite, and rejection sampling.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "checkpoint/tiny_model.h"
#include "config/experiment_config.h"
#include "evaluate/datasets.h"
#include "evaluate/evaluator.h"
#include "evaluate/batch_timing.h"
#include "evaluate/results_file.h"
#include "evaluate/results_merge.h"
#include "io/append_file.h"
#include "io/settings_file.h"
#include "model/qwen2_model.h"
#include "prompt/chat_prompt.h"
#include "prompt/prompt_template.h"
#include "stages/sft_samples.h"
#include "support/process_scratch.h"
#include "support/small_tokenizer.h"
#include "tokenizer.h"
#include "train/lora.h"
#include "train/sequence_objective.h"
#include "train/trainer.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace lr::driver;

namespace {

const std::string kScratch = lrtest::process_scratch(LR_EVALUATE_TEST_SCRATCH);

std::string test_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = fs::path(kScratch) / (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<json> json_lines(const std::string& path) {
  std::vector<json> out;
  std::ifstream in(path);
  std::string l;
  while (std::getline(in, l))
    if (!l.empty()) out.push_back(json::parse(l));
  return out;
}

// The message of what `fn` throws (of type E), or "" when it does not throw.
template <class E, class F>
std::string error_of(F fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// ------------------------------------------------------------------ datasets

TEST(Datasets, EveryBundledSetParses) {
  const std::string dir = test_dir();
  write_text(dir + "/c.toml",
             "[models]\nmake_tiny = true\n[eval]\ndatasets = [\"gsm8k\", \"svamp\", \"asdiv\", \"minerva_math\", "
             "\"olympiadbench\", \"mmlu_stem\"]\n");
  const ExperimentConfig c = load_config(dir + "/c.toml");
  const std::map<std::string, std::pair<size_t, AnswerKind>> expected = {
      {"gsm8k", {1319, AnswerKind::kGsm8k}},       {"svamp", {1000, AnswerKind::kNumber}},
      {"asdiv", {2215, AnswerKind::kMath}},        {"minerva_math", {272, AnswerKind::kMath}},
      {"olympiadbench", {675, AnswerKind::kMath}}, {"mmlu_stem", {3018, AnswerKind::kChoice}}};
  ASSERT_EQ(c.eval.datasets.size(), 6u);
  std::map<std::string, std::vector<EvalProblem>> sets;
  for (const EvalDataset& d : c.eval.datasets) {
    const auto problems = load_eval_dataset(d);
    EXPECT_EQ(problems.size(), expected.at(d.name).first) << d.name;
    std::set<int64_t> ids;
    for (const auto& p : problems) {
      EXPECT_EQ(p.kind, expected.at(d.name).second) << d.name << " " << p.id;
      EXPECT_FALSE(p.question.empty()) << d.name << " " << p.id;
      EXPECT_FALSE(p.gold.empty()) << d.name << " " << p.id;
      ids.insert(p.id);
    }
    EXPECT_EQ(ids.size(), problems.size()) << d.name;
    sets[d.name] = problems;
  }
  EXPECT_EQ(sets["gsm8k"][0].gold, "18");
  EXPECT_EQ(sets["gsm8k"][0].id, 0);
  // SVAMP: Body, ".", Question.
  EXPECT_EQ(sets["svamp"][0].question.rfind("There are 87 oranges", 0), 0u);
  EXPECT_NE(sets["svamp"][0].question.find("93 groups. How big is each group of bananas?"), std::string::npos);
  EXPECT_EQ(sets["svamp"][0].gold, "145");
  EXPECT_EQ(sets["asdiv"][0].question, "Seven red apples and two green apples are in the basket. How many apples are in the basket?");
  EXPECT_EQ(sets["asdiv"][0].gold, "9");
  EXPECT_EQ(sets["minerva_math"][0].gold, "1.6");
  EXPECT_EQ(sets["olympiadbench"][0].gold, "2");
  EXPECT_EQ(sets["mmlu_stem"][0].gold, "C");
  EXPECT_NE(sets["mmlu_stem"][0].question.find("\nAnswer Choices: (A) maintain the population"), std::string::npos);
  EXPECT_NE(sets["mmlu_stem"][0].question.find(" (D) increase the mortality rate"), std::string::npos);
  // Each gold is one the grader accepts: an output boxing it is graded correct.
  for (const auto& [name, problems] : sets) {
    const EvalProblem& p = problems[3];
    EXPECT_TRUE(grade_output("so the answer is \\boxed{" + p.gold + "}.", p.gold, p.kind).correct) << name;
  }
}

TEST(Datasets, LimitKeepsTheFirstProblems) {
  const std::string dir = test_dir();
  write_text(dir + "/c.toml", "[models]\nmake_tiny = true\n[eval]\ndatasets = [\"gsm8k\"]\nlimit = 5\n");
  const ExperimentConfig c = load_config(dir + "/c.toml");
  const auto problems = load_eval_dataset(c.eval.datasets[0], c.eval.limit);
  ASSERT_EQ(problems.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(problems[i].id, i);
}

TEST(Datasets, BadLinesNameFileAndLine) {
  const std::string dir = test_dir();
  EvalDataset d;
  d.name = "mine";
  d.file = dir + "/bad.jsonl";
  write_text(d.file, "{\"question\": \"1+1?\", \"answer\": \"2\"}\n{\"question\": \"oops\"\n{\"question\": \"x\", \"answer\": 3}\n");
  std::string msg = error_of<DatasetError>([&] { load_eval_dataset(d); });
  EXPECT_NE(msg.find("bad.jsonl:2:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not valid JSON"), std::string::npos) << msg;

  write_text(d.file, "{\"question\": \"1+1?\", \"answer\": \"2\"}\n\n{\"question\": \"x\"}\n");
  msg = error_of<DatasetError>([&] { load_eval_dataset(d); });
  EXPECT_NE(msg.find("bad.jsonl:3:"), std::string::npos) << msg;  // blank lines count
  EXPECT_NE(msg.find("no field \"answer\""), std::string::npos) << msg;

  write_text(d.file, "[1, 2]\n");
  msg = error_of<DatasetError>([&] { load_eval_dataset(d); });
  EXPECT_NE(msg.find("bad.jsonl:1: not a JSON object"), std::string::npos) << msg;

  d.name = "gsm8k";  // the bundled format: the gold needs its "####"
  write_text(d.file, "{\"question\": \"q\", \"answer\": \"#### 4\"}\n{\"question\": \"q\", \"answer\": \"no marker\"}\n");
  msg = error_of<DatasetError>([&] { load_eval_dataset(d); });
  EXPECT_NE(msg.find("bad.jsonl:2:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ground truth"), std::string::npos) << msg;

  d.file = dir + "/absent.jsonl";
  msg = error_of<DatasetError>([&] { load_eval_dataset(d); });
  EXPECT_NE(msg.find("absent.jsonl: cannot open"), std::string::npos) << msg;
}

TEST(Datasets, ConfiguredFieldsContextAndChoices) {
  const std::string dir = test_dir();
  EvalDataset d;
  d.name = "mine";
  d.file = dir + "/mine.jsonl";
  d.question_field = "q";
  d.answer_field = "a";
  d.context_field = "ctx";
  write_text(d.file, "{\"q\": \"How many?\", \"a\": 12.0, \"ctx\": \"Tom has 12 pens\"}\n"
                     "{\"q\": \"Which?\", \"a\": \"\\\\frac{1}{2}\", \"ctx\": \"\"}\n");
  auto ps = load_eval_dataset(d);
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[0].question, "Tom has 12 pens. How many?");
  EXPECT_EQ(ps[0].kind, AnswerKind::kAuto);
  EXPECT_TRUE(grade_output("\\boxed{12}", ps[0].gold, ps[0].kind).correct);
  EXPECT_EQ(ps[1].question, "Which?");
  EXPECT_TRUE(grade_output("the answer is 0.5", ps[1].gold, ps[1].kind).correct);

  d.context_field = "";
  d.choices_field = "opts";
  write_text(d.file, "{\"q\": \"Pick\", \"a\": 1, \"opts\": [\"x\", \"y\", \"z\"]}\n"
                     "{\"q\": \"Pick\", \"a\": \"c\", \"opts\": [\"x\", \"y\", \"z\"]}\n");
  ps = load_eval_dataset(d);
  EXPECT_EQ(ps[0].question, "Pick\nAnswer Choices: (A) x (B) y (C) z");
  EXPECT_EQ(ps[0].gold, "B");
  EXPECT_EQ(ps[1].gold, "C");
  EXPECT_EQ(ps[0].kind, AnswerKind::kChoice);
  EXPECT_TRUE(grade_output("The answer is (B).", ps[0].gold, ps[0].kind).correct);

  write_text(d.file, "{\"q\": \"Pick\", \"a\": 3, \"opts\": [\"x\", \"y\", \"z\"]}\n");
  const std::string msg = error_of<DatasetError>([&] { load_eval_dataset(d); });
  EXPECT_NE(msg.find("mine.jsonl:1:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"a\""), std::string::npos) << msg;
}

TEST(EvalConfig, PlainStopStringsKey) {
  const std::string dir = test_dir();
  write_text(dir + "/c.toml", "[models]\nmake_tiny = true\n");
  EXPECT_EQ(load_config(dir + "/c.toml").eval.plain_stop_strings, std::vector<std::string>{"\n\nQuestion:"});
  EXPECT_TRUE(load_config(dir + "/c.toml", {"eval.plain_stop_strings=[]"}).eval.plain_stop_strings.empty());
  const ExperimentConfig c = load_config(dir + "/c.toml", {"eval.plain_stop_strings=[\"\\n\\nProblem\", \"END\"]"});
  EXPECT_EQ(c.eval.plain_stop_strings, (std::vector<std::string>{"\n\nProblem", "END"}));
  write_text(dir + "/bad.toml", "[models]\nmake_tiny = true\n[eval]\nplain_stop_strings = [\"\"]\n");
  const std::string msg = error_of<ConfigError>([&] { load_config(dir + "/bad.toml"); });
  EXPECT_NE(msg.find("eval.plain_stop_strings[0]"), std::string::npos) << msg;
  // to_toml writes it back (escaped) to an equal config.
  write_text(dir + "/round.toml", to_toml(c));
  EXPECT_EQ(load_config(dir + "/round.toml").eval.plain_stop_strings, c.eval.plain_stop_strings);
}

// ------------------------------------------------------------------ prompts

TEST(PromptTemplate, OnePassSubstitution) {
  EXPECT_EQ(render_prompt("S={system} Q={question} {other}", "sys", "is {system} here?"),
            "S=sys Q=is {system} here? {other}");
  PromptConfig p;
  EXPECT_EQ(cot_prompt(p, "What is 2+2?"), render_chat_prompt(kDefaultSystemPrompt, "What is 2+2?"));
  p.system = "";
  EXPECT_EQ(cot_prompt(p, "Q"), "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n");  // as sampling
  EXPECT_EQ(plain_prompt(p, "What is 2+2?"), "Question: What is 2+2?\nAnswer:");
  p.templ = "[{system}] {question} =>";
  p.system = "s";
  EXPECT_EQ(cot_prompt(p, "q"), "[s] q =>");
}

// ------------------------------------------------------------------ results file

TEST(ResultsFile, TornLastLineIsCutDuplicatesRefused) {
  const std::string path = test_dir() + "/r.jsonl";
  {
    ResultsFile f(path);
    f.append({ResultLine{{"id", 0}, {"correct", true}}, ResultLine{{"id", 1}, {"correct", false}}});
    EXPECT_THROW(f.append({ResultLine{{"id", 1}}}), ResultsFileError);
  }
  const std::string good = read_text(path);
  write_text(path, good + "{\"id\": 2, \"corr");  // a kill in the middle of a write
  {
    ResultsFile f(path);
    EXPECT_EQ(f.records().size(), 2u);
    EXPECT_GT(f.truncated_bytes(), 0);
    EXPECT_EQ(read_text(path), good);
    f.append({ResultLine{{"id", 2}}});
  }
  EXPECT_EQ(json_lines(path).size(), 3u);
  write_text(path, good + "{\"id\": 2}");  // complete JSON but no newline: also an unfinished write
  EXPECT_EQ(ResultsFile(path).records().size(), 2u);
  EXPECT_EQ(read_text(path), good);

  write_text(path, good + "{\"id\": 0}\n");
  std::string msg = error_of<ResultsFileError>([&] { ResultsFile f(path); });
  EXPECT_NE(msg.find("r.jsonl:3: problem 0 appears twice"), std::string::npos) << msg;
  write_text(path, "{\"id\": 0}\nnot json\n{\"id\": 1}\n");
  msg = error_of<ResultsFileError>([&] { ResultsFile f(path); });
  EXPECT_NE(msg.find("r.jsonl:2:"), std::string::npos) << msg;
}

// A full disk (/dev/full answers every write with ENOSPC): the append fails
// naming the file and the reason, as every JSON-lines writer of the driver does.
TEST(AppendFile, FullDiskIsAnErrorNamingTheFile) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  AppendFile f("/dev/full");
  const std::string msg = error_of<AppendError>([&] { f.append("{\"id\": 0}\n"); });
  EXPECT_EQ(msg, "/dev/full: cannot append: No space left on device");
  f.append("");  // nothing to write: nothing fails
}

// ------------------------------------------------------------------ the loop on a tiny model

class EvalLoopTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = kScratch + "/eval_loop_model";
    fs::create_directories(dir);
    write_text(dir + "/tokenizer.json", lr_test::small_tokenizer().dump());
    TinyModelOptions o;
    o.out_dir = dir + "/model";
    o.layers = 2;
    o.hidden = 32;
    o.heads = 4;
    o.kv_heads = 2;
    o.vocab_from = dir + "/tokenizer.json";
    o.seed = 3;
    o.init_std = 0.5;  // peaked: the greedy choice is never a near-tie
    write_tiny_qwen2(o);
    model_ = new Qwen2Model(Qwen2Model::load(o.out_dir));
    tokenizer_ = new Tokenizer(Tokenizer::from_file(o.out_dir + "/tokenizer.json"));
    const std::vector<std::string> qs = {"What is 2 + 3?", "Tom has 4 apples and eats one. How many are left?",
                                         "12 * 7 = ?",     "A train goes 60 km in 1 hour. How far in 3 hours?",
                                         "Half of 18?",    "What is 100 - 1?", "1 + 1 + 1?", "How many legs has a cat?",
                                         "Ten minus two?", "What is 3 squared?"};
    for (size_t i = 0; i < qs.size(); ++i)
      problems_.push_back(EvalProblem{static_cast<int64_t>(i) * 2, qs[i], std::to_string(i + 5), AnswerKind::kNumber, ""});
  }
  static void TearDownTestSuite() {
    delete model_;
    delete tokenizer_;
  }
  static EvalOptions options() {
    EvalOptions o;
    PromptConfig p;
    o.prompt = [p](const std::string& q) { return cot_prompt(p, q); };
    o.max_new_tokens = 10;
    o.batch_size = 3;
    o.stop_ids = {lr_test::kSmallImEnd, lr_test::kSmallEndOfText};
    return o;
  }
  static Qwen2Model* model_;
  static Tokenizer* tokenizer_;
  static std::vector<EvalProblem> problems_;
};
Qwen2Model* EvalLoopTest::model_ = nullptr;
Tokenizer* EvalLoopTest::tokenizer_ = nullptr;
std::vector<EvalProblem> EvalLoopTest::problems_;

TEST_F(EvalLoopTest, EveryProblemGetsACompleteGradedLine) {
  const std::string path = test_dir() + "/r.jsonl";
  std::vector<int64_t> seen;
  EvalOptions o = options();
  o.progress = [&](int64_t done, int64_t total) {
    EXPECT_EQ(total, 10);
    seen.push_back(done);
  };
  const DatasetScore s = evaluate_dataset(*model_, *tokenizer_, problems_, o, path);
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 3, 6, 9, 10}));
  EXPECT_TRUE(s.complete);
  EXPECT_EQ(s.n, 10);
  EXPECT_EQ(s.done_now, 10);
  const auto lines = json_lines(path);
  ASSERT_EQ(lines.size(), 10u);
  int64_t correct = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const json& l = lines[i];
    for (const char* k : {"id", "question", "gold", "output", "pred", "correct", "tokens", "stopped"})
      EXPECT_TRUE(l.contains(k)) << k;
    EXPECT_FALSE(l.contains("seconds"));  // the timing lives in the timing file
    EXPECT_EQ(l["id"], problems_[i].id);
    EXPECT_EQ(l["question"], problems_[i].question);
    EXPECT_FALSE(l.contains("output_ids"));
    const auto g = grade_output(l["output"].get<std::string>(), problems_[i].gold, problems_[i].kind);
    EXPECT_EQ(l["pred"], g.pred);
    EXPECT_EQ(l["correct"], g.correct);
    EXPECT_LE(l["tokens"].get<int64_t>(), 10);
    correct += g.correct;
  }
  EXPECT_EQ(s.correct, correct);
  // Again: nothing to do, same file.
  const std::string before = read_text(path);
  const DatasetScore again = evaluate_dataset(*model_, *tokenizer_, problems_, options(), path);
  EXPECT_EQ(again.done_now, 0);
  EXPECT_EQ(again.done_before, 10);
  EXPECT_EQ(read_text(path), before);
}

TEST_F(EvalLoopTest, InterruptedAndResumedEqualsUninterrupted) {
  const std::string dir = test_dir();
  EvalOptions o = options();
  o.record_ids = true;
  evaluate_dataset(*model_, *tokenizer_, problems_, o, dir + "/full.jsonl");
  const std::string full = read_text(dir + "/full.jsonl");
  ASSERT_EQ(json_lines(dir + "/full.jsonl").size(), 10u);

  // Ctrl-C after the first batch: the flag is polled between batches.
  std::atomic<bool> stop{false};
  EvalOptions s = o;
  s.stop = &stop;
  s.progress = [&](int64_t done, int64_t) { if (done >= 3) stop = true; };
  const DatasetScore part = evaluate_dataset(*model_, *tokenizer_, problems_, s, dir + "/cut.jsonl");
  EXPECT_FALSE(part.complete);
  EXPECT_EQ(part.n, 3);
  const DatasetScore rest = evaluate_dataset(*model_, *tokenizer_, problems_, o, dir + "/cut.jsonl");
  EXPECT_EQ(rest.done_before, 3);
  EXPECT_EQ(rest.done_now, 7);
  EXPECT_EQ(read_text(dir + "/cut.jsonl"), full);  // byte for byte

  // A kill in the middle of writing batch 2 (lines 4..6): a torn line, and the
  // batch is regenerated whole but only its missing problems are written.
  const std::string text = read_text(dir + "/full.jsonl");
  size_t cut = 0;
  for (int i = 0; i < 4; ++i) cut = text.find('\n', cut) + 1;
  write_text(dir + "/torn.jsonl", text.substr(0, cut + 20));
  const DatasetScore resumed = evaluate_dataset(*model_, *tokenizer_, problems_, o, dir + "/torn.jsonl");
  EXPECT_EQ(resumed.done_before, 4);
  EXPECT_EQ(resumed.done_now, 6);
  EXPECT_EQ(read_text(dir + "/torn.jsonl"), full);
  EXPECT_EQ(resumed.correct, score_results(ResultsFile(dir + "/full.jsonl").records(), problems_).correct);

  // A smaller selection scores only its own problems.
  const std::vector<EvalProblem> first4(problems_.begin(), problems_.begin() + 4);
  EXPECT_EQ(score_results(ResultsFile(dir + "/full.jsonl").records(), first4).n, 4);
}

TEST_F(EvalLoopTest, ShardsMergedEqualTheWholeFileAndTimeEveryProblemOnce) {
  const std::string dir = test_dir();
  EvalOptions o = options();  // 10 problems in batches of 3: uneven shares over 2 and 3
  o.timing_path = dir + "/whole.timing.jsonl";
  const DatasetScore whole = evaluate_dataset(*model_, *tokenizer_, problems_, o, dir + "/whole.jsonl");
  std::set<int64_t> all;
  for (const EvalProblem& p : problems_) all.insert(p.id);
  EXPECT_GT(whole.seconds, 0.0);
  EXPECT_NEAR(timed_seconds(o.timing_path, all), whole.seconds, 1e-12);
  std::vector<int64_t> ids(all.begin(), all.end());
  for (int world : {2, 3}) {
    const std::string merged = dir + "/merged" + std::to_string(world) + ".jsonl";
    std::vector<std::string> parts, timings;
    int64_t lines = 0;
    for (int r = 0; r < world; ++r) {
      EvalOptions s = options();
      s.shard = Shard{r, world};
      parts.push_back(dir + "/part" + std::to_string(world) + "_" + std::to_string(r) + ".jsonl");
      timings.push_back(parts.back() + ".timing");
      s.timing_path = timings.back();
      int64_t total = -1;
      s.progress = [&](int64_t, int64_t t) { total = t; };
      const DatasetScore part = evaluate_dataset(*model_, *tokenizer_, problems_, s, parts.back());
      EXPECT_EQ(total, s.shard.items_owned(10, 3));
      EXPECT_EQ(part.n, total);
      lines += part.n;
    }
    EXPECT_EQ(lines, 10);
    // A file holding problem 3 already (an earlier call): kept as it is, the
    // rest after it in order, as a one-process run resuming that file writes.
    const std::string whole_text = read_text(dir + "/whole.jsonl");
    size_t l3 = 0;
    for (int i = 0; i < 3; ++i) l3 = whole_text.find('\n', l3) + 1;
    const std::string line3 = whole_text.substr(l3, whole_text.find('\n', l3) + 1 - l3);
    write_text(merged, line3);
    write_text(dir + "/resumed.jsonl", line3);
    evaluate_dataset(*model_, *tokenizer_, problems_, options(), dir + "/resumed.jsonl");
    EXPECT_EQ(merge_result_parts(merged, ids, parts), 9);
    EXPECT_EQ(read_text(merged), read_text(dir + "/resumed.jsonl"));
    EXPECT_NE(read_text(merged), whole_text);
    fs::remove(merged);
    EXPECT_EQ(merge_result_parts(merged, ids, parts), 10);
    EXPECT_EQ(read_text(merged), read_text(dir + "/whole.jsonl")) << world;
    EXPECT_EQ(merge_result_parts(merged, ids, parts), 0);  // nothing to add: untouched
    const std::string timing = dir + "/merged" + std::to_string(world) + ".timing.jsonl";
    merge_timing_parts(timing, timings);
    std::multiset<int64_t> timed;
    for (const json& j : json_lines(timing))
      for (const auto& id : j["ids"]) timed.insert(id.get<int64_t>());
    EXPECT_EQ(timed, std::multiset<int64_t>(all.begin(), all.end()));
  }
}

TEST_F(EvalLoopTest, RecordedIdsAreTheExactPromptAndOutput) {
  const std::string path = test_dir() + "/r.jsonl";
  EvalOptions o = options();
  o.record_ids = true;
  evaluate_dataset(*model_, *tokenizer_, problems_, o, path);
  for (const json& l : json_lines(path)) {
    const auto prompt = l["prompt_ids"].get<std::vector<int32_t>>();
    const auto output = l["output_ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(prompt, tokenizer_->encode(cot_prompt(PromptConfig{}, l["question"].get<std::string>())));
    EXPECT_EQ(static_cast<int64_t>(output.size()), l["tokens"].get<int64_t>());
    std::vector<int32_t> text_ids = output;
    if (l["stopped"].get<bool>()) text_ids.pop_back();
    EXPECT_EQ(l["output"], tokenizer_->decode(text_ids, true));
  }
}

TEST_F(EvalLoopTest, StopStringsEndTheRowAndCutTheText) {
  const std::string dir = test_dir();
  EvalOptions o = options();
  o.record_ids = true;
  evaluate_dataset(*model_, *tokenizer_, problems_, o, dir + "/plain.jsonl");
  const auto plain = json_lines(dir + "/plain.jsonl");
  // A stop string taken from some output: two printable ASCII characters.
  std::string stop;
  for (const json& l : plain) {
    const std::string t = l["output"].get<std::string>();
    for (size_t i = 1; i + 1 < t.size() && stop.empty(); ++i)
      if (t[i] > 32 && t[i] < 127 && t[i + 1] > 32 && t[i + 1] < 127) stop = t.substr(i, 2);
    if (!stop.empty()) break;
  }
  ASSERT_FALSE(stop.empty()) << "no ASCII pair in the outputs: pick another seed";
  o.stop_strings = {stop};
  evaluate_dataset(*model_, *tokenizer_, problems_, o, dir + "/cut.jsonl");
  const auto cut = json_lines(dir + "/cut.jsonl");
  ASSERT_EQ(cut.size(), plain.size());
  int hits = 0;
  for (size_t i = 0; i < cut.size(); ++i) {
    const std::string full = plain[i]["output"].get<std::string>();
    const size_t at = full.find(stop);
    if (at == std::string::npos) {
      EXPECT_EQ(cut[i]["output"], full);
      continue;
    }
    ++hits;
    EXPECT_EQ(cut[i]["output"], full.substr(0, at)) << i;
    EXPECT_TRUE(cut[i]["stopped"].get<bool>());
    EXPECT_LE(cut[i]["tokens"].get<int64_t>(), plain[i]["tokens"].get<int64_t>());
    const auto a = cut[i]["output_ids"].get<std::vector<int64_t>>();
    const auto b = plain[i]["output_ids"].get<std::vector<int64_t>>();
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin())) << "a prefix of the unstopped output";
  }
  EXPECT_GT(hits, 0);
}

// Rejection sampling: gold answers set to what the model says make those
// trajectories correct; the kept sequences are the exact ids.
TEST_F(EvalLoopTest, SftSamplesKeepTheCorrectTrajectories) {
  const std::string dir = test_dir();
  EvalOptions o = options();
  o.record_ids = true;
  evaluate_dataset(*model_, *tokenizer_, problems_, o, dir + "/first.jsonl");
  std::vector<EvalProblem> rigged = problems_;
  int64_t expect_kept = 0;
  const auto first = json_lines(dir + "/first.jsonl");
  for (size_t i = 0; i < rigged.size(); ++i) {
    const std::string pred = first[i]["pred"].get<std::string>();
    if (!pred.empty() && i % 2 == 0) {
      rigged[i].gold = pred;
      rigged[i].kind = AnswerKind::kMath;
      ++expect_kept;
    }
  }
  evaluate_dataset(*model_, *tokenizer_, rigged, o, dir + "/rigged.jsonl");
  const ResultsFile file(dir + "/rigged.jsonl");
  const SftSamples all = sft_samples(file, rigged, 1 << 20);
  EXPECT_EQ(all.trajectories, 10);
  EXPECT_GE(all.kept, expect_kept);
  ASSERT_GT(all.kept, 0) << "no trajectory has an answer to rig: pick another seed";
  int64_t tokens = 0;
  for (const auto& s : all.samples) tokens += target_tokens(s);
  EXPECT_EQ(all.tuned_tokens, tokens);
  EXPECT_EQ(all.truncated, 0);
  for (const auto& [id, r] : file.records()) {
    if (!r["correct"].get<bool>()) continue;
    const auto p = r["prompt_ids"].get<std::vector<int64_t>>();
    auto ids = p;
    for (int64_t x : r["output_ids"].get<std::vector<int64_t>>()) ids.push_back(x);
    bool found = false;
    for (const auto& s : all.samples) found |= s.ids == ids && s.loss_start == static_cast<int64_t>(p.size());
    EXPECT_TRUE(found) << "problem " << id;
  }
  // A length cap cuts the outputs' ends.
  const int64_t cap = static_cast<int64_t>(all.samples[0].loss_start) + 2;
  const SftSamples capped = sft_samples(file, rigged, cap);
  for (const auto& s : capped.samples) EXPECT_LE(static_cast<int64_t>(s.ids.size()), cap);
  EXPECT_LE(capped.tuned_tokens, all.tuned_tokens);
}

// ------------------------------------------------------------------ the SFT objective

namespace {
std::string tiny_lora_model(const std::string& dir) {
  TinyModelOptions o;
  o.out_dir = dir + "/model";
  o.vocab = 64;
  o.hidden = 32;
  o.heads = 4;
  o.kv_heads = 2;
  o.seed = 11;
  o.init_std = 0.2;
  write_tiny_qwen2(o);
  return o.out_dir;
}
std::vector<SequenceSample> ce_batch() {
  return {SequenceSample{{3, 17, 42, 9, 5, 20, 31}, 3}, SequenceSample{{8, 7, 6, 5}, 1},
          SequenceSample{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 9}};
}
}  // namespace

TEST(SequenceObjective, GradientEqualsAutogradCrossEntropy) {
  auto model = Qwen2Model::load(tiny_lora_model(test_dir()));
  LoraConfig cfg;
  cfg.dropout = 0.0;
  cfg.target_modules = {"q_proj", "v_proj", "down_proj"};
  const auto params = attach_lora(model, cfg);
  {
    torch::NoGradGuard g;
    torch::manual_seed(5);
    for (const auto& e : lora_adapters(model)) e.second->B.normal_(0.0, 0.1);
  }
  set_lora_training(model, false);
  const auto batch = ce_batch();

  auto ours = sequence_ce_loss(model, batch);
  ours.backward();
  std::vector<torch::Tensor> g_ours;
  for (const auto& p : params) {
    g_ours.push_back(p.grad().clone());
    p.mutable_grad().zero_();
  }

  // The composite: each sequence alone, every position's logits, log_softmax
  // and cross_entropy summed over the target tokens, divided by their count.
  torch::Tensor total = torch::zeros({}, torch::kFloat);
  int64_t n = 0;
  for (const auto& s : batch) {
    const int64_t len = static_cast<int64_t>(s.ids.size());
    const auto ids = torch::tensor(s.ids, torch::kLong).reshape({1, len});
    const auto hidden = model.hidden_states(ids, torch::Tensor(), torch::Tensor());
    const auto logits = model.lm_head(hidden).reshape({len, -1}).to(torch::kFloat);
    const auto pred = logits.slice(0, s.loss_start - 1, len - 1);
    const auto target = ids.reshape({len}).slice(0, s.loss_start, len);
    total = total + torch::nn::functional::cross_entropy(
                        pred, target, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    n += len - s.loss_start;
  }
  const auto reference = total / static_cast<double>(n);
  reference.backward();
  EXPECT_NEAR(ours.item<double>(), reference.item<double>(), 1e-5 * std::max(1.0, reference.item<double>()));
  double max_diff = 0, max_ref = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    max_diff = std::max(max_diff, (g_ours[i] - params[i].grad()).abs().max().item<double>());
    max_ref = std::max(max_ref, params[i].grad().abs().max().item<double>());
  }
  EXPECT_GT(max_ref, 1e-6);
  EXPECT_LT(max_diff, 1e-5 * std::max(1.0, max_ref)) << "max |grad| " << max_ref;
}

TEST(SequenceObjective, RejectsEmptyBatchesAndBadLossStart) {
  auto model = Qwen2Model::load(tiny_lora_model(test_dir()));
  EXPECT_THROW(sequence_ce_loss(model, {}), std::invalid_argument);
  EXPECT_THROW(sequence_ce_loss(model, {SequenceSample{{1, 2, 3}, 0}}), std::invalid_argument);
  EXPECT_THROW(sequence_ce_loss(model, {SequenceSample{{1, 2, 3}, 3}}), std::invalid_argument);
  EXPECT_EQ(target_tokens(SequenceSample{{1, 2, 3}, 1}), 2);
}

TEST(SequenceObjective, TrainerLowersTheCrossEntropy) {
  auto model = Qwen2Model::load(tiny_lora_model(test_dir()));
  LoraConfig cfg;
  cfg.dropout = 0.0;
  const auto params = attach_lora(model, cfg);
  TrainOptions o;
  o.learning_rate = 2e-2;
  o.batch_size = 3;
  o.grad_accum = 1;
  o.total_updates = 12;
  Trainer trainer(model, params, o);
  const auto batch = ce_batch();
  const auto losses = trainer.train_with(
      static_cast<int64_t>(batch.size()),
      [&](const TrainingPass& mb) {
        std::vector<SequenceSample> b;
        for (int64_t i : mb.indices) b.push_back(batch[static_cast<size_t>(i)]);
        return sequence_ce_loss(model, b, mb.objective);
      },
      [&](int64_t i) {
        const SequenceSample& s = batch[static_cast<size_t>(i)];
        return SampleSize{target_tokens(s), static_cast<int64_t>(s.ids.size())};
      });
  ASSERT_EQ(losses.size(), 12u);
  EXPECT_LT(losses.back(), 0.8 * losses.front()) << losses.front() << " -> " << losses.back();
}

// ------------------------------------------------------------------ settings

TEST(RunSettings, DifferenceNamesTheKey) {
  const json a = {{"model", {{"max_new_tokens", 24}, {"prompt", "cot"}}}};
  json b = a;
  EXPECT_FALSE(settings_difference(a, b));
  b["model"]["max_new_tokens"] = 32;
  const auto d = settings_difference(a, b);
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, "model.max_new_tokens: then 24, now 32");
  const std::string dir = test_dir();
  EXPECT_FALSE(read_settings(dir));
  write_settings(dir, a);
  EXPECT_EQ(*read_settings(dir), a);
}
