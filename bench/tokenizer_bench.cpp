// Tokenizer throughput of lr_tokenizer on one thread: every question and
// answer of a GSM8K JSONL file, encoded one text at a time.
// bench/tokenizer_bench.mjs measures the JS implementation the same way;
// bench/run_tokenizer_bench.sh runs both and records the results.
//
//   lr_tokenizer_bench TOKENIZER_DIR GSM8K.jsonl [PASSES=5]
//
// Prints one line of key=value pairs:
//   impl, texts, tokens, checksum (of all ids, equal to the JS one when the
//   ids are identical), load_s, first_pass_s (cold word cache), median_s and
//   best_s over PASSES further passes, tokens_per_s (tokens / median_s).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::vector<std::string> read_texts(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<std::string> texts;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    for (const char* key : {"question", "answer"}) {
      if (j.contains(key)) texts.push_back(j.at(key).get<std::string>());
    }
  }
  return texts;
}

// Same as bench/tokenizer_bench.mjs: FNV-1a over the ids, as 32-bit words.
std::uint32_t checksum(std::uint32_t h, const std::vector<std::int32_t>& ids) {
  for (std::int32_t id : ids) {
    h ^= static_cast<std::uint32_t>(id);
    h *= 16777619u;
  }
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TOKENIZER_DIR GSM8K.jsonl [PASSES=5]\n", argv[0]);
    return 2;
  }
  try {
    const std::string dir = argv[1];
    const int passes = argc > 3 ? std::max(1, std::atoi(argv[3])) : 5;
    const std::vector<std::string> texts = read_texts(argv[2]);

    auto t0 = Clock::now();
    const auto tok = lr::driver::Tokenizer::from_file(dir + "/tokenizer.json", dir + "/tokenizer_config.json");
    const double load_s = seconds_since(t0);

    std::size_t tokens = 0;
    std::uint32_t sum = 2166136261u;
    t0 = Clock::now();
    for (const std::string& t : texts) {
      const auto ids = tok.encode(t);
      tokens += ids.size();
      sum = checksum(sum, ids);
    }
    const double first_s = seconds_since(t0);

    std::vector<double> times;
    std::size_t sink = 0;
    for (int p = 0; p < passes; ++p) {
      t0 = Clock::now();
      for (const std::string& t : texts) sink += tok.encode(t).size();
      times.push_back(seconds_since(t0));
    }
    if (sink != tokens * static_cast<std::size_t>(passes)) {
      std::fprintf(stderr, "token count changed between passes\n");
      return 1;
    }
    std::sort(times.begin(), times.end());
    const double median_s = times[times.size() / 2];
    std::printf(
        "impl=cpp texts=%zu tokens=%zu checksum=%08x load_s=%.3f first_pass_s=%.4f median_s=%.4f "
        "best_s=%.4f passes=%d tokens_per_s=%.0f\n",
        texts.size(), tokens, sum, load_s, first_s, median_s, times.front(), passes,
        static_cast<double>(tokens) / median_s);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lr_tokenizer_bench: %s\n", e.what());
    return 1;
  }
}
