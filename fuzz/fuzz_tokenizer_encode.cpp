// Encoding arbitrary bytes and decoding arbitrary ids with a real tokenizer
// (fuzz/corpus/tokenizer_load/qwen_first_1200.json: Qwen's regex, added
// tokens and its first 1200 ids). The first input byte picks encode or
// decode; ASCII text must come back unchanged from decode(encode(text)).
#include <string>
#include <vector>

#include "byte_reader.h"
#include "fuzz_targets.h"
#include "tokenizer/tokenizer.h"

namespace lr::fuzz {
namespace {

const driver::Tokenizer& fixed_tokenizer() {
  static const auto tok =
      driver::Tokenizer::from_file(std::string(LR_FUZZ_SOURCE_DIR) + "/corpus/tokenizer_load/qwen_first_1200.json");
  return tok;
}

bool ascii(const std::string& s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

}  // namespace

int tokenizer_encode(const uint8_t* data, size_t size) {
  const driver::Tokenizer& tok = fixed_tokenizer();
  ByteReader in(data, size);
  const uint8_t mode = in.take<uint8_t>();
  try {
    if (mode % 2 == 0) {
      const std::string text = in.rest();
      const auto ids = tok.encode(text);
      if (ascii(text) && tok.decode(ids) != text)
        throw std::logic_error("tokenizer: decode(encode(text)) != text for ASCII text");
    } else {
      std::vector<int32_t> ids;
      while (in.remaining() >= 2) {
        const uint16_t raw = in.take<uint16_t>();
        ids.push_back(raw < 0xff00 ? int32_t(raw % 1400) : in.take<int32_t>());  // mostly near the vocabulary
      }
      (void)tok.decode(ids, mode & 2);
    }
  } catch (const driver::TokenizerError&) {
  }
  return 0;
}

}  // namespace lr::fuzz
