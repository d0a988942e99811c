// A small byte-level BPE tokenizer learnt from a corpus (see small_bpe.h).
#define PCRE2_CODE_UNIT_WIDTH 8
#include "small_bpe.h"

#include <pcre2.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "io/atomic_file.h"
#include "tokenizer.h"
#include "unicode.h"

namespace lr::driver {

const char* const kQwen2SplitRegex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

namespace {

using json = nlohmann::json;

constexpr int32_t kSpecialTokens = 3;
constexpr int32_t kMinVocab = 256 + kSpecialTokens;
constexpr int32_t kMaxVocab = 4096;  // the pair table is dense: 4096^2 counts

// GPT-2's bytes_to_unicode() (as in tokenizer.cpp): printable Latin-1 bytes
// stand for themselves, the other 68 for U+0100 onwards, in byte order.
std::array<std::string, 256> byte_level_chars() {
  std::array<std::string, 256> out;
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    append_utf8(out[size_t(b)], printable ? char32_t(b) : next++);
  }
  return out;
}

// Every piece of the texts as the tokenizer's Split step cuts them
// (matches and the gaps between them), with its count.
std::map<std::string, int64_t> piece_counts(const std::vector<std::string>& texts) {
  int err = 0;
  PCRE2_SIZE err_off = 0;
  std::unique_ptr<pcre2_code, decltype(&pcre2_code_free)> code(
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kQwen2SplitRegex), PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
                    &err, &err_off, nullptr),
      &pcre2_code_free);
  if (!code) throw TokenizerError("small BPE: the split regex does not compile");
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
      pcre2_match_data_create_from_pattern(code.get(), nullptr), &pcre2_match_data_free);
  std::map<std::string, int64_t> counts;
  for (const std::string& raw : texts) {
    if (first_invalid_utf8(raw)) continue;  // only valid text is learnt from
    const std::string text = nfc(raw);
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    PCRE2_SIZE start = 0, emitted = 0;
    while (start < text.size()) {
      const int rc = pcre2_match(code.get(), subject, text.size(), start, 0, md.get(), nullptr);
      if (rc < 0) break;
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
      if (ov[1] == ov[0]) {  // an empty match: step over one character
        char32_t cp = 0;
        start = ov[0] + decode_utf8(text, ov[0], &cp);
        continue;
      }
      if (ov[0] > emitted) ++counts[text.substr(emitted, ov[0] - emitted)];
      ++counts[text.substr(ov[0], ov[1] - ov[0])];
      emitted = start = ov[1];
    }
    if (emitted < text.size()) ++counts[text.substr(emitted)];
  }
  return counts;
}

// The words to learn from: symbol sequences with their counts, in the pieces' sorted order.
struct Word {
  std::vector<int32_t> symbols;
  int64_t count;
};

std::vector<Word> corpus_words(const std::vector<std::string>& texts) {
  std::vector<Word> words;
  for (const auto& [piece, count] : piece_counts(texts)) {
    Word w{{}, count};
    for (unsigned char c : piece) w.symbols.push_back(int32_t(c));
    if (w.symbols.size() > 1) words.push_back(std::move(w));
  }
  return words;
}

// The learnt vocabulary: byte-level strings by id, and the merges in order.
struct LearntBpe {
  std::vector<std::string> token_of;  // id -> byte-level string
  std::unordered_map<std::string, int32_t> id_of;
  json merges = json::array();
};

// Pair counts in a dense table (ids < n), reset through the touched list.
struct PairCounts {
  size_t n;
  std::vector<int64_t> count;
  std::vector<size_t> touched;
  explicit PairCounts(size_t n_ids) : n(n_ids), count(n_ids * n_ids, 0) {}

  // The most frequent pair (the smallest key among ties) as a * n + b, if one occurs twice.
  std::optional<size_t> best(const std::vector<Word>& words) {
    for (size_t t : touched) count[t] = 0;
    touched.clear();
    for (const Word& w : words)
      for (size_t i = 0; i + 1 < w.symbols.size(); ++i) {
        const size_t key = size_t(w.symbols[i]) * n + size_t(w.symbols[i + 1]);
        if (count[key] == 0) touched.push_back(key);
        count[key] += w.count;
      }
    size_t best_key = 0;
    int64_t best_count = 1;  // a pair must occur at least twice
    for (size_t t : touched)
      if (count[t] > best_count || (count[t] == best_count && best_count > 1 && t < best_key)) {
        best_key = t;
        best_count = count[t];
      }
    if (best_count < 2) return std::nullopt;
    return best_key;
  }
};

// Every (a, b) in the words becomes id; words left with one symbol are dropped.
void apply_merge(std::vector<Word>& words, int32_t a, int32_t b, int32_t id) {
  for (Word& w : words) {
    std::vector<int32_t>& s = w.symbols;
    size_t out = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
        s[out++] = id;
        ++i;
      } else {
        s[out++] = s[i];
      }
    }
    s.resize(out);
  }
  words.erase(std::remove_if(words.begin(), words.end(), [](const Word& w) { return w.symbols.size() < 2; }),
              words.end());
}

LearntBpe learn_bpe(const std::vector<std::string>& texts, int32_t max_tokens) {
  LearntBpe bpe;
  const std::array<std::string, 256> byte_char = byte_level_chars();
  for (int b = 0; b < 256; ++b) {
    bpe.token_of.push_back(byte_char[size_t(b)]);
    bpe.id_of.emplace(byte_char[size_t(b)], b);
  }
  std::vector<Word> words = corpus_words(texts);
  PairCounts pairs{static_cast<size_t>(max_tokens)};
  while (int32_t(bpe.token_of.size()) < max_tokens) {
    const std::optional<size_t> best = pairs.best(words);
    if (!best) break;
    const auto a = int32_t(*best / pairs.n), b = int32_t(*best % pairs.n);
    const std::string merged = bpe.token_of[size_t(a)] + bpe.token_of[size_t(b)];
    int32_t id;
    if (auto it = bpe.id_of.find(merged); it != bpe.id_of.end()) {
      id = it->second;  // the same string reached by another pair: one id
    } else {
      id = int32_t(bpe.token_of.size());
      bpe.token_of.push_back(merged);
      bpe.id_of.emplace(merged, id);
    }
    bpe.merges.push_back(json::array({bpe.token_of[size_t(a)], bpe.token_of[size_t(b)]}));
    apply_merge(words, a, b, id);
  }
  return bpe;
}

// tokenizer.json around the learnt vocabulary and merges.
json tokenizer_document(const LearntBpe& bpe) {
  json vocab = json::object();
  for (size_t id = 0; id < bpe.token_of.size(); ++id) vocab[bpe.token_of[id]] = int64_t(id);
  // The special tokens follow the last merged token: no gap in the ids when
  // the corpus has fewer pairs than the vocabulary has room for.
  const auto first_special = int32_t(bpe.token_of.size());
  json added = json::array();
  const char* specials[kSpecialTokens] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  for (int32_t i = 0; i < kSpecialTokens; ++i)
    added.push_back({{"id", first_special + i}, {"content", specials[i]}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  const json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false},
                           {"use_regex", false}};
  json root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  root["added_tokens"] = added;
  root["normalizer"] = {{"type", "NFC"}};
  root["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers", json::array({{{"type", "Split"},
                                      {"pattern", {{"Regex", kQwen2SplitRegex}}},
                                      {"behavior", "Isolated"},
                                      {"invert", false}},
                                     byte_level})}};
  root["post_processor"] = byte_level;
  root["decoder"] = byte_level;
  root["model"] = {{"type", "BPE"},          {"dropout", nullptr},        {"unk_token", nullptr},
                   {"continuing_subword_prefix", ""}, {"end_of_word_suffix", ""}, {"fuse_unk", false},
                   {"byte_fallback", false}, {"ignore_merges", false},   {"vocab", vocab},
                   {"merges", bpe.merges}};
  return root;
}

}  // namespace

std::string small_bpe_tokenizer_json(const std::vector<std::string>& texts, int32_t vocab_size) {
  if (vocab_size < kMinVocab || vocab_size > kMaxVocab)
    throw TokenizerError("small BPE: vocab_size " + std::to_string(vocab_size) + " is outside [" +
                         std::to_string(kMinVocab) + ", " + std::to_string(kMaxVocab) +
                         "] (256 bytes and 3 special tokens at least)");
  // Bytes and merged tokens fill the vocabulary but for the special tokens.
  return tokenizer_document(learn_bpe(texts, vocab_size - kSpecialTokens)).dump();
}

std::string small_bpe_tokenizer_config_json() {
  json c;
  c["tokenizer_class"] = "Qwen2Tokenizer";
  c["bos_token"] = nullptr;
  c["eos_token"] = "<|im_end|>";
  c["pad_token"] = "<|endoftext|>";
  c["model_max_length"] = 32768;
  c["clean_up_tokenization_spaces"] = false;
  c["split_special_tokens"] = false;
  return c.dump(2) + "\n";
}

void write_small_bpe_tokenizer(const std::string& dir, const std::vector<std::string>& texts, int32_t vocab_size) {
  const std::string tokenizer = small_bpe_tokenizer_json(texts, vocab_size);
  std::filesystem::create_directories(dir);
  write_file_atomically((std::filesystem::path(dir) / "tokenizer_config.json").string(), small_bpe_tokenizer_config_json());
  write_file_atomically((std::filesystem::path(dir) / "tokenizer.json").string(), tokenizer);
}

}  // namespace lr::driver
