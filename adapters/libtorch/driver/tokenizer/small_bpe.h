// A small byte-level BPE tokenizer learnt from a text corpus: the tokenizer
// the tiny random models of the smoke run use when no real one is given
// ([models.tiny] tokenizer = "" in the experiment config), so that a fresh
// machine with no network runs every stage.
//
// The files are in Hugging Face's format and have the same structure as
// Qwen2.5's: Qwen2's pre-tokenizer (the Split regex, then ByteLevel), NFC,
// the 256 byte tokens as ids 0..255, the learnt merges from 256 on, and the
// three ChatML special tokens last: <|endoftext|>, <|im_start|>, <|im_end|>
// (vocab_size - 3, - 2, - 1 when the corpus fills the vocabulary; right after
// the last merged token otherwise, so the ids have no gap). tokenizer_config.json names <|im_end|> as eos
// and <|endoftext|> as pad, as Qwen2.5's instruct models do.
//
// Training is classic BPE: the corpus is split into pieces with the same regex
// the tokenizer applies, and the most frequent adjacent pair of symbols (ties:
// the smallest pair of ids) is merged until the vocabulary is full or no pair
// occurs twice. The result depends only on the texts and vocab_size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lr::driver {

// The Qwen2 / Qwen2.5 pre-tokenizer regex (tokenizer.json's Split pattern).
extern const char* const kQwen2SplitRegex;

// tokenizer.json's text. vocab_size: every id, special tokens included, at most
// (259 to 4096: the bytes and the three special tokens at least; a small
// tokenizer). Throws TokenizerError for a vocab_size outside that range.
std::string small_bpe_tokenizer_json(const std::vector<std::string>& texts, int32_t vocab_size);

// tokenizer_config.json's text (eos <|im_end|>, pad <|endoftext|>, no bos).
std::string small_bpe_tokenizer_config_json();

// Writes DIR/tokenizer.json and DIR/tokenizer_config.json (each atomically:
// a temporary file renamed over the name), creating DIR.
void write_small_bpe_tokenizer(const std::string& dir, const std::vector<std::string>& texts, int32_t vocab_size);

}  // namespace lr::driver
