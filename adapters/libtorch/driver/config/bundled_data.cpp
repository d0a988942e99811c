#include "bundled_data.h"

#include <cstdlib>

#ifndef LR_BUNDLED_DATA_DIR
#define LR_BUNDLED_DATA_DIR "bench/data"
#endif

namespace lr::driver {
namespace config_internal {
namespace {

const BundledSet kBundled[] = {
    {"gsm8k", "gsm8k/test.jsonl", "question", "answer", "", ""},
    {"svamp", "eval/svamp/test.jsonl", "Question", "Answer", "Body", ""},
    {"asdiv", "eval/asdiv/test.jsonl", "question", "answer", "body", ""},
    {"minerva_math", "eval/minerva_math/test.jsonl", "problem", "solution", "", ""},
    {"olympiadbench", "eval/olympiadbench/test.jsonl", "question", "final_answer", "", ""},
    {"mmlu_stem", "eval/mmlu_stem/test.jsonl", "question", "answer", "", "choices"},
};

}  // namespace

const BundledSet* find_bundled(const std::string& name) {
  for (const auto& b : kBundled)
    if (name == b.name) return &b;
  return nullptr;
}

EvalDataset bundled_dataset(const BundledSet& set) {
  EvalDataset d;
  d.name = set.name;
  d.question_field = set.question;
  d.answer_field = set.answer;
  d.context_field = set.context;
  d.choices_field = set.choices;
  return d;
}

std::string bundled_names() {
  std::string s;
  for (const auto& b : kBundled) s += (s.empty() ? "" : ", ") + std::string(b.name);
  return s;
}

std::string default_bundled_dir() {
  if (const char* env = std::getenv("LR_DATA_DIR"); env && *env) return env;
  return LR_BUNDLED_DATA_DIR;
}

}  // namespace config_internal

const std::vector<std::string>& bundled_eval_datasets() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& b : config_internal::kBundled) v.push_back(b.name);
    return v;
  }();
  return names;
}

}  // namespace lr::driver
