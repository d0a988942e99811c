// Issue 15's resource bounds, checked on inputs too large for the fuzzer's
// inputs (4 KB): JSON nested 100,000 deep is refused by each reader with a
// one-line error naming the bound, before anything copies or prints it; a
// TOML config with a million unknown keys lists 20 and counts the rest; a
// tokenizer.json id near 2^31 (the id tables would take ~64 GB) is refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "checkpoint/safetensors.h"
#include "config/config_reader.h"
#include "config/experiment_config.h"
#include "evaluate/results_file.h"
#include "io/json_depth.h"
#include "io/json_files.h"
#include "io/settings_file.h"
#include "sample/problems.h"
#include "scratch_files.h"
#include "tokenizer/tokenizer.h"

namespace {

using namespace lr::driver;

std::string nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

template <class Error, class Read>
void expect_depth_error(Read read) {
  try {
    read();
    ADD_FAILURE() << "accepted JSON nested 100000 deep";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("nested deeper than 512 levels"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

TEST(JsonDepthBound, CountsBracketsOutsideStrings) {
  EXPECT_FALSE(json_too_deep(nested(kMaxJsonDepth)));
  EXPECT_TRUE(json_too_deep(nested(kMaxJsonDepth + 1)));
  EXPECT_TRUE(json_too_deep("{\"a\":" + nested(kMaxJsonDepth) + "}"));
  EXPECT_FALSE(json_too_deep("[\"" + std::string(1000, '[') + "\"]"));
  EXPECT_FALSE(json_too_deep("[\"\\\"" + std::string(1000, '{') + "\"]"));  // an escaped quote stays inside
}

TEST(JsonDepthBound, SafetensorsHeader) {
  const std::string header = "{\"t\":{\"dtype\":\"F32\",\"shape\":" + nested(100000) + ",\"data_offsets\":[0,4]}}";
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[i] = char((header.size() >> (8 * i)) & 0xFF);
  const std::string path = lr::fuzz::write_scratch("deep.safetensors", file + header + std::string(4, '\0'));
  expect_depth_error<CheckpointError>([&] { SafetensorsFile::open(path); });
}

TEST(JsonDepthBound, ResultsAndProblemsLines) {
  const std::string path =
      lr::fuzz::write_scratch("deep.jsonl", "{\"id\":0,\"question\":" + nested(100000) + "}\n{\"id\":1}\n");
  expect_depth_error<ResultsFileError>([&] { read_result_lines(path); });
  expect_depth_error<ProblemsError>([&] { read_problems(path); });
}

TEST(JsonDepthBound, TokenizerJson) {
  const std::string path = lr::fuzz::write_scratch("tokenizer.json", "{\"model\":" + nested(100000) + "}");
  expect_depth_error<TokenizerError>([&] { Tokenizer::from_file(path, path); });
}

// A stage's resume state (settings.json, summaries, inputs.json): nested
// objects 100,000 deep once crashed settings_difference (a recursive print).
TEST(JsonDepthBound, SettingsAndRunStateFiles) {
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "{\"a\":";
  deep += "1" + std::string(100000, '}');
  const std::string path = lr::fuzz::write_scratch("settings.json", deep);
  expect_depth_error<std::runtime_error>([&] { read_settings(lr::fuzz::scratch_dir()); });
  EXPECT_FALSE(read_json_file(path).has_value());  // lenient: as a file not written yet
  lr::fuzz::write_scratch("settings.json", "{\"a\":{\"b\":[1,2]}}");
  const auto settings = read_settings(lr::fuzz::scratch_dir());
  ASSERT_TRUE(settings.has_value());
  EXPECT_EQ(settings_difference(*settings, nlohmann::json::parse("{\"a\":{\"b\":[1,3]}}")),
            std::optional<std::string>("a.b: then [1,2], now [1,3]"));
  EXPECT_EQ(read_json_file(path), settings);
  lr::fuzz::remove_scratch("settings.json");
}

TEST(TokenizerIdBound, HugeOrSharedIdsRefused) {
  const std::string dir = std::string(LR_FUZZ_SOURCE_DIR) + "/regressions/tokenizer_load/";
  for (const char* name : {"vocab-id-2147483000", "added-token-id-2147483000", "added-token-id-float-2.8e133"}) {
    try {
      Tokenizer::from_file(dir + name, dir + name);
      ADD_FAILURE() << name << " accepted";
    } catch (const TokenizerError& e) {
      EXPECT_NE(std::string(e.what()).find("in [0, 4194303]"), std::string::npos) << e.what();
    }
  }
  try {
    Tokenizer::from_file(dir + "two-tokens-one-id", dir + "two-tokens-one-id");
    ADD_FAILURE() << "two tokens with one id accepted";
  } catch (const TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find("id 5 is given to two tokens"), std::string::npos) << e.what();
  }
}

size_t line_count(const std::string& s) { return size_t(std::count(s.begin(), s.end(), '\n')) + 1; }

TEST(ConfigErrorBound, MillionUnknownKeysListTwentyAndCountTheRest) {
  size_t empty_problems = 0;  // an empty config's own (the required keys), each on its line
  try {
    load_config(lr::fuzz::write_scratch("empty.toml", ""));
  } catch (const ConfigError& e) {
    empty_problems = line_count(e.what());
  }
  std::string toml;
  for (int i = 0; i < 1000000; ++i) toml += "k" + std::to_string(i) + " = 1\n";
  const std::string path = lr::fuzz::write_scratch("million.toml", toml);
  try {
    load_config(path);
    ADD_FAILURE() << "a million unknown keys accepted";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    const size_t listed = config_internal::kMaxReportedConfigErrors;
    EXPECT_EQ(line_count(what), listed + 1) << what.substr(0, 2000);
    const std::string more = "(and " + std::to_string(1000000 + empty_problems - listed) + " more problems)";
    EXPECT_NE(what.find(more), std::string::npos) << more << " vs " << what.substr(what.size() - 100);
  }
}

}  // namespace
