// sft.source = "ground_truth" (stages/ground_truth_samples.h): every training
// problem becomes prompt ids + its worked solution's ids + the stop id, the
// reference built here from the prompt text written out by hand and the
// tokenizer's own encode of each piece.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/experiment_config.h"
#include "prompt/chat_prompt.h"
#include "stages/ground_truth_samples.h"
#include "stages/training_problems.h"
#include "support/process_scratch.h"
#include "support/small_tokenizer.h"
#include "tokenizer.h"

namespace fs = std::filesystem;
using namespace lr::driver;

namespace {

const std::string kScratch = lrtest::process_scratch(LR_TRAIN_TEST_SCRATCH "_gt");
constexpr int64_t kImEnd = 294;

struct Fixture {
  ExperimentConfig config;
  Tokenizer tokenizer;
};

Fixture fixture() {
  fs::create_directories(kScratch);
  std::ofstream(kScratch + "/tokenizer.json") << lr_test::small_tokenizer().dump();
  std::ofstream(kScratch + "/train.jsonl") << "{\"question\": \"What is 2 + 2?\", \"answer\": \"2 + 2 = 4\\n#### 4\"}\n"
                                            << "\n"
                                            << "{\"question\": \"Seven?\", \"answer\": 7}\n"
                                            << "{\"question\": \"Not used\", \"answer\": \"#### 1\"}\n";
  ExperimentConfig c;
  c.data.train_file = kScratch + "/train.jsonl";
  c.data.shuffle = false;
  c.sft.num_problems = 2;
  return {c, Tokenizer::from_file(kScratch + "/tokenizer.json")};
}

std::vector<int64_t> ids(const Tokenizer& t, const std::string& text) {
  const std::vector<int32_t> v = t.encode(text);
  return {v.begin(), v.end()};
}

}  // namespace

TEST(GroundTruthSft, SequencesArePromptThenSolutionThenStop) {
  Fixture f = fixture();
  for (const bool chat : {true, false}) {
    if (!chat) f.config.prompt.templ = "Q: {question}\nA:";
    const auto prompt = [&](const std::string& q) {
      return ids(f.tokenizer, chat ? render_chat_prompt(f.config.prompt.system, q) : "Q: " + q + "\nA:");
    };
    const SftSamples s = ground_truth_samples(f.config, f.tokenizer, sft_problems(f.config), {kImEnd, 295});
    ASSERT_EQ(s.kept, 2);
    EXPECT_EQ(s.trajectories, 2);
    const std::vector<std::pair<std::string, std::string>> want = {{"What is 2 + 2?", "2 + 2 = 4\n#### 4"},
                                                                   {"Seven?", "7"}};
    int64_t tuned = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      std::vector<int64_t> expect = prompt(want[i].first);
      const int64_t loss_start = static_cast<int64_t>(expect.size());
      for (int64_t id : ids(f.tokenizer, want[i].second)) expect.push_back(id);
      expect.push_back(kImEnd);
      EXPECT_EQ(s.samples[i].ids, expect) << i;
      EXPECT_EQ(s.samples[i].loss_start, loss_start) << i;
      tuned += static_cast<int64_t>(expect.size()) - loss_start;
    }
    EXPECT_EQ(s.tuned_tokens, tuned);
  }
}

TEST(GroundTruthSft, LongSolutionsAreCutAndMissingOnesNamed) {
  Fixture f = fixture();
  f.config.sft.num_problems = 1;
  const size_t prompt_len = ids(f.tokenizer, render_chat_prompt(f.config.prompt.system, "What is 2 + 2?")).size();
  f.config.sft.max_seq_len = static_cast<int64_t>(prompt_len) + 3;
  const SftSamples s = ground_truth_samples(f.config, f.tokenizer, sft_problems(f.config), {kImEnd});
  ASSERT_EQ(s.kept, 1);
  EXPECT_EQ(s.truncated, 1);
  EXPECT_EQ(s.samples[0].ids.size(), prompt_len + 3);
  f.config.data.answer_field = "missing";
  try {
    std::vector<EvalProblem> problems = {{0, "What is 2 + 2?", "4", AnswerKind::kAuto, ""}};
    ground_truth_samples(f.config, f.tokenizer, problems, {kImEnd});
    ADD_FAILURE() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
  }
}
