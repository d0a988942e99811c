// The problems of a sampling (or evaluation) run, read from a JSONL dataset
// whose question and answer fields are configurable (GSM8K: "question",
// "answer").
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace lr::driver {

struct Problem {
  int64_t id = 0;        // 0-based line index in the file (blank lines count)
  std::string question;
  std::string answer;    // "" when the answer field is not asked for
};

// Every failure of read_problems: the message names the file and, for a bad
// line, its 1-based line number and what is wrong.
class ProblemsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One JSON object per line. Blank lines (only whitespace) are skipped but
// counted, so an id is always the line's 0-based index. The question field
// must be a string; the answer field a string or a number (written as JSON
// writes it); answer_field "" reads no answer. Throws ProblemsError.
std::vector<Problem> read_problems(const std::string& path, const std::string& question_field = "question",
                                   const std::string& answer_field = "answer");

}  // namespace lr::driver
