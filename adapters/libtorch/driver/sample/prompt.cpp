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

}  // namespace lr::driver
