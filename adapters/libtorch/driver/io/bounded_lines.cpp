#include "io/bounded_lines.h"

#include <algorithm>

namespace lr::driver {

bool read_bounded_line(std::istream& in, std::string& line, bool& too_long) {
  line.clear();
  too_long = false;
  std::streambuf* buf = in.rdbuf();
  bool any = false;
  for (;;) {
    const int c = buf ? buf->sbumpc() : std::char_traits<char>::eof();
    if (c == std::char_traits<char>::eof()) {
      in.setstate(std::ios::eofbit);
      return any;
    }
    any = true;
    if (c == '\n') return true;
    if (line.size() < kMaxJsonLineBytes) line.push_back(static_cast<char>(c));
    else too_long = true;
  }
}

std::string line_too_long_message() {
  return "a line longer than " + std::to_string(kMaxJsonLineBytes >> 20) + " MiB";
}

std::optional<std::string> first_overlong_line(std::string_view text, const std::string& path) {
  size_t number = 1;
  for (size_t pos = 0; pos < text.size(); ++number) {
    const size_t nl = std::min(text.find('\n', pos), text.size());
    if (nl - pos > kMaxJsonLineBytes) return path + ":" + std::to_string(number) + ": " + line_too_long_message();
    pos = nl + 1;
  }
  return std::nullopt;
}

}  // namespace lr::driver
