// The normal form of an answer string, after the Qwen2.5-Math toolkit's
// strip_string: what is left once the notation that does not change the
// answer is gone.
#pragma once

#include <string>
#include <string_view>

namespace lr::driver {

// Trims; drops line breaks, a trailing "." and "/", `$` and `\$`, `\(` `\)`,
// `\left` / `\right`, `\!`, `\displaystyle`, degree marks, `\%` and `%`;
// `\dfrac` / `\tfrac` -> `\frac`; unwraps `\text{..}`, `\textbf{..}`,
// `\mbox{..}`, `\mathrm{..}` (dropping a trailing one after other text: a
// unit); drops unit words after a number ("18 dollars", "5 cm^2"); a short
// left-hand side ("x = 5" -> "5"); thousands commas (1,234 -> 1234);
// trailing zeros of decimals (18.0 -> 18, 2.50 -> 2.5); spaces; fixes
// `\frac12` -> `\frac{1}{2}`, `\sqrt2` -> `\sqrt{2}`, `3/4` -> `\frac{3}{4}`;
// unwraps outer braces ({3} -> 3). Case is kept.
std::string normalize_answer(std::string_view answer);

}  // namespace lr::driver
