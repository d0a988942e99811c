#include "prompt/chat_prompt.h"

#include <string_view>

namespace lr::driver {

std::string render_chat_prompt(const std::string& system, const std::string& question) {
  std::string_view templ = kDefaultCotTemplate;
  if (system.empty()) templ.remove_prefix(templ.find("<|im_start|>user"));  // no system turn
  return render_prompt(std::string(templ), system, question);
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
