// Every bundled eval set's gold helper on its first lines (bench/data/gsm8k,
// bench/data/eval/*): each gold parses, and a model output that boxes the
// gold is graded correct.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "answer_extraction.h"
#include "gold_answers.h"
#include "grading.h"
#include "numeric_value.h"

namespace lr::driver {
namespace {

std::vector<nlohmann::json> first_lines(const std::string& relative, size_t count) {
  const std::string path = std::string(LR_BENCH_DATA_DIR) + "/" + relative;
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::vector<nlohmann::json> rows;
  std::string line;
  while (rows.size() < count && std::getline(in, line))
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  EXPECT_EQ(rows.size(), count) << path;
  return rows;
}

TEST(GoldAnswers, Gsm8kFirst50AreNumbers) {
  const auto rows = first_lines("gsm8k/test.jsonl", 50);
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string gold = gold_answer_gsm8k(rows[i].at("answer").get<std::string>());
    EXPECT_TRUE(numeric_value(gold).has_value()) << "line " << i + 1 << ": " << gold;
    EXPECT_EQ(gold.find(','), std::string::npos) << "line " << i + 1;
    // The dataset's own solution text ends in "#### N": the last-number fallback finds it too.
    EXPECT_TRUE(grade_output(rows[i].at("answer").get<std::string>(), rows[i].at("answer").get<std::string>()).correct)
        << "line " << i + 1;
    EXPECT_TRUE(answers_match(extract_answer("\\boxed{" + gold + "}"), gold)) << "line " << i + 1;
  }
  EXPECT_EQ(gold_answer_gsm8k(rows[0].at("answer").get<std::string>()), "18");
}

TEST(GoldAnswers, Gsm8kCommasAndMissingMarker) {
  EXPECT_EQ(gold_answer_gsm8k("so...\n#### 1,234"), "1234");
  EXPECT_EQ(gold_answer_gsm8k("#### -5"), "-5");
  EXPECT_THROW(gold_answer_gsm8k("42"), std::invalid_argument);
}

TEST(GoldAnswers, SvampFirst50AreNumbers) {
  const auto rows = first_lines("eval/svamp/test.jsonl", 50);
  for (size_t i = 0; i < rows.size(); ++i) {
    const double value = rows[i].at("Answer").get<double>();
    const std::string gold = gold_answer_svamp(value);
    ASSERT_TRUE(numeric_value(gold).has_value()) << "line " << i + 1 << ": " << gold;
    EXPECT_DOUBLE_EQ(*numeric_value(gold), value) << "line " << i + 1;
    EXPECT_TRUE(grade_output("The answer is " + gold + ".", gold, AnswerKind::kNumber).correct) << "line " << i + 1;
  }
  EXPECT_EQ(gold_answer_svamp(145.0), "145");
  EXPECT_EQ(gold_answer_svamp(2.5), "2.5");
}

TEST(GoldAnswers, AsdivFirst50) {
  const auto rows = first_lines("eval/asdiv/test.jsonl", 50);
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string raw = rows[i].at("answer").get<std::string>();
    const std::string gold = gold_answer_asdiv(raw);
    EXPECT_FALSE(gold.empty()) << "line " << i + 1;
    EXPECT_EQ(gold.find('('), std::string::npos) << "line " << i + 1 << ": " << raw;
    EXPECT_TRUE(answers_match(extract_answer("\\boxed{" + gold + "}"), gold)) << "line " << i + 1;
  }
  EXPECT_EQ(gold_answer_asdiv(rows[0].at("answer").get<std::string>()), "9");
  EXPECT_EQ(gold_answer_asdiv("9 (apples)"), "9");
  EXPECT_EQ(gold_answer_asdiv("3:30 p.m."), "3:30p.m");
  EXPECT_EQ(gold_answer_asdiv("Yes"), "Yes");
}

TEST(GoldAnswers, MinervaFirst20) {
  const auto rows = first_lines("eval/minerva_math/test.jsonl", 20);
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string gold = gold_answer_minerva(rows[i].at("solution").get<std::string>());
    EXPECT_FALSE(gold.empty()) << "line " << i + 1;
    EXPECT_TRUE(answers_match(extract_answer("Thus \\boxed{" + gold + "}."), gold)) << "line " << i + 1;
  }
  EXPECT_EQ(gold_answer_minerva(rows[0].at("solution").get<std::string>()), "1.6");
  EXPECT_EQ(gold_answer_minerva(rows[1].at("solution").get<std::string>()), "4.5e33");
  EXPECT_THROW(gold_answer_minerva("no box"), std::invalid_argument);
}

TEST(GoldAnswers, OlympiadBenchFirst20) {
  const auto rows = first_lines("eval/olympiadbench/test.jsonl", 20);
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto list = rows[i].at("final_answer").get<std::vector<std::string>>();
    const std::string gold = gold_answer_olympiadbench(list);
    EXPECT_FALSE(gold.empty()) << "line " << i + 1;
    EXPECT_EQ(gold.find('$'), std::string::npos) << "line " << i + 1;
    EXPECT_TRUE(answers_match(extract_answer("So the answer is \\boxed{" + gold + "}"), gold)) << "line " << i + 1;
  }
  EXPECT_EQ(gold_answer_olympiadbench(rows[0].at("final_answer").get<std::vector<std::string>>()), "2");
  EXPECT_EQ(gold_answer_olympiadbench(rows[1].at("final_answer").get<std::vector<std::string>>()), "\\frac{1}{2n+2}");
  EXPECT_THROW(gold_answer_olympiadbench({}), std::invalid_argument);
}

TEST(GoldAnswers, MmluStemFirst50) {
  const auto rows = first_lines("eval/mmlu_stem/test.jsonl", 50);
  for (size_t i = 0; i < rows.size(); ++i) {
    const int index = rows[i].at("answer").get<int>();
    ASSERT_EQ(rows[i].at("choices").size(), 4u) << "line " << i + 1;
    const std::string gold = gold_answer_mmlu(index);
    EXPECT_EQ(gold, std::string(1, static_cast<char>('A' + index)));
    EXPECT_TRUE(grade_output("The answer is (" + gold + ").", gold).correct) << "line " << i + 1;
    EXPECT_FALSE(grade_output("The answer is (" + gold_answer_mmlu((index + 1) % 4) + ").", gold).correct);
  }
  EXPECT_EQ(gold_answer_mmlu(rows[0].at("answer").get<int>()), "C");
}

}  // namespace
}  // namespace lr::driver
