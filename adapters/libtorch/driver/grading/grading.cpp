#include "grading.h"
#include "ascii_text.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "answer_extraction.h"
#include "gold_answers.h"
#include "multiple_choice.h"
#include "normalize.h"
#include "numeric_value.h"

namespace lr::driver {

namespace {

using ascii::lower;
using ascii::trim;

bool is_choice_letter(std::string_view s) { return s.size() == 1 && s[0] >= 'A' && s[0] <= 'E'; }

// Python's math.isclose(a, b, rel_tol=1e-4).
bool close(double a, double b) { return std::fabs(a - b) <= 1e-4 * std::max(std::fabs(a), std::fabs(b)); }

bool numbers_match(double pred, double gold) {
  return close(pred, gold) || close(pred, gold / 100.0) || close(pred, gold * 100.0);
}

// The top-level comma-separated items of "(1,2)", "[a,b)", "{1,2,3}", "1,2"; one item when there is no top-level comma.
std::vector<std::string> top_level_items(const std::string& s) {
  std::string body = s;
  if (body.size() >= 2 && std::string_view("([{").find(body.front()) != std::string_view::npos &&
      std::string_view(")]}").find(body.back()) != std::string_view::npos)
    body = body.substr(1, body.size() - 2);
  std::vector<std::string> items;
  int depth = 0;
  std::string item;
  for (char c : body) {
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (c == ',' && depth == 0) {
      items.push_back(item);
      item.clear();
    } else {
      item += c;
    }
  }
  items.push_back(item);
  return items;
}

// Braces, spaces, \left / \right dropped; lower case.
std::string loose_form(const std::string& s) {
  std::string out;
  for (char c : lower(s))
    if (c != '{' && c != '}' && !std::isspace(static_cast<unsigned char>(c))) out += c;
  return out;
}

bool normalised_match(const std::string& pred, const std::string& gold, int depth) {
  if (pred.empty() || gold.empty()) return false;
  if (lower(pred) == lower(gold)) return true;
  if (is_choice_letter(gold)) return extract_choice(pred) == gold;
  const auto pv = numeric_value(pred);
  const auto gv = numeric_value(gold);
  if (pv && gv) return numbers_match(*pv, *gv);
  if (depth == 0) {
    const auto pi = top_level_items(pred);
    const auto gi = top_level_items(gold);
    if (pi.size() > 1 && pi.size() == gi.size() && pred.front() == gold.front() && pred.back() == gold.back()) {
      bool all = true;
      for (size_t i = 0; i < pi.size() && all; ++i) all = normalised_match(normalize_answer(pi[i]), normalize_answer(gi[i]), 1);
      if (all) return true;
    }
  }
  return loose_form(pred) == loose_form(gold);
}

}  // namespace

bool answers_match(std::string_view pred, std::string_view gold) {
  return normalised_match(normalize_answer(pred), normalize_answer(gold), 0);
}

std::optional<AnswerKind> parse_answer_kind(std::string_view name) {
  if (name == "auto") return AnswerKind::kAuto;
  if (name == "gsm8k") return AnswerKind::kGsm8k;
  if (name == "number") return AnswerKind::kNumber;
  if (name == "math") return AnswerKind::kMath;
  if (name == "choice") return AnswerKind::kChoice;
  return std::nullopt;
}

GradedAnswer grade_output(std::string_view model_output, std::string_view gold, AnswerKind kind) {
  const std::string gold_trimmed = trim(gold);
  if (gold_trimmed.empty()) throw std::invalid_argument("the ground truth is empty");
  if (kind == AnswerKind::kAuto) {
    if (gold_trimmed.find("####") != std::string::npos)
      kind = AnswerKind::kGsm8k;
    else if (is_choice_letter(gold_trimmed))
      kind = AnswerKind::kChoice;
    else
      kind = AnswerKind::kMath;
  }
  GradedAnswer graded;
  switch (kind) {
    case AnswerKind::kChoice: {
      if (gold_trimmed.size() == 1 && gold_trimmed[0] >= '0' && gold_trimmed[0] <= '3')
        graded.gold = choice_letter(gold_trimmed[0] - '0');
      else if (gold_trimmed.size() == 1 && std::isalpha(static_cast<unsigned char>(gold_trimmed[0])) &&
               is_choice_letter(std::string(1, static_cast<char>(std::toupper(static_cast<unsigned char>(gold_trimmed[0]))))))
        graded.gold = std::string(1, static_cast<char>(std::toupper(static_cast<unsigned char>(gold_trimmed[0]))));
      else
        throw std::invalid_argument("choice ground truth \"" + gold_trimmed + "\" is not a letter A-E or an index 0-3");
      graded.pred = extract_choice(model_output);
      graded.correct = graded.pred == graded.gold;
      return graded;
    }
    case AnswerKind::kGsm8k:
      graded.gold = gold_trimmed.find("####") != std::string::npos ? gold_answer_gsm8k(gold_trimmed)
                                                                    : normalize_answer(gold_trimmed);
      break;
    case AnswerKind::kNumber:
    case AnswerKind::kMath:
    case AnswerKind::kAuto:
      graded.gold = normalize_answer(gold_trimmed);
      break;
  }
  if (graded.gold.empty()) throw std::invalid_argument("the ground truth \"" + gold_trimmed + "\" is empty once normalised");
  if ((kind == AnswerKind::kNumber || kind == AnswerKind::kGsm8k) && !numeric_value(graded.gold))
    throw std::invalid_argument("the ground truth \"" + gold_trimmed + "\" is not a number");
  graded.pred = extract_answer(model_output);
  graded.correct = (kind == AnswerKind::kNumber || kind == AnswerKind::kGsm8k)
                       ? numeric_value(graded.pred).has_value() && answers_match(graded.pred, graded.gold)
                       : answers_match(graded.pred, graded.gold);
  return graded;
}

}  // namespace lr::driver
