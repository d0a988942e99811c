#include "sft/sft_problems.h"

#include <algorithm>
#include <random>

namespace lr::driver {

std::vector<EvalProblem> sft_problems(const ExperimentConfig& c) {
  EvalDataset d;
  d.name = "sft_train";  // not a bundled name: generic fields, AnswerKind::kAuto
  d.file = c.data.train_file;
  d.question_field = c.data.question_field;
  d.answer_field = c.data.answer_field;
  std::vector<EvalProblem> problems = load_eval_dataset(d, c.data.shuffle ? 0 : c.sft.num_problems);
  // The sampling stage's order (sample_command.cpp): shuffled with run.seed when asked.
  if (c.data.shuffle) std::shuffle(problems.begin(), problems.end(), std::mt19937_64(uint64_t(c.run.seed)));
  if (c.sft.num_problems > 0 && c.sft.num_problems < int64_t(problems.size()))
    problems.resize(size_t(c.sft.num_problems));
  return problems;
}

}  // namespace lr::driver
