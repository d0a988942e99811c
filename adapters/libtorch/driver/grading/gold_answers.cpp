#include "gold_answers.h"

#include <cmath>
#include <cstdio>
#include <regex>
#include <stdexcept>

#include "answer_extraction.h"
#include "multiple_choice.h"
#include "normalize.h"

namespace lr::driver {

std::string gold_answer_gsm8k(std::string_view answer) {
  const size_t at = answer.rfind("####");
  if (at == std::string_view::npos) throw std::invalid_argument("GSM8K answer has no \"####\" line");
  std::string tail;
  for (char c : answer.substr(at + 4))
    if (c != ',') tail += c;
  return normalize_answer(tail);
}

std::string gold_answer_svamp(double answer) {
  if (!std::isfinite(answer)) throw std::invalid_argument("SVAMP answer is not a finite number");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", answer);
  return normalize_answer(buf);
}

std::string gold_answer_asdiv(std::string_view answer) {
  static const std::regex unit_in_parens(R"(\s*\([^()]*\)\s*$)");
  std::string s(answer);
  const std::string stripped = std::regex_replace(s, unit_in_parens, "");
  return normalize_answer(stripped.empty() ? s : stripped);
}

std::string gold_answer_minerva(std::string_view solution) {
  auto boxed = last_boxed(solution);
  if (!boxed) throw std::invalid_argument("Minerva solution has no \\boxed{} answer");
  return normalize_answer(*boxed);
}

std::string gold_answer_olympiadbench(const std::vector<std::string>& final_answer) {
  if (final_answer.empty()) throw std::invalid_argument("OlympiadBench final_answer is empty");
  return normalize_answer(final_answer.front());
}

std::string gold_answer_mmlu(int answer_index) { return choice_letter(answer_index); }

}  // namespace lr::driver
