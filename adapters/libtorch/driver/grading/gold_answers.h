// The ground truth of each bundled eval set (bench/data/gsm8k,
// bench/data/eval/*), normalised as extract_answer normalises predictions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lr::driver {

// GSM8K "answer": the text after "####", commas removed ("#### 1,234" -> "1234").
// Throws std::invalid_argument when there is no "####".
std::string gold_answer_gsm8k(std::string_view answer);

// SVAMP "Answer" (a JSON number such as 145.0): "145"; 2.5 -> "2.5".
std::string gold_answer_svamp(double answer);

// ASDiv "answer": "9 (apples)" -> "9"; non-numeric answers ("3:30 p.m.", "Yes") normalised.
std::string gold_answer_asdiv(std::string_view answer);

// Minerva Math "solution": its last \boxed{} content. Throws std::invalid_argument when there is none.
std::string gold_answer_minerva(std::string_view solution);

// OlympiadBench "final_answer" (a list of strings): the first, `$` stripped.
// Throws std::invalid_argument when the list is empty.
std::string gold_answer_olympiadbench(const std::vector<std::string>& final_answer);

// MMLU-STEM "answer" (0-based index): "A".."D" (choice_letter).
std::string gold_answer_mmlu(int answer_index);

}  // namespace lr::driver
