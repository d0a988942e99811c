// The synthetic task (pretrain/word_problems, task_splits, corpus): each
// answer re-checked by an independent reading of its text (the numbers of the
// question, each worked line's arithmetic, the chain, the "#### N" line),
// determinism, disjoint splits, the committed miniature files equal to a
// regeneration, and a corpus that never yields a held-out question.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include "config/defaults.h"
#include "pretrain/corpus.h"
#include "pretrain/task_splits.h"

using namespace lr::driver;

namespace {

std::vector<long> numbers_in(const std::string& text) {
  std::vector<long> out;
  static const std::regex number(R"(\d+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), number); it != std::sregex_iterator(); ++it)
    out.push_back(std::stol(it->str()));
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// An arithmetic problem read back: the question's numbers are the start and
// each step's operand (a multiplication names its factor as a word); each
// line "a op b=c" is right, starts from the previous result, and the last line
// is "#### " and the final result. Returns the number of steps.
int check_arithmetic(const WordProblem& p) {
  const std::vector<std::string> lines = lines_of(p.answer);
  EXPECT_GE(lines.size(), 2u) << p.answer;
  static const std::regex step(R"((\d+)([-+*])(\d+)=(\d+))");
  long value = numbers_in(p.question).at(0);
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    std::smatch m;
    EXPECT_TRUE(std::regex_match(lines[i], m, step)) << lines[i];
    if (m.empty()) return -1;
    const long a = std::stol(m[1]), b = std::stol(m[3]), c = std::stol(m[4]);
    EXPECT_EQ(a, value) << p.answer;
    const char op = m[2].str()[0];
    EXPECT_EQ(c, op == '+' ? a + b : op == '-' ? a - b : a * b) << lines[i];
    EXPECT_GE(c, 0);
    EXPECT_LT(c, kTaskValueLimit);
    value = c;
  }
  EXPECT_EQ(lines.back(), "#### " + std::to_string(value));
  return int(lines.size()) - 1;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST(SyntheticTask, ChainAnswersAreRightAndChained) {
  TaskRng rng(3);
  std::set<int> steps_seen;
  for (int i = 0; i < 500; ++i) {
    const WordProblem p = chain_problem(rng);
    const int steps = check_arithmetic(p);
    EXPECT_GE(steps, 2);
    EXPECT_LE(steps, 4);
    steps_seen.insert(steps);
    EXPECT_NE(p.question.find("How many"), std::string::npos);
  }
  EXPECT_EQ(steps_seen, (std::set<int>{2, 3, 4}));
}

TEST(SyntheticTask, GeneralMixHasOneStepProblemsAndListExercises) {
  TaskRng rng(4);
  int arithmetic = 0, copies = 0, reversals = 0, counts = 0;
  for (int i = 0; i < 400; ++i) {
    const WordProblem p = general_problem(rng);
    const std::vector<long> q = numbers_in(p.question);
    const std::vector<std::string> lines = lines_of(p.answer);
    ASSERT_EQ(lines.size(), 2u) << p.answer;
    const std::vector<long> written = numbers_in(lines[0]);
    if (p.question.rfind("Copy the list ", 0) == 0) {
      ++copies;
      EXPECT_EQ(written, q);
    } else if (p.question.rfind("Reverse the list ", 0) == 0) {
      ++reversals;
      EXPECT_EQ(written, std::vector<long>(q.rbegin(), q.rend()));
    } else if (p.question.rfind("How many numbers", 0) == 0) {
      ++counts;
      ASSERT_EQ(written.size(), q.size());
      for (size_t k = 0; k < written.size(); ++k) EXPECT_EQ(written[k], long(k + 1));
    } else {
      ++arithmetic;
      EXPECT_EQ(check_arithmetic(p), 1);
      continue;
    }
    EXPECT_EQ(lines[1], "#### " + std::to_string(written.back()));  // the answer is the last number written
  }
  EXPECT_GT(arithmetic, 120);
  EXPECT_GT(copies, 30);
  EXPECT_GT(reversals, 30);
  EXPECT_GT(counts, 30);
}

TEST(SyntheticTask, SplitsAreDeterministicAndDisjoint) {
  const TaskSplitSizes sizes{200, 50, 80};
  const TaskSplits a = make_task_splits(11, sizes), b = make_task_splits(11, sizes), c = make_task_splits(12, sizes);
  ASSERT_EQ(a.train.size(), 200u);
  ASSERT_EQ(a.val.size(), 50u);
  ASSERT_EQ(a.test.size(), 80u);
  std::set<std::string> all;
  for (const auto* split : {&a.train, &a.val, &a.test})
    for (const WordProblem& p : *split) {
      EXPECT_TRUE(all.insert(p.question).second) << "repeated: " << p.question;
      check_arithmetic(p);
    }
  for (size_t i = 0; i < a.test.size(); ++i) {
    EXPECT_EQ(a.test[i].question, b.test[i].question);
    EXPECT_EQ(a.test[i].answer, b.test[i].answer);
  }
  EXPECT_NE(a.train[0].question + a.train[1].question, c.train[0].question + c.train[1].question);
}

TEST(SyntheticTask, CommittedMiniatureSplitsEqualRegeneration) {
  const TaskSplits s = make_task_splits(uint64_t(defaults::pretrain::task_seed));
  using Part = std::pair<const char*, const std::vector<WordProblem>*>;
  for (auto [name, split] : {Part{"train.jsonl", &s.train}, Part{"val.jsonl", &s.val}, Part{"test.jsonl", &s.test}}) {
    std::string text;
    for (const WordProblem& p : *split) text += problem_json_line(p);
    EXPECT_EQ(read_file(std::string(LR_MINIATURE_DIR) + "/" + name), text) << name;
  }
  EXPECT_EQ(s.train.size(), 2000u);
  EXPECT_EQ(s.val.size(), 300u);
  EXPECT_EQ(s.test.size(), 500u);
}

TEST(PretrainCorpus, DocumentsAreSeededByIndexAndNeverHeldOut) {
  const PretrainCorpus free_corpus(5, 0.5, {});
  std::unordered_set<std::string> held_out;
  for (int64_t i = 0; i < 40; ++i) held_out.insert(free_corpus.document(CorpusPhase::chains, i).question);
  const PretrainCorpus corpus(5, 0.5, held_out);
  int chains = 0, replaced = 0;
  for (int64_t i = 999; i >= 0; --i) {  // any order: a document depends on its index only
    const WordProblem p = corpus.document(CorpusPhase::chains, i);
    EXPECT_EQ(held_out.count(p.question), 0u) << i;
    if (i >= 40) {
      EXPECT_EQ(p.question, free_corpus.document(CorpusPhase::chains, i).question);
    } else {
      replaced += p.question != free_corpus.document(CorpusPhase::chains, i).question;
    }
    chains += lines_of(p.answer).size() >= 3;  // the general mix's answers have 2 lines
  }
  EXPECT_EQ(replaced, 40);
  EXPECT_GT(chains, 430);  // chain_fraction 0.5 of 1000
  EXPECT_LT(chains, 570);
  for (int64_t i = 0; i < 200; ++i)  // the general phase has no chains
    EXPECT_LE(lines_of(corpus.document(CorpusPhase::general, i).answer).size(), 2u);
  for (const WordProblem& p : corpus.tokenizer_sample(100)) EXPECT_EQ(held_out.count(p.question), 0u);
}
