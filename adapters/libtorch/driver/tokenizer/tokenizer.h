// The Qwen2 / Qwen2.5 / Qwen3 tokenizer of the reference driver: byte-level
// BPE read from a Hugging Face `tokenizer.json`, giving the ids Hugging Face
// gives (checked against the JS implementation of the same files in
// tests/driver/tokenizer/).
//
// encode(text):
//   1. added tokens (special and not, e.g. "<|im_end|>", "<think>") are cut out
//      of the raw text first, the longest one first at each position, leftmost
//      first; each becomes its own id. (Like Hugging Face with
//      split_special_tokens = false.)
//   2. each remaining section is NFC-normalised (utf8proc),
//   3. split by the pre-tokenizer's regex (PCRE2, UTF + UCP, JIT; the pattern
//      is read from the file), matches and the gaps between them kept
//      ("Isolated"),
//   4. each piece's UTF-8 bytes go through byte-level BPE: the pair of adjacent
//      symbols with the lowest merge rank is merged first, leftmost on ties.
//   No BOS/EOS is ever added (Qwen adds none either).
// decode(ids): the bytes of each token concatenated, invalid UTF-8 replaced by
// U+FFFD (maximal subparts), as Hugging Face's ByteLevel decoder does.
//
// One Tokenizer may be shared by threads: encode() only reads the tables, and
// its word cache is behind a mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace lr::driver {

// Every failure of the tokenizer: the message names the file (when there is
// one) and what is wrong with it, or the offending byte offset / token id.
class TokenizerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Tokenizer {
 public:
  // Reads tokenizer.json (model "BPE", byte-level; normalizer NFC or none;
  // pre-tokenizer Split(Regex, Isolated) and/or ByteLevel; merges as
  // ["a b", ...] or [["a", "b"], ...]; added_tokens). Anything else is refused
  // with a TokenizerError naming the file and the field.
  //
  // tokenizer_config_json_path gives eos_token / pad_token / bos_token (a
  // string, an {"content": ...} object, or null). When it is "", the
  // tokenizer_config.json beside tokenizer.json is read if there is one
  // (as Hugging Face's from_pretrained does for a folder); without one the
  // three ids are empty.
  static Tokenizer from_file(const std::string& tokenizer_json_path,
                             const std::string& tokenizer_config_json_path = "");

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;
  ~Tokenizer();

  // Text to ids. Invalid UTF-8 throws TokenizerError naming the byte offset.
  std::vector<int32_t> encode(std::string_view utf8) const;
  std::vector<std::vector<int32_t>> encode_batch(const std::vector<std::string>& texts) const;

  // Ids to text; skip_special_tokens drops the special added tokens (not the
  // non-special ones such as "<think>"). An id outside the vocabulary throws.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;

  // Largest id (vocabulary and added tokens) + 1; 151669 for Qwen3's files,
  // 151665 for Qwen2.5's. (The model's embedding may be larger: 151936.)
  int32_t vocab_size() const;

  // Added tokens first, then the vocabulary, whose keys are in byte-level
  // form ("Ġthe" for " the").
  std::optional<int32_t> token_to_id(std::string_view token) const;
  // The inverse (byte-level form for vocabulary tokens); throws for an unknown id.
  std::string id_to_token(int32_t id) const;

  std::optional<int32_t> eos_id() const;
  std::optional<int32_t> pad_id() const;
  std::optional<int32_t> bos_id() const;
  // True for added tokens marked "special" (e.g. <|endoftext|>, <|im_end|>).
  bool is_special(int32_t id) const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lr::driver
