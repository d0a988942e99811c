#include "evaluate/prompt_template.h"

#include "sample/prompt.h"

namespace lr::driver {

std::string render_prompt(const std::string& templ, const std::string& system, const std::string& question) {
  static const std::string kSystem = "{system}", kQuestion = "{question}";
  std::string out;
  out.reserve(templ.size() + system.size() + question.size());
  for (size_t i = 0; i < templ.size();) {
    if (templ.compare(i, kSystem.size(), kSystem) == 0) {
      out += system;
      i += kSystem.size();
    } else if (templ.compare(i, kQuestion.size(), kQuestion) == 0) {
      out += question;
      i += kQuestion.size();
    } else {
      out += templ[i++];
    }
  }
  return out;
}

std::string cot_prompt(const PromptConfig& prompt, const std::string& question) {
  if (prompt.templ == kDefaultCotTemplate) return render_chat_prompt(prompt.system, question);
  return render_prompt(prompt.templ, prompt.system, question);
}

std::string plain_prompt(const PromptConfig& prompt, const std::string& question) {
  return render_prompt(prompt.eval_template_base, prompt.system, question);
}

}  // namespace lr::driver
