// Grading a prediction against the ground truth (adapters/libtorch/driver/METHOD.md, "Stage 3:
// evaluation"; the Qwen2.5-Math toolkit's math_equal, without sympy).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lr::driver {

// True when the prediction equals the ground truth. Both are normalised
// (normalize_answer) first. Then, in order:
//  - an empty prediction or ground truth never matches;
//  - equal ignoring case -> true;
//  - a ground truth that is a choice letter A-E: the prediction's choice
//    letter (extract_choice) must equal it;
//  - both closed-form numbers (numeric_value: 1/2, \frac{1}{2}, 0.5, 2^{10},
//    -3): equal within relative tolerance 1e-4 to the gold, gold / 100 or
//    gold x 100 (percentages);
//  - both tuples / intervals / sets with the same number of top-level
//    comma-separated items: item by item;
//  - else equal once braces, spaces, \left / \right and case are dropped.
bool answers_match(std::string_view pred, std::string_view gold);

// How `grade_output` reads an output and its ground truth.
enum class AnswerKind {
  kAuto,    // gsm8k when the gold holds "####", choice when it is a letter A-E, else math
  kGsm8k,   // gold: a GSM8K answer text (the part after "####") or a bare number
  kNumber,  // gold: a number; the prediction must be a number too
  kMath,    // gold: any answer (number, expression, tuple, text)
  kChoice,  // gold: a letter A-D (or a 0-based index 0..3); prediction: extract_choice
};

// "auto", "gsm8k", "number", "math", "choice" -> the kind; nullopt otherwise.
std::optional<AnswerKind> parse_answer_kind(std::string_view name);

struct GradedAnswer {
  std::string pred;  // the extracted, normalised answer ("" when none)
  std::string gold;  // the normalised ground truth
  bool correct = false;
};

// Extracts the answer of a model output and grades it against the ground
// truth. Throws std::invalid_argument when the ground truth is unusable for
// the kind (an empty gold, a non-numeric gold for kNumber, a choice gold that
// is not a letter or an index).
GradedAnswer grade_output(std::string_view model_output, std::string_view gold, AnswerKind kind = AnswerKind::kAuto);

}  // namespace lr::driver
