// Multiple-choice answers (MMLU-STEM): the letter a model chose, and the
// letter of a gold index.
#pragma once

#include <string>
#include <string_view>

namespace lr::driver {

// The choice letter ("A".."E") a model output gives, or "" when none is found.
// Looked for, in order: in the last \boxed{} ("\boxed{B}", "\boxed{(B)}",
// "\boxed{\text{B}}"); after the last "answer is" / "answer:" ("The answer is
// (B).", "Answer: b"); the last "(B)" in the text; the last line starting
// "B." / "B)" / "B:"; a whole output that is one letter.
std::string extract_choice(std::string_view model_output);

// "A".."D" for a 0-based MMLU answer index 0..3; throws std::out_of_range otherwise.
std::string choice_letter(int index);

}  // namespace lr::driver
