#include "stages/training_problems.h"

namespace lr::driver {

std::vector<Problem> sample_problems(const ExperimentConfig& c) {
  std::vector<Problem> problems = read_problems(c.data.train_file, c.data.question_field, c.data.answer_field);
  select_training_problems(problems, c, c.data.num_problems);
  return problems;
}

std::vector<EvalProblem> sft_problems(const ExperimentConfig& c) {
  EvalDataset d;
  d.name = "sft_train";  // not a bundled name: generic fields, AnswerKind::kAuto
  d.file = c.data.train_file;
  d.question_field = c.data.question_field;
  d.answer_field = c.data.answer_field;
  // Without shuffling only the first problems are needed.
  std::vector<EvalProblem> problems = load_eval_dataset(d, c.data.shuffle ? 0 : c.sft.num_problems);
  select_training_problems(problems, c, c.sft.num_problems);
  return problems;
}

}  // namespace lr::driver
