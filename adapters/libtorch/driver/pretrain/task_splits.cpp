#include "pretrain/task_splits.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "io/atomic_file.h"

namespace lr::driver {

namespace {
// Splits draw from their own stream of the seed (the corpus draws from others).
constexpr uint64_t kSplitStream = 0x5b117;
}  // namespace

TaskSplits make_task_splits(uint64_t seed, const TaskSplitSizes& sizes) {
  std::seed_seq seq{uint32_t(seed), uint32_t(seed >> 32), uint32_t(kSplitStream)};
  TaskRng rng(seq);
  std::unordered_set<std::string> seen;
  TaskSplits s;
  using Part = std::pair<std::vector<WordProblem>*, int64_t>;
  for (auto [split, size] : {Part{&s.train, sizes.train}, Part{&s.val, sizes.val}, Part{&s.test, sizes.test}}) {
    while (int64_t(split->size()) < size) {
      WordProblem p = chain_problem(rng);
      if (seen.insert(p.question).second) split->push_back(std::move(p));
    }
  }
  return s;
}

std::string problem_json_line(const WordProblem& problem) {
  nlohmann::ordered_json j;
  j["question"] = problem.question;
  j["answer"] = problem.answer;
  return j.dump() + "\n";
}

void write_task_splits(const std::string& dir, const TaskSplits& splits) {
  std::filesystem::create_directories(dir);
  using Part = std::pair<const char*, const std::vector<WordProblem>*>;
  for (auto [name, split] :
       {Part{"train.jsonl", &splits.train}, Part{"val.jsonl", &splits.val}, Part{"test.jsonl", &splits.test}}) {
    std::string text;
    for (const WordProblem& p : *split) text += problem_json_line(p);
    write_file_atomically((std::filesystem::path(dir) / name).string(), text);
  }
}

}  // namespace lr::driver
