#include "numeric_value.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>

namespace lr::driver {

namespace {

constexpr double kPi = 3.14159265358979323846;

// Recursive descent over: expr := term (+|- term)*; term := unary ((*|/|\cdot|\times|implicit) unary)*;
// unary := (+|-) unary | power; power := primary (^ primary)?; primary := number | (expr) | {expr} |
// \frac{expr}{expr} | \sqrt[expr]{expr} | \pi.
class Parser {
 public:
  explicit Parser(std::string text) : s_(std::move(text)) {}

  std::optional<double> parse() {
    std::optional<double> v = expr();
    if (!v || pos_ != s_.size() || !std::isfinite(*v)) return std::nullopt;
    return v;
  }

 private:
  bool eat(std::string_view token) {
    if (s_.compare(pos_, token.size(), token) != 0) return false;
    // A command must not run on into letters: \pi must not match \pie.
    if (!token.empty() && std::isalpha(static_cast<unsigned char>(token.back())) &&
        pos_ + token.size() < s_.size() && std::isalpha(static_cast<unsigned char>(s_[pos_ + token.size()])))
      return false;
    pos_ += token.size();
    return true;
  }
  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }

  // Nesting deeper than this is no answer, and must not exhaust the stack.
  static constexpr int kMaxDepth = 100;

  std::optional<double> expr() {
    if (++depth_ > kMaxDepth) return std::nullopt;
    std::optional<double> v = term();
    --depth_;
    while (v && !at_end()) {
      if (eat("+")) {
        auto r = term();
        if (!r) return std::nullopt;
        *v += *r;
      } else if (eat("-")) {
        auto r = term();
        if (!r) return std::nullopt;
        *v -= *r;
      } else {
        break;
      }
    }
    return v;
  }

  bool starts_primary() const {
    const char c = peek();
    if (c == '(' || c == '{') return true;
    return s_.compare(pos_, 5, "\\frac") == 0 || s_.compare(pos_, 5, "\\sqrt") == 0 ||
           s_.compare(pos_, 3, "\\pi") == 0;
  }

  std::optional<double> term() {
    std::optional<double> v = unary();
    while (v && !at_end()) {
      if (eat("*") || eat("\\cdot") || eat("\\times")) {
        auto r = unary();
        if (!r) return std::nullopt;
        *v *= *r;
      } else if (eat("/") || eat("\\div")) {
        auto r = unary();
        if (!r || *r == 0.0) return std::nullopt;
        *v /= *r;
      } else if (starts_primary()) {  // implicit product: 2\sqrt{3}, 3\pi, 2(5)
        auto r = power();
        if (!r) return std::nullopt;
        *v *= *r;
      } else {
        break;
      }
    }
    return v;
  }

  std::optional<double> unary() {
    if (depth_ > kMaxDepth) return std::nullopt;
    if (eat("-")) {
      ++depth_;
      auto v = unary();
      --depth_;
      if (!v) return std::nullopt;
      return -*v;
    }
    if (eat("+")) {
      ++depth_;
      auto v = unary();
      --depth_;
      return v;
    }
    return power();
  }

  std::optional<double> power() {
    std::optional<double> base = primary();
    if (!base) return std::nullopt;
    if (eat("^")) {
      std::optional<double> exponent;
      if (std::isdigit(static_cast<unsigned char>(peek()))) {  // 2^10 as written; one digit in LaTeX is rare
        exponent = number();
      } else if (peek() == '-' || peek() == '+') {
        exponent = unary();
      } else {
        exponent = primary();
      }
      if (!exponent) return std::nullopt;
      return std::pow(*base, *exponent);
    }
    return base;
  }

  std::optional<double> group(char open, char close) {
    if (!eat(std::string_view(&open, 1))) return std::nullopt;
    auto v = expr();
    if (!v || !eat(std::string_view(&close, 1))) return std::nullopt;
    return v;
  }

  // A \frac or \sqrt argument: {expr}, or a single digit (\frac12).
  std::optional<double> argument() {
    if (peek() == '{') return group('{', '}');
    if (std::isdigit(static_cast<unsigned char>(peek()))) return static_cast<double>(s_[pos_++] - '0');
    return std::nullopt;
  }

  std::optional<double> primary() {
    if (peek() == '(') return group('(', ')');
    if (peek() == '{') return group('{', '}');
    if (eat("\\frac") || eat("\\dfrac") || eat("\\tfrac")) {
      auto num = argument();
      if (!num) return std::nullopt;
      auto den = argument();
      if (!den || *den == 0.0) return std::nullopt;
      return *num / *den;
    }
    if (eat("\\sqrt")) {
      double degree = 2.0;
      if (peek() == '[') {
        auto d = group('[', ']');
        if (!d || *d == 0.0) return std::nullopt;
        degree = *d;
      }
      auto radicand = argument();
      if (!radicand || *radicand < 0.0) return std::nullopt;
      return std::pow(*radicand, 1.0 / degree);
    }
    if (eat("\\pi")) return kPi;
    return number();
  }

  // 42, 3.5, .5, 4.5e33, 1e-3, with an optional trailing % (value / 100).
  std::optional<double> number() {
    const size_t start = pos_;
    while (std::isdigit(static_cast<unsigned char>(peek()))) ++pos_;
    if (peek() == '.') {
      ++pos_;
      while (std::isdigit(static_cast<unsigned char>(peek()))) ++pos_;
    }
    if (pos_ == start || (pos_ == start + 1 && s_[start] == '.')) {
      pos_ = start;
      return std::nullopt;
    }
    if ((peek() == 'e' || peek() == 'E') && pos_ + 1 < s_.size()) {
      size_t p = pos_ + 1;
      if (s_[p] == '+' || s_[p] == '-') ++p;
      if (p < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p]))) {
        while (p < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p]))) ++p;
        pos_ = p;
      }
    }
    double v = std::strtod(s_.substr(start, pos_ - start).c_str(), nullptr);
    if (eat("\\%") || eat("%")) v /= 100.0;
    return v;
  }

  std::string s_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

std::optional<double> numeric_value(std::string_view text) {
  std::string compact;
  compact.reserve(text.size());
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) compact += c;
  // \left( ... \right) are only sizing.
  for (std::string_view sizing : {"\\left", "\\right"}) {
    for (size_t at = compact.find(sizing); at != std::string::npos; at = compact.find(sizing, at))
      compact.erase(at, sizing.size());
  }
  if (compact.empty()) return std::nullopt;
  return Parser(std::move(compact)).parse();
}

}  // namespace lr::driver
