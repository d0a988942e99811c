#include "prompt.h"

namespace lr::driver {

std::string render_chat_prompt(const std::string& system, const std::string& question) {
  std::string s;
  s.reserve(system.size() + question.size() + 96);
  if (!system.empty()) s += "<|im_start|>system\n" + system + "<|im_end|>\n";
  s += "<|im_start|>user\n" + question + "<|im_end|>\n";
  s += "<|im_start|>assistant\n";
  return s;
}

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

}  // namespace lr::driver
