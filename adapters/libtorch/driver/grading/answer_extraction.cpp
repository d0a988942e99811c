#include "answer_extraction.h"
#include "ascii_text.h"

#include <algorithm>
#include <cctype>
#include <regex>

#include "normalize.h"
#include "numeric_value.h"

namespace lr::driver {

namespace {

using ascii::lower;
using ascii::trim;

// The last position of `\boxed` or `\fbox` not followed by a letter (so
// `\boxedfoo` is not one), and the keyword's length.
std::optional<std::pair<size_t, size_t>> last_box_keyword(std::string_view text) {
  std::optional<std::pair<size_t, size_t>> best;
  for (std::string_view key : {"\\boxed", "\\fbox"}) {
    for (size_t at = text.rfind(key); at != std::string_view::npos; at = at ? text.rfind(key, at - 1) : std::string_view::npos) {
      const size_t after = at + key.size();
      if (after < text.size() && std::isalpha(static_cast<unsigned char>(text[after]))) {
        if (at == 0) break;
        continue;
      }
      if (!best || at > best->first) best = std::make_pair(at, key.size());
      break;
    }
  }
  return best;
}

}  // namespace

std::optional<std::string> last_boxed(std::string_view text) {
  const auto keyword = last_box_keyword(text);
  if (!keyword) return std::nullopt;
  size_t i = keyword->first + keyword->second;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  if (i < text.size() && text[i] == '{') {
    int depth = 0;
    const size_t start = i + 1;
    for (size_t j = i; j < text.size(); ++j) {
      if (text[j] == '{') ++depth;
      if (text[j] == '}' && --depth == 0) return std::string(text.substr(start, j - start));
    }
    return std::string(text.substr(start));  // unclosed: the rest
  }
  // `\boxed 42$`: up to the next `$` or line end.
  const size_t end = text.find_first_of("$\n", i);
  return trim(text.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i));
}

std::optional<std::string> answer_is_tail(std::string_view text) {
  const std::string low = lower(text);
  // "the answer is", "final answer is", "correct answer is", ...: the last "answer is" not
  // running on into a word ("answer isn't").
  const std::string_view key = "answer is";
  size_t best = std::string::npos;
  for (size_t at = low.rfind(key); at != std::string::npos; at = at ? low.rfind(key, at - 1) : std::string::npos) {
    const size_t after = at + key.size();
    const bool word_before = at > 0 && std::isalpha(static_cast<unsigned char>(low[at - 1]));
    const bool word_after = after < low.size() && std::isalpha(static_cast<unsigned char>(low[after]));
    if (!word_before && !word_after) {
      best = at;
      break;
    }
    if (at == 0) break;
  }
  if (best == std::string::npos) return std::nullopt;
  const size_t best_len = key.size();
  std::string_view tail = text.substr(best + best_len);
  // To the end of the line...
  tail = tail.substr(0, std::min(tail.size(), tail.find('\n')));
  // ...and of the sentence: a "." (or "!", "?") followed by a space or the end, outside $...$.
  bool in_math = false;
  for (size_t i = 0; i < tail.size(); ++i) {
    const char c = tail[i];
    if (c == '$') in_math = !in_math;
    if (!in_math && (c == '.' || c == '!' || c == '?') &&
        (i + 1 == tail.size() || std::isspace(static_cast<unsigned char>(tail[i + 1])))) {
      tail = tail.substr(0, i);
      break;
    }
  }
  std::string out = trim(tail);
  while (!out.empty() && (out.front() == ':' || std::isspace(static_cast<unsigned char>(out.front())))) out.erase(0, 1);
  return out;
}

std::string last_number(std::string_view text) {
  // -?\d*\.?\d+ over the text without commas, scanned by hand (std::regex
  // recurses per character and model outputs are long): the last match.
  std::string no_commas;
  no_commas.reserve(text.size());
  for (char c : text)
    if (c != ',') no_commas += c;
  const auto digit = [&](size_t i) { return i < no_commas.size() && std::isdigit(static_cast<unsigned char>(no_commas[i])); };
  std::string last;
  size_t i = 0;
  while (i < no_commas.size()) {
    // The leftmost match starting at i, as the regex would find it.
    size_t j = i;
    if (no_commas[j] == '-') ++j;
    const size_t int_start = j;
    while (digit(j)) ++j;
    size_t end = std::string::npos;
    if (j < no_commas.size() && no_commas[j] == '.' && digit(j + 1)) {
      size_t k = j + 1;
      while (digit(k)) ++k;
      end = k;
    } else if (j > int_start) {
      end = j;
    }
    if (end == std::string::npos) {
      ++i;
      continue;
    }
    last = no_commas.substr(i, end - i);
    i = end;
  }
  return last;
}

std::string extract_answer(std::string_view model_output) {
  if (auto boxed = last_boxed(model_output)) return normalize_answer(*boxed);
  if (auto tail = answer_is_tail(model_output)) {
    std::string answer = normalize_answer(*tail);
    if (answer.empty() || numeric_value(answer)) return answer;
    // "42 because ...": prose after a leading number; keep the number.
    static const std::regex leading_number(R"(^\s*\$?\s*(-?[0-9][0-9,]*(?:\.[0-9]+)?)(?:\s|$))");
    std::smatch m;
    const std::string head = tail->substr(0, 64);  // a leading number is short; bounds the regex
    if (std::regex_search(head, m, leading_number, std::regex_constants::match_continuous))
      return normalize_answer(m[1].str());
    return answer;
  }
  return normalize_answer(last_number(model_output));
}

}  // namespace lr::driver
