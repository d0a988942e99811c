// The sample tests' shared fixture: tiny random Qwen2 checkpoints with
// different vocabulary sizes (expert 300, amateur 320) and a small byte-level
// tokenizer written here (296 ids), so shared = 296 and the padded rows of
// both models are dropped; kappa is set to the median KL of these models.
#pragma once

#include <gtest/gtest.h>

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "checkpoint/tiny_model.h"
#include "model/qwen2_model.h"
#include "prompt/chat_prompt.h"
#include "sample/problems.h"
#include "sample/sampler.h"
#include "sample/supervision_store.h"
#include "support/process_scratch.h"
#include "support/small_tokenizer.h"
#include "tokenizer.h"

namespace lr_sample_test {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace lr::driver;

inline const std::string kScratch = lrtest::process_scratch(LR_SAMPLE_TEST_SCRATCH);

inline constexpr int kTokenizerVocab = 296;
inline constexpr int kImEnd = 294;

using lr_test::byte_char;
using lr_test::small_tokenizer;

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

inline std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

class SampleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fs::remove_all(kScratch);  // each suite of one process sets up anew
    fs::create_directories(kScratch);
    problems_.clear();
    write_text(kScratch + "/tokenizer.json", small_tokenizer().dump());
    TinyModelOptions e;
    e.out_dir = kScratch + "/expert";
    e.layers = 2;
    e.hidden = 32;
    e.heads = 4;
    e.kv_heads = 2;
    e.vocab = 300;
    e.seed = 1;
    e.init_std = 0.6;  // peaked distributions: small supports, single-token labels
    write_tiny_qwen2(e);
    TinyModelOptions a = e;
    a.out_dir = kScratch + "/amateur";
    a.layers = 1;
    a.init_std = 0.3;
    a.vocab = 320;
    a.seed = 2;
    write_tiny_qwen2(a);
    tokenizer_ = new Tokenizer(Tokenizer::from_file(kScratch + "/tokenizer.json"));
    expert_ = new Qwen2Model(Qwen2Model::load(e.out_dir));
    amateur_ = new Qwen2Model(Qwen2Model::load(a.out_dir));
    const std::vector<std::string> qs = {
        "What is 2 + 3?",        "A train goes at 60 km/h for 2 hours. How far?",
        "tea in a tin at noon",  "Tom has 5 apples and eats 2.",
        "Add 17 and 25.",        "nine times ten, then one more",
        "Is 7 a prime number?"};
    for (size_t i = 0; i < qs.size(); ++i) problems_.push_back({static_cast<int64_t>(i), qs[i], std::to_string(i)});
    // kappa: the median KL of these models, so that about half the steps are kept.
    SampleOptions all = options();
    all.kl_threshold = -1.0f;
    run(all, kScratch + "/all.jsonl");
    std::vector<float> kls;
    for (const auto& r : read_supervision(kScratch + "/all.jsonl").records) kls.push_back(r.kl);
    std::sort(kls.begin(), kls.end());
    ASSERT_GE(kls.size(), 4u);
    kappa_ = 0.5f * (kls[kls.size() / 2] + kls[kls.size() / 2 + 1]);
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    delete expert_;
    delete amateur_;
  }

  static SampleOptions options() {
    SampleOptions o;
    o.max_new_tokens = 12;
    o.batch_size = 3;
    o.kl_threshold = kappa_;
    o.beta = 0.2f;
    o.k = 4;
    o.system_prompt = kDefaultSystemPrompt;
    o.stop_ids = {kImEnd};
    return o;
  }

  static std::string out(const std::string& name) { return kScratch + "/" + name; }
  static SampleStats run(const SampleOptions& o, const std::string& path) {
    return run_sampling(*expert_, *amateur_, *tokenizer_, problems_, o, path);
  }

  inline static Tokenizer* tokenizer_ = nullptr;
  inline static Qwen2Model* expert_ = nullptr;
  inline static Qwen2Model* amateur_ = nullptr;
  inline static std::vector<Problem> problems_;
  inline static float kappa_ = 0.4f;
};


}  // namespace lr_sample_test
