#include "multiple_choice.h"
#include "ascii_text.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <stdexcept>

#include "answer_extraction.h"

namespace lr::driver {

namespace {

using ascii::lower;

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

// The last standalone letter A-E of a short answer span (case-insensitive).
std::string last_letter_in_span(std::string_view span) {
  static const std::regex letter(R"((^|[^A-Za-z0-9_\\])([A-E])(?=$|[^A-Za-z0-9_]))");
  const std::string up = upper(span);
  std::string last;
  for (auto it = std::sregex_iterator(up.begin(), up.end(), letter); it != std::sregex_iterator(); ++it)
    last = (*it)[2].str();
  return last;
}

// The letter an answer span starts with: "B", "(B)", "option B", "\text{B}"; a
// lower-case letter only when it stands alone ("(c)", "c.", "option c"), so
// that "a bit tricky" is no answer.
std::string letter_at_start(const std::string& span) {
  static const std::regex upper_letter(
      R"(^\s*(?:[Oo]ption|[Cc]hoice)?\s*[\(\[\{]?\s*\$?\s*(?:\\text\{)?\s*([A-E])(?![A-Za-z0-9]))");
  static const std::regex lower_alone(R"(^\s*(?:(?:[Oo]ption|[Cc]hoice)\s*)?[\(\[]?([a-e])[\)\]]?\s*[.!]?\s*$)");
  static const std::regex lower_parens(R"(^\s*\(([a-e])\))");
  std::smatch m;
  const std::string head = span.substr(0, 64);  // a letter at the start; bounds the regex
  if (std::regex_search(head, m, upper_letter) || std::regex_search(head, m, lower_alone) ||
      std::regex_search(head, m, lower_parens))
    return upper(m[1].str());
  return "";
}


}  // namespace

std::string extract_choice(std::string_view model_output) {
  if (auto boxed = last_boxed(model_output)) {
    std::string letter = last_letter_in_span(*boxed);
    if (!letter.empty()) return letter;
  }
  if (auto tail = answer_is_tail(model_output)) {
    // Only the start of the tail: "(B) because ..." names B, not a later "A".
    std::string letter = letter_at_start(*tail);
    if (!letter.empty()) return letter;
  }
  const std::string text(model_output);
  {
    // The last "Answer: X" (any case).
    const std::string low = lower(text);
    std::string last;
    for (size_t at = low.find("answer"); at != std::string::npos; at = low.find("answer", at + 1)) {
      size_t i = at + 6;
      while (i < low.size() && (low[i] == ' ' || low[i] == '\t')) ++i;
      if (i >= low.size() || low[i] != ':') continue;
      std::string letter = letter_at_start(text.substr(i + 1, 64));
      if (!letter.empty()) last = letter;
    }
    if (!last.empty()) return last;
  }
  {
    static const std::regex parenthesised(R"(\(([A-E])\))");
    std::string last;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), parenthesised); it != std::sregex_iterator(); ++it)
      last = (*it)[1].str();
    if (!last.empty()) return last;
  }
  {
    // The last line starting "B." / "B)" / "B:" (scanned by hand: std::regex
    // recurses per character and outputs can hold long runs of spaces).
    std::string last;
    for (size_t line = 0; line < text.size();) {
      size_t i = line;
      while (i < text.size() && text[i] != '\n' && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
      if (i < text.size() && text[i] >= 'A' && text[i] <= 'E') {
        const char letter = text[i];
        size_t j = i + 1;
        while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
        if (j < text.size() && (text[j] == '.' || text[j] == ')' || text[j] == ':')) last = std::string(1, letter);
      }
      const size_t next = text.find('\n', i);
      if (next == std::string::npos) break;
      line = next + 1;
    }
    if (!last.empty()) return last;
  }
  static const std::regex alone(R"(^\s*\(?([A-Ea-e])\)?\s*\.?\s*$)");
  std::smatch m;
  if (text.size() <= 64 && std::regex_match(text, m, alone)) return upper(m[1].str());
  return "";
}

std::string choice_letter(int index) {
  if (index < 0 || index > 3) throw std::out_of_range("multiple-choice answer index " + std::to_string(index) + " is not 0..3");
  return std::string(1, static_cast<char>('A' + index));
}

}  // namespace lr::driver
