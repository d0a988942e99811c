// The final answer of a model output, as the Qwen2.5-Math evaluation toolkit
// finds it (adapters/libtorch/driver/METHOD.md, "Stage 3: evaluation").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lr::driver {

// The content of the last `\boxed{...}` or `\fbox{...}` (brace-matched, nested
// braces kept; an unclosed one runs to the end), or of `\boxed X` without
// braces (up to the next `$` or line end). nullopt when there is none.
std::optional<std::string> last_boxed(std::string_view text);

// The text after the last "answer is" ("the answer is", "final answer is",
// "correct answer is"; any case; a ":" skipped), up to the end of its
// sentence or line. nullopt when absent.
std::optional<std::string> answer_is_tail(std::string_view text);

// The last number of the text (-?\d*\.?\d+ once commas are removed), or "".
std::string last_number(std::string_view text);

// The answer a model gave, normalised (normalize_answer): the last boxed
// answer, else the text after "the answer is" (reduced to its leading number
// when the rest is prose), else the last number; "" when there is none.
std::string extract_answer(std::string_view model_output);

}  // namespace lr::driver
