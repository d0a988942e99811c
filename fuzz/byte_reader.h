// Turns a fuzz input into typed choices: the front of the input decides the
// structure (sizes, flags), the rest is payload. Reading past the end gives
// zeros, so every input is a valid program for the target.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace lr::fuzz {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  template <class T>
  T take() {
    T v{};
    const size_t n = sizeof(T) < remaining() ? sizeof(T) : remaining();
    if (n) std::memcpy(&v, data_ + pos_, n);
    pos_ += n;
    return v;
  }
  // A value in [0, n), n > 0.
  uint32_t below(uint32_t n) { return take<uint8_t>() % n; }
  bool flag() { return take<uint8_t>() & 1; }

  // The next `n` bytes as text (fewer at the end of the input).
  std::string text(size_t n) {
    n = n < remaining() ? n : remaining();
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }
  // Text up to the next `sep` byte (dropped), or to the end.
  std::string text_until(char sep) {
    const std::string_view rest(reinterpret_cast<const char*>(data_ + pos_), remaining());
    const size_t at = rest.find(sep);
    const size_t n = at == std::string_view::npos ? rest.size() : at;
    std::string s(rest.substr(0, n));
    pos_ += at == std::string_view::npos ? n : n + 1;
    return s;
  }
  std::string rest() { return text(remaining()); }
  size_t remaining() const { return size_ - pos_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace lr::fuzz
