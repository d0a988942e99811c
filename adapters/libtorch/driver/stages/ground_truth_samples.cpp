#include "stages/ground_truth_samples.h"

#include <map>
#include <stdexcept>
#include <string>

#include "prompt/prompt_template.h"
#include "sample/problems.h"

namespace lr::driver {

namespace {

std::vector<int64_t> encoded(const Tokenizer& tokenizer, const std::string& text) {
  const std::vector<int32_t> ids = tokenizer.encode(text);
  return {ids.begin(), ids.end()};
}

// data.answer_field's text of every line of data.train_file, by id.
std::map<int64_t, std::string> answer_texts(const ExperimentConfig& c) {
  std::map<int64_t, std::string> out;
  for (Problem& p : read_problems(c.data.train_file, c.data.question_field, c.data.answer_field))
    out[p.id] = std::move(p.answer);
  return out;
}

}  // namespace

SftSamples ground_truth_samples(const ExperimentConfig& c, const Tokenizer& tokenizer,
                                const std::vector<EvalProblem>& problems, const std::vector<int64_t>& stop_ids) {
  const std::map<int64_t, std::string> answers = answer_texts(c);
  SftSamples out;
  for (const EvalProblem& p : problems) {
    const auto it = answers.find(p.id);
    if (it == answers.end() || it->second.empty())
      throw std::runtime_error(c.data.train_file + ": problem " + std::to_string(p.id) + " has no " +
                               c.data.answer_field + " text for sft.source = \"ground_truth\"");
    std::vector<int64_t> solution = encoded(tokenizer, it->second);
    if (!stop_ids.empty()) solution.push_back(stop_ids.front());
    ++out.trajectories;
    ++out.correct;  // a worked solution is right by definition
    add_sequence(out, encoded(tokenizer, cot_prompt(c.prompt, p.question)), solution, c.sft.max_seq_len);
  }
  return out;
}

}  // namespace lr::driver
