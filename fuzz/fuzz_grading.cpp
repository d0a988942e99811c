// Answer extraction and grading of arbitrary text: the first input byte picks
// the answer kind, the text up to the next NUL byte is the model's output,
// the rest the ground truth (also read as each bundled set's gold field).
#include <stdexcept>
#include <string>

#include "byte_reader.h"
#include "fuzz_targets.h"
#include "grading/answer_extraction.h"
#include "grading/gold_answers.h"
#include "grading/grading.h"

namespace lr::fuzz {

int grading(const uint8_t* data, size_t size) {
  ByteReader in(data, size);
  const auto kind = static_cast<driver::AnswerKind>(in.below(5));
  const std::string output = in.text_until('\0');
  const std::string gold = in.rest();
  try {
    (void)driver::grade_output(output, gold, kind);
  } catch (const std::invalid_argument&) {  // the ground truth is unusable for the kind
  }
  (void)driver::answers_match(driver::extract_answer(output), gold);
  try {
    (void)driver::gold_answer_gsm8k(gold);
  } catch (const std::invalid_argument&) {
  }
  (void)driver::gold_answer_asdiv(gold);
  try {
    (void)driver::gold_answer_minerva(gold);
  } catch (const std::invalid_argument&) {
  }
  return 0;
}

}  // namespace lr::fuzz
