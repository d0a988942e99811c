#include "normalize.h"
#include "ascii_text.h"

#include <cctype>
#include <regex>

namespace lr::driver {

namespace {

using ascii::trim;

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

// The index of the brace closing the one at `open`, or npos.
size_t matching_brace(const std::string& s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i;
  }
  return std::string::npos;
}

// `\cmd{X}` -> X for each brace-matched occurrence.
void unwrap_command(std::string& s, std::string_view cmd) {
  for (size_t at = s.find(cmd); at != std::string::npos; at = s.find(cmd, at)) {
    const size_t open = at + cmd.size();
    if (open >= s.size() || s[open] != '{') {
      at = open;
      continue;
    }
    const size_t close = matching_brace(s, open);
    if (close == std::string::npos) break;
    s = s.substr(0, at) + s.substr(open + 1, close - open - 1) + s.substr(close + 1);
  }
}

// std::regex recurses once per character a `.*` covers: the patterns that can
// run over a whole answer are applied to answers up to this length only (a
// number with its unit is far shorter).
constexpr size_t kMaxUnitAnswer = 200;
// ... and the regex rewrites to answers up to this length (a model that runs
// out of tokens inside \boxed{ gives a "answer" of the whole rest: it is
// compared as it is).
constexpr size_t kMaxRewrittenAnswer = 1000;

// Drops a trailing `\text{..}`-like group when other text precedes it (a unit: "5 \text{ cm}").
void drop_trailing_text_unit(std::string& s) {
  if (s.size() > kMaxUnitAnswer) return;
  static const std::regex trailing(R"((.*?[0-9}])\s*\\(?:text|mbox|mathrm|textbf|rm)\s*\{[^{}]*\}\s*$)");
  std::smatch m;
  while (std::regex_match(s, m, trailing)) {
    std::string rest = trim(m[1].str());
    if (rest.empty() || rest == s) break;
    s = rest;
  }
}

// "18 dollars", "5 cm^2", "3.5 hours per day", "12cm", "2 m" -> the number. A
// single letter after a number ("2n", "3 n", "5x") is algebra and is kept,
// unless it is a common unit abbreviation (m, g, s, h, l; cm, kg, ... unspaced).
void drop_unit_words(std::string& s) {
  if (s.size() > kMaxUnitAnswer) return;
  static const std::regex spaced(
      R"(^([-+]?[0-9][0-9,]*(?:\.[0-9]+)?|[-+]?\.[0-9]+)\s+(?:[A-Za-z][A-Za-z.']+|[mgshl]\.?)(?:\s+[A-Za-z.']+)*\s*(?:\^\{?[23]\}?)?(?:\s+[A-Za-z.']+)*$)");
  static const std::regex abbreviated(
      R"(^([-+]?[0-9][0-9,]*(?:\.[0-9]+)?)(?:cm|mm|km|kg|mg|lb|lbs|oz|ft|in|m|g|s|h|hr|hrs|min|mins|sec|mph|kmh|ml|l)(?:\^\{?[23]\}?)?\.?$)");
  std::smatch m;
  if (std::regex_match(s, m, spaced) || std::regex_match(s, m, abbreviated)) s = m[1].str();
}

// \frac12 -> \frac{1}{2}, \frac1{b} -> \frac{1}{b}, \frac{a}2 -> \frac{a}{2}.
std::string fix_fracs(const std::string& s) {
  if (s.find("\\frac") == std::string::npos) return s;
  static const std::regex bare_both(R"(\\frac([0-9a-zA-Z])([0-9a-zA-Z]))");
  static const std::regex bare_num(R"(\\frac([0-9a-zA-Z])\{)");
  static const std::regex bare_den(R"(\\frac(\{[^{}]*\})([0-9a-zA-Z]))");
  std::string out = std::regex_replace(s, bare_both, "\\frac{$1}{$2}");
  out = std::regex_replace(out, bare_num, "\\frac{$1}{");
  return std::regex_replace(out, bare_den, "\\frac$1{$2}");
}

// \sqrt2 -> \sqrt{2}.
std::string fix_sqrt(const std::string& s) {
  static const std::regex bare(R"(\\sqrt([0-9a-zA-Z]))");
  return std::regex_replace(s, bare, "\\sqrt{$1}");
}

// 3/4 -> \frac{3}{4} when the whole answer is integer/integer.
std::string fix_a_slash_b(const std::string& s) {
  static const std::regex slash(R"(^(-?)([0-9]+)/([0-9]+)$)");
  std::smatch m;
  if (std::regex_match(s, m, slash)) return m[1].str() + "\\frac{" + m[2].str() + "}{" + m[3].str() + "}";
  return s;
}

// {X} -> X while the outer braces enclose everything.
void unwrap_outer_braces(std::string& s) {
  while (s.size() >= 2 && s.front() == '{' && matching_brace(s, 0) == s.size() - 1) s = s.substr(1, s.size() - 2);
}

}  // namespace

std::string normalize_answer(std::string_view answer) {
  std::string s = trim(answer);
  replace_all(s, "\n", "");
  replace_all(s, "\r", "");
  while (!s.empty() && (s.back() == '.' || s.back() == '/')) s.pop_back();
  s = trim(s);
  replace_all(s, "\\!", "");
  replace_all(s, "\\displaystyle", "");
  replace_all(s, "\\dfrac", "\\frac");
  replace_all(s, "\\tfrac", "\\frac");
  replace_all(s, "\\left", "");
  replace_all(s, "\\right", "");
  replace_all(s, "\\$", "");
  replace_all(s, "$", "");
  replace_all(s, "\\(", "");
  replace_all(s, "\\)", "");
  s = trim(s);
  if (s.size() <= kMaxRewrittenAnswer) drop_trailing_text_unit(s);
  replace_all(s, "^{\\circ}", "");
  replace_all(s, "^\\circ", "");
  replace_all(s, "\xC2\xB0", "");  // U+00B0 DEGREE SIGN
  for (std::string_view cmd : {"\\text", "\\textbf", "\\mbox", "\\mathrm", "\\mathbf", "\\boxed"}) unwrap_command(s, cmd);
  replace_all(s, "\\%", "");
  replace_all(s, "%", "");
  s = trim(s);
  while (!s.empty() && s.back() == '.') s.pop_back();
  s = trim(s);
  // "x = 5" -> "5": a left-hand side of at most two characters.
  if (const size_t eq = s.find('='); eq != std::string::npos && s.find('=', eq + 1) == std::string::npos &&
                                     trim(s.substr(0, eq)).size() <= 2 && !trim(s.substr(eq + 1)).empty())
    s = trim(s.substr(eq + 1));
  if (s.size() > kMaxRewrittenAnswer) {
    std::string compact;
    for (char c : s)
      if (!std::isspace(static_cast<unsigned char>(c))) compact += c;
    return compact;
  }
  drop_unit_words(s);
  static const std::regex thousands(R"(^[-+]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$)");
  if (std::regex_match(s, thousands)) replace_all(s, ",", "");
  replace_all(s, " .", " 0.");
  replace_all(s, "{.", "{0.");
  // Trailing zeros of decimals: 18.0 -> 18, 2.50 -> 2.5, 18.00\% -> 18.
  static const std::regex zero_fraction(R"(([0-9])\.0+([^0-9]|$))");
  static const std::regex trailing_zeros(R"(([0-9]\.[0-9]*[1-9])0+([^0-9]|$))");
  s = std::regex_replace(s, zero_fraction, "$1$2");
  s = std::regex_replace(s, trailing_zeros, "$1$2");
  if (!s.empty() && s.front() == '.') s = "0" + s;
  if (s.size() > 1 && s[0] == '-' && s[1] == '.') s = "-0" + s.substr(1);
  std::string compact;
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c))) compact += c;
  compact = fix_sqrt(compact);
  compact = fix_fracs(compact);
  compact = fix_a_slash_b(compact);
  unwrap_outer_braces(compact);
  return compact;
}

}  // namespace lr::driver
