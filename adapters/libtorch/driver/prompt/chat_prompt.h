// The ChatML chain-of-thought prompt (adapters/libtorch/driver/METHOD.md), the
// same template for the expert and the amateur, in sampling and in evaluation:
//
//   <|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n
//
// An empty system text leaves out the whole system turn.
#pragma once

#include <string>

#include "config/defaults.h"  // kDefaultCotTemplate, kDefaultSystemPrompt: the driver's defaults home

namespace lr::driver {

// The template above, written once (in config/defaults.h): the config's
// default prompt.template and render_chat_prompt both use it.
inline constexpr const char* kChatMLTemplate = kDefaultCotTemplate;

// The system text of the authors' code.
inline constexpr const char* kAuthorsSystemPrompt = "Please reason step by step.";

// kChatMLTemplate filled in; its system turn left out when system is "".
std::string render_chat_prompt(const std::string& system, const std::string& question);

// templ with each "{system}" replaced by system and each "{question}" by
// question, in one pass (text inside them is never re-read as a
// placeholder); other braces are left as they are.
std::string render_prompt(const std::string& templ, const std::string& system, const std::string& question);

}  // namespace lr::driver
