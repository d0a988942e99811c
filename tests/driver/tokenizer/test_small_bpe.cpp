// The small byte-level BPE tokenizer the tiny models of the smoke run use
// (tokenizer/small_bpe.h): it loads as a Qwen-style tokenizer.json, encodes
// any text losslessly, puts the ChatML tokens last, compresses GSM8K text
// (about 2.3 bytes per token on GSM8K: digits stay single, as in Qwen), and
// is the same for the same corpus.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "small_bpe.h"
#include "tokenizer.h"

namespace {

using lr::driver::Tokenizer;
using nlohmann::json;
namespace fs = std::filesystem;

std::vector<std::string> gsm8k_texts(size_t n) {
  std::ifstream in(std::string(LR_GSM8K_DIR) + "/train.jsonl");
  std::vector<std::string> out;
  std::string line;
  while (out.size() < 2 * n && std::getline(in, line)) {
    const json j = json::parse(line);
    out.push_back(j.at("question").get<std::string>());
    out.push_back(j.at("answer").get<std::string>());
  }
  return out;
}

class SmallBpe : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(std::string(LR_SMALL_BPE_SCRATCH) + "/tok");
    fs::remove_all(*dir_);
    corpus_ = new std::vector<std::string>(gsm8k_texts(1500));
    ASSERT_EQ(corpus_->size(), 3000u);
    lr::driver::write_small_bpe_tokenizer(*dir_, *corpus_, 1024);
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete corpus_;
  }
  static Tokenizer load() { return Tokenizer::from_file(*dir_ + "/tokenizer.json"); }
  static std::string* dir_;
  static std::vector<std::string>* corpus_;
};
std::string* SmallBpe::dir_ = nullptr;
std::vector<std::string>* SmallBpe::corpus_ = nullptr;

TEST_F(SmallBpe, LoadsWithTheChatTokensLast) {
  const Tokenizer t = load();
  EXPECT_EQ(t.vocab_size(), 1024);
  EXPECT_EQ(t.token_to_id("<|endoftext|>"), 1021);
  EXPECT_EQ(t.token_to_id("<|im_start|>"), 1022);
  EXPECT_EQ(t.token_to_id("<|im_end|>"), 1023);
  EXPECT_EQ(t.eos_id(), 1023);
  EXPECT_EQ(t.pad_id(), 1021);
  EXPECT_FALSE(t.bos_id().has_value());
  EXPECT_TRUE(t.is_special(1023));
  // Every id below the specials is a real token (the merges filled the vocabulary).
  for (int32_t id = 0; id < 1021; ++id) EXPECT_NO_THROW(t.id_to_token(id)) << id;
}

TEST_F(SmallBpe, EncodesAnyTextLosslessly) {
  const Tokenizer t = load();
  const std::vector<std::string> texts = {
      "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.",
      "<|im_start|>system\nPlease reason step by step.<|im_end|>\n<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n",
      "Unicode: café, naïve, 日本語, emoji 🙂, tabs\tand\r\nnewlines  ", "", "\\boxed{\\frac{1}{2}}"};
  for (const std::string& s : texts) {
    const std::vector<int32_t> ids = t.encode(s);
    for (int32_t id : ids) EXPECT_LT(id, 1024);
    EXPECT_EQ(t.decode(ids), s);
  }
  // The ChatML markers are single tokens.
  const std::vector<int32_t> ids = t.encode("<|im_start|>user<|im_end|>");
  EXPECT_EQ(ids.front(), 1022);
  EXPECT_EQ(ids.back(), 1023);
}

TEST_F(SmallBpe, CompressesTheTextItLearntFrom) {
  const Tokenizer t = load();
  size_t bytes = 0, tokens = 0;
  for (size_t i = 0; i < 400; ++i) {
    bytes += (*corpus_)[i].size();
    tokens += t.encode((*corpus_)[i]).size();
  }
  EXPECT_GT(double(bytes) / double(tokens), 2.0) << bytes << " bytes, " << tokens << " tokens";
}

TEST_F(SmallBpe, SameCorpusSameFile) {
  std::ifstream in(*dir_ + "/tokenizer.json");
  const std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(lr::driver::small_bpe_tokenizer_json(*corpus_, 1024), written);
}

TEST_F(SmallBpe, SmallVocabulariesAndRefusals) {
  const std::string small = lr::driver::small_bpe_tokenizer_json({"aaaa bbbb aaaa"}, 262);
  const json j = json::parse(small);
  EXPECT_EQ(j["model"]["merges"].size(), 3u);  // 256..258 merged tokens, then 3 specials
  EXPECT_EQ(j["added_tokens"][0]["id"], 259);
  // No pair occurs twice: no merges, the bytes and the specials only, with no gap.
  const json none = json::parse(lr::driver::small_bpe_tokenizer_json({"ab"}, 300));
  EXPECT_EQ(none["model"]["merges"].size(), 0u);
  EXPECT_EQ(none["added_tokens"][0]["id"], 256);
  EXPECT_EQ(none["added_tokens"][2]["id"], 258);
  EXPECT_THROW(lr::driver::small_bpe_tokenizer_json({"x"}, 258), lr::driver::TokenizerError);
  EXPECT_THROW(lr::driver::small_bpe_tokenizer_json({"x"}, 5000), lr::driver::TokenizerError);
}

}  // namespace
