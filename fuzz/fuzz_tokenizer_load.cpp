// tokenizer.json (and, after the input's first NUL byte, tokenizer_config.json):
// the BPE model, vocabulary, merges (cyclic, missing parts), added tokens,
// normalizer, the pre-tokenizer's regex. A tokenizer that loads encodes and
// decodes a fixed text, which must come back unchanged.
#include <string>

#include "byte_reader.h"
#include "fuzz_targets.h"
#include "scratch_files.h"
#include "tokenizer/tokenizer.h"

namespace lr::fuzz {

int tokenizer_load(const uint8_t* data, size_t size) {
  ByteReader in(data, size);
  const std::string json = in.text_until('\0');
  const bool has_config = in.remaining() > 0;
  const std::string path = write_scratch("tokenizer.json", json);
  if (has_config) write_scratch("tokenizer_config.json", in.rest());
  else remove_scratch("tokenizer_config.json");
  try {
    const auto tok = driver::Tokenizer::from_file(path);
    const std::string text = "Hello, world! 12 + 30 = 42.\n<|im_end|>";
    const auto ids = tok.encode(text);
    if (tok.decode(ids) != text) throw std::logic_error("tokenizer: decode(encode(text)) != text for ASCII text");
  } catch (const driver::TokenizerError&) {
  }
  return 0;
}

}  // namespace lr::fuzz
