// A small byte-level BPE tokenizer.json for the driver's tests (sample and
// evaluate): bytes 0..255, 37 merges (256..292),
// <|im_start|> 293, <|im_end|> 294, <|endoftext|> 295; Qwen2's split regex.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace lr_test {

inline std::string utf8_of(char32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// GPT-2's byte-to-character map.
inline std::string byte_char(int b) {
  int n = 0;
  for (int x = 0; x < 256; ++x) {
    const bool printable = (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174;
    const int cp = printable ? x : 256 + n++;
    if (x == b) return utf8_of(static_cast<char32_t>(cp));
  }
  return "";
}

constexpr int kSmallVocab = 296;
constexpr int kSmallImEnd = 294;
constexpr int kSmallEndOfText = 295;

inline nlohmann::json small_tokenizer() {
  using nlohmann::json;
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_char(b)] = b;
  std::vector<std::pair<std::string, std::string>> merges;
  const std::string letters = "etaoin";
  for (char a : letters)
    for (char c : letters) merges.emplace_back(std::string(1, a), std::string(1, c));
  merges.emplace_back(byte_char(' '), "t");
  json mj = json::array();
  int id = 256;
  for (const auto& [a, b] : merges) {
    vocab[a + b] = id++;
    mj.push_back(json::array({a, b}));
  }
  json root;
  root["version"] = "1.0";
  root["added_tokens"] = json::array({
      {{"id", 293}, {"content", "<|im_start|>"}, {"special", true}},
      {{"id", 294}, {"content", "<|im_end|>"}, {"special", true}},
      {{"id", 295}, {"content", "<|endoftext|>"}, {"special", true}},
  });
  root["normalizer"] = {{"type", "NFC"}};
  const char* regex =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  root["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       json::array({{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}},
                    {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}})}};
  root["decoder"] = {{"type", "ByteLevel"}};
  root["model"] = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"vocab", vocab}, {"merges", mj}};
  return root;
}

}  // namespace lr_test
