#include "prompt/prompt_template.h"

namespace lr::driver {

std::string cot_prompt(const PromptConfig& prompt, const std::string& question) {
  if (prompt.templ == kDefaultCotTemplate) return render_chat_prompt(prompt.system, question);
  return render_prompt(prompt.templ, prompt.system, question);
}

std::string plain_prompt(const PromptConfig& prompt, const std::string& question) {
  return render_prompt(prompt.eval_template_base, prompt.system, question);
}

}  // namespace lr::driver
