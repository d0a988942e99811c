// A prompt template with {system} and {question} placeholders (the config's
// prompt.template and prompt.eval_template_base), filled in one pass: text
// inside the question or the system text is never re-read as a placeholder.
#pragma once

#include <string>

#include "config/experiment_config.h"
#include "prompt/chat_prompt.h"  // render_prompt

namespace lr::driver {

// The chain-of-thought prompt of a config (prompt.template, prompt.system).
// With the default template it is exactly the sampling stage's prompt
// (chat_prompt.h: an empty system text leaves the system turn out).
std::string cot_prompt(const PromptConfig& prompt, const std::string& question);

// The base model's plain prompt (prompt.eval_template_base).
std::string plain_prompt(const PromptConfig& prompt, const std::string& question);

}  // namespace lr::driver
