// The value of a closed-form number as models and datasets write it:
// 42, -3.5, .5, 4.5e33, 1/2, \frac{1}{2}, 2^{10}, \sqrt{2}, 3\pi, 2\times10^{5}, 25%.
#pragma once

#include <optional>
#include <string_view>

namespace lr::driver {

// The value, or nullopt when the text is not a closed-form number (a variable,
// a tuple, words, unbalanced braces, a division by zero). Spaces are ignored;
// thousands commas are not accepted here (normalize_answer removes them).
std::optional<double> numeric_value(std::string_view text);

}  // namespace lr::driver
