// The evaluation sets: the bundled ones by name (bench/data, README there)
// and any JSONL file with configured fields, read into problems whose ground
// truth is already in the form the grader takes.
//
//   gsm8k          question; answer's text after "####"          (number)
//   svamp          Body + " " + Question; Answer (a JSON number)  (number)
//   asdiv          body + " " + question; answer "9 (apples)"     (math)
//   minerva_math   problem; the last \boxed{} of solution        (math)
//   olympiadbench  question; final_answer[0]                     (math)
//   mmlu_stem      question + "\nAnswer Choices: (A) .. (B) .."; answer index -> letter (choice)
//   another name   question_field (+ context_field); answer_field a string or
//                  number, graded with AnswerKind::kAuto; with choices_field the
//                  choices are listed as for MMLU and the answer is an index
//                  0-3 or a letter (choice).
// A context is joined to the question with a space, with a "." added when it
// does not end in one (the Qwen2.5-Math toolkit's SVAMP rule).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/experiment_config.h"
#include "grading/grading.h"

namespace lr::driver {

struct EvalProblem {
  int64_t id = 0;        // the 0-based line index in the file (blank lines count)
  std::string question;  // as put into the prompt's {question}
  std::string gold;      // the ground truth given to grade_output
  AnswerKind kind = AnswerKind::kAuto;
  // The answer field as written (a number as JSON writes it; "" when it is a
  // list or object): GSM8K's gold worked solution, for the diagnostics.
  std::string answer_text;
};

// Any fault of a dataset file: the message names the file and, for a bad
// line, its 1-based line number and what is wrong.
class DatasetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The dataset's first `limit` problems (0: all), in file order. Every line
// is checked: valid JSON object, the fields present with the right types, a
// ground truth the grader accepts. Throws DatasetError.
std::vector<EvalProblem> load_eval_dataset(const EvalDataset& dataset, int64_t limit = 0);

// The question text of a multiple-choice problem:
// "<question>\nAnswer Choices: (A) <c0> (B) <c1> ...".
std::string multiple_choice_question(const std::string& question, const std::vector<std::string>& choices);

}  // namespace lr::driver
